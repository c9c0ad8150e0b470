"""A W&B Report as the data ``save()`` sends, built and read back offline: every private wandb-workspaces call.

wandb-workspaces builds a Report as pydantic models: ``Report._to_model()``
is the view spec that ``Report.save()`` uploads, and ``Report._from_model()``
reads one back. Building it asks the server one thing here: the internal id
of the project a runset is pinned to (the other look-up, the default entity,
is never made, since the entity is always given). ``to_spec`` answers it
with a placeholder, names it under ``unresolved``, and refuses any other
server call. This module is the only user of the package's private members
(tests/test_structure.py); tests/test_wandb_spec.py checks each one.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any
from unittest import mock

from wandb_workspaces.reports.v2 import Report, gql, interface, internal

UNRESOLVED_PROJECT_ID = "UNRESOLVED-project-id"
UNRESOLVED = "unresolved"
VIEWSPEC = "viewspec"


class NetworkCall(RuntimeError):
    """The build asked the server for something ``to_spec`` does not answer."""


@contextmanager
def offline_lookups(asked: list[str]) -> Iterator[None]:
    """The server's look-ups during a build answered here: a project's id with a placeholder, others refused."""

    def answer(_api: Any, query: Any, variables: Mapping[str, Any]) -> dict[str, Any]:
        if query is not gql.projectInternalId:
            raise NetworkCall(f"building the report asked the server something unexpected ({variables})")
        asked.append(f"{variables['entityName']}/{variables['projectName']}")
        return {"project": {"internalId": UNRESOLVED_PROJECT_ID}}

    def no_api() -> None:
        return None

    with mock.patch.object(interface, "execute_graphql", answer), mock.patch.object(interface, "_get_api", no_api):
        yield


def to_spec(report: Report) -> dict[str, Any]:
    """What ``report.save()`` would send (the view spec), with no network call, and what it leaves unresolved."""
    asked: list[str] = []
    with offline_lookups(asked):
        model = report._to_model()
    unresolved = {"report id": "given by the server when save() first stores the report"}
    if asked:
        unresolved["project id"] = (f"{UNRESOLVED_PROJECT_ID} stands for the internal id of "
                                    f"{', '.join(sorted(set(asked)))}, looked up by save()")
    return {UNRESOLVED: unresolved, VIEWSPEC: model.model_dump(mode="json", by_alias=True, exclude_none=True)}


def from_spec(spec: Mapping[str, Any]) -> Report:
    """The Report a spec of ``to_spec`` describes, as wandb-workspaces reads a saved one back."""
    return Report._from_model(internal.ReportViewspec.model_validate(spec[VIEWSPEC]))


def grid_runsets(spec: Mapping[str, Any]) -> list[list[dict[str, Any]]]:
    """The runsets of each panel grid of the spec, grid by grid, as sent (``filters`` in W&B's filterV2 form)."""
    return [block["metadata"]["runSets"] for block in spec[VIEWSPEC]["spec"]["blocks"]
            if block.get("type") == "panel-grid"]


def selects(filters: Mapping[str, Any], run: Mapping[str, Any], config: Mapping[str, Any]) -> bool:
    """Whether a runset's filterV2 ``filters`` select a W&B run with attributes ``run`` (``group``,
    ``jobType``...) and ``config``. Equality and inequality joined by AND only; anything else is an error."""
    for leaf in filters["filters"]:
        if leaf.get("disabled"):
            continue
        if leaf.get("connector", "AND") != "AND" or leaf["op"] not in ("=", "!="):
            raise ValueError(f"filter {leaf} is beyond what this check reads")
        section, name = leaf["key"]["section"], leaf["key"]["name"]
        values = run if section == "run" else config if section == "config" else None
        if values is None:
            raise ValueError(f"filter section {section!r} is beyond what this check reads")
        if (values.get(name) == leaf["value"]) != (leaf["op"] == "="):
            return False
    return True
