"""Contract tests of the private wandb-workspaces members analysis/view_spec.py uses, each by name.

When a release moves one, the test naming it fails here, not a report at publishing time.
"""

from __future__ import annotations

import socket

import pytest

pytest.importorskip("wandb_workspaces")

import wandb_workspaces.reports.v2 as wr
from wandb_workspaces.reports.v2 import gql, interface

from analysis.wandb_report import view_spec


def pinned_report() -> wr.Report:
    runs = wr.Runset(entity="demo", project="proj", name="trials", filters="Metric('Group') == 'q1/1'")
    return wr.Report(entity="demo", project="proj", title="t",
                     blocks=[wr.H2("h"), wr.PanelGrid(runsets=[runs], panels=[wr.LinePlot(y=[wr.Metric("a")])])])


@pytest.fixture
def no_network(monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("a network connection was attempted")

    monkeypatch.setattr(socket.socket, "connect", refuse)


@pytest.mark.parametrize("member", ["_to_model", "_from_model"])
def test_report_has_its_model_methods(member):
    assert callable(getattr(wr.Report, member, None)), f"wandb_workspaces Report.{member} moved"


@pytest.mark.parametrize("member", ["execute_graphql", "_get_api"])
def test_the_report_module_looks_up_through(member):
    assert callable(getattr(interface, member, None)), f"wandb_workspaces.reports.v2.interface.{member} moved"
    assert hasattr(gql, "projectInternalId"), "wandb_workspaces.reports.v2.gql.projectInternalId moved"


def test_a_pinned_runset_s_project_id_is_the_one_look_up_and_it_is_answered_offline(no_network):
    spec = view_spec.to_spec(pinned_report())
    (runset,), = view_spec.grid_runsets(spec)
    assert runset["project"] == {"entityName": "demo", "name": "proj", "id": view_spec.UNRESOLVED_PROJECT_ID}
    assert "demo/proj" in spec[view_spec.UNRESOLVED]["project id"]


def test_any_other_server_call_during_a_build_is_refused():
    with view_spec.offline_lookups([]), pytest.raises(view_spec.NetworkCall):
        interface.execute_graphql(interface._get_api(), gql.upsert_view, {})


def test_the_spec_reads_back_into_the_same_report(no_network):
    spec = view_spec.to_spec(pinned_report())
    back = view_spec.from_spec(spec)
    assert (back.entity, back.project, back.title) == ("demo", "proj", "t")
    assert [type(b).__name__ for b in back.blocks] == ["H2", "PanelGrid"]
    assert view_spec.to_spec(back) == spec


def test_filters_beyond_equality_are_not_guessed():
    filters = {"filters": [{"key": {"section": "run", "name": "group"}, "op": ">=", "value": "a"}]}
    with pytest.raises(ValueError, match="beyond"):
        view_spec.selects(filters, {"group": "b"}, {})
