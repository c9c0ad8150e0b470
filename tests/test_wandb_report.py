"""The W&B Report of a run, built and checked offline: panels in order, from the task's declarations, on data.

A q1 run with known answers (tests/fakerun.py) gets its static report, then
the W&B runs it would have logged are made here from its own trials, so every
check of the spec (what each runset selects, which keys each panel plots)
runs without wandb writing anything. tests/test_wandb_offline.py does the
same on the runs a real study logs.
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
from pathlib import Path

import pytest

pytest.importorskip("wandb_workspaces")

import wandb_workspaces.reports.v2 as wr

from analysis.report.build import finish_run
from analysis.runs.read import read_run
from analysis.wandb_report import publish as W
from analysis.wandb_report import view_spec
from analysis.wandb_report.records import MEDIA_TYPE, Logged
from tests.fakerun import q1_run
from trainables.common import metrics as M
from trainables.common import provenance
from trainables.common.layout import CONFIG_PREFIX, PLOTS_DIR
from trainables.common.tracking import REPORT_JOB, TRIAL_JOB

SNAPSHOT = Path(__file__).parent / "snapshots" / "wandb_report_q1.json"
GROUP = "q1/2026-01-02_03-04-05"
OTHER = "q1/2026-01-02_09-09-09"  # another run of the same name


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    path = q1_run(tmp_path_factory.mktemp("wb") / "q1" / GROUP.split("/")[1])
    finish_run(path, quiet=True)  # before W&B is recorded, so nothing is logged
    provenance.update(path, wandb={"project": "proj", "entity": None, "group": GROUP, "mode": "offline"})
    return path


def logged_like(run_dir: Path, group: str = GROUP) -> list[Logged]:
    """The W&B runs a study logs: one a trial (its config, every report, the last as summary), and the report's."""
    run = read_run(run_dir)
    out = []
    for trial in run.trials.to_dict("records"):
        rows = run.history[run.history["trial_id"] == trial["trial_id"]].to_dict("records")
        history = [{k: v for k, v in r.items() if not (isinstance(v, float) and math.isnan(v))} for r in rows]
        config = {k.removeprefix(CONFIG_PREFIX): v for k, v in trial.items() if k.startswith(CONFIG_PREFIX)}
        out.append(Logged(Path("."), f"{group}-{trial['trial_id']}", group, TRIAL_JOB, "proj", config, history,
                          {k: v for r in history for k, v in r.items()}))
    media = {W.media_key(p) + MEDIA_TYPE: "image-file" for p in (run_dir / PLOTS_DIR).glob("*.png")}
    return out + [Logged(Path("."), f"{group}-report", group, REPORT_JOB, "proj", history=[media])]


def spec_of(run_dir: Path, group: str = GROUP) -> dict:
    return view_spec.to_spec(W.build(read_run(run_dir), W.Where("demo", "proj", group)))


def test_the_report_opens_with_the_answers_and_follows_the_static_report_s_order(run_dir):
    report = W.build(read_run(run_dir), W.Where("demo", "proj", GROUP))
    kinds = [type(b).__name__ for b in report.blocks]
    assert kinds == ["MarkdownBlock", "MarkdownBlock", "PanelGrid", "MarkdownBlock", "H2", "P", "PanelGrid",
                     "H2", "PanelGrid"]
    summary, margins, forest, table = report.blocks[:4]
    assert summary.text.startswith("## Summary") and "| claim | verdict | in words |" in summary.text
    assert "1% of the persistence forecast's test MAPE" in margins.text
    assert forest.panels[0].media_keys == ["plots/comparisons"]
    assert table.text.startswith("## ") and "persistence" in table.text  # a declared table with its baseline row
    plots = report.blocks[-1].panels[0].media_keys
    assert "plots/comparisons" not in plots and "plots/learning_curves" in plots


def test_learning_curves_are_one_line_a_arm_with_a_band_over_seeds(run_dir):
    report = W.build(read_run(run_dir), W.Where("demo", "proj", GROUP))
    grid = report.blocks[6]
    assert grid.runsets[0].groupby == ["config.cell"]  # the arms of this run: the cell (the seed aside)
    titles = [p.title for p in grid.panels]
    assert titles[0] == M.VAL_MAPE and {M.TRAIN_LOSS, M.VAL_LOSS, M.VAL_RMSE} <= set(titles)
    assert not any("*" in t for t in titles)
    assert all((p.groupby_aggfunc, p.groupby_rangefunc) == ("mean", "stddev") for p in grid.panels)
    assert all(p.x == wr.Metric(M.EPOCH) for p in grid.panels)


def test_only_numeric_metrics_become_curves(run_dir):
    precision = M.TRAIN_PRECISION  # q2 reports it every epoch, as a word ("float32", "bfloat16")
    run = read_run(run_dir)
    task = run.task
    run = dataclasses.replace(run, history=run.history.assign(**{precision: "float32"}))
    run.__dict__["task"] = dataclasses.replace(
        task, schema=dataclasses.replace(task.schema, epoch=(*task.schema.epoch, precision)))
    assert precision in run.task.schema.epoch
    assert M.VAL_LOSS in W.curve_metrics(run) and precision not in W.curve_metrics(run)


def test_a_search_adds_parallel_coordinates_and_the_metric_by_trial_order(run_dir, tmp_path):
    info = json.loads((run_dir / "study.json").read_text())
    (run_dir / "study.json").write_text(json.dumps({**info, "search": "optuna"}))
    try:
        report = W.build(read_run(run_dir), W.Where("demo", "proj", GROUP))
    finally:
        (run_dir / "study.json").write_text(json.dumps(info))
    at = next(i for i, b in enumerate(report.blocks) if isinstance(b, wr.H2) and b.text == "Search")
    parallel, scatter = report.blocks[at + 2].panels
    assert [c.metric for c in parallel.columns] == [wr.Config("cell"), wr.SummaryMetric(M.VAL_MAPE)]
    assert (scatter.x, scatter.y) == (wr.Metric(W.TRIAL_ORDER), wr.SummaryMetric(M.VAL_MAPE))
    assert report.blocks[at - 1].runsets[0].groupby == []  # a search's curves: one line a trial


def test_the_spec_round_trips_and_names_what_it_leaves_unresolved(run_dir):
    spec = spec_of(run_dir)
    assert view_spec.to_spec(view_spec.from_spec(spec)) == spec
    assert "demo/proj" in spec["unresolved"]["project id"] and "report id" in spec["unresolved"]
    assert spec["viewspec"]["project"] == {"entityName": "demo", "name": "proj"}
    for runset in [rs for sets in view_spec.grid_runsets(spec) for rs in sets]:
        assert runset["project"] == {"entityName": "demo", "name": "proj", "id": view_spec.UNRESOLVED_PROJECT_ID}


def test_every_runset_selects_exactly_this_run_s_runs_not_another_run_of_the_same_name(run_dir):
    mine, other = logged_like(run_dir), logged_like(run_dir, OTHER)
    selected = W.selected(spec_of(run_dir), mine + other)
    trial_ids = {r.run_id for r in mine if r.job_type == TRIAL_JOB}
    assert [{r.run_id for r in runs} for runs in selected] == [{f"{GROUP}-report"}, trial_ids, {f"{GROUP}-report"}]
    assert W.missing_keys(spec_of(run_dir), mine + other) == []
    assert W.missing_keys(spec_of(run_dir), other) != []  # the other run's runs are nothing to this report
    elsewhere = view_spec.to_spec(W.build(read_run(run_dir), W.Where("demo", "another-project", GROUP)))
    assert W.selected(elsewhere, mine) == [[], [], []]  # runs logged to one project are not in another's report


def test_a_group_name_with_quotes_is_selected_exactly():
    group = "q'1\" or Metric('Group') == 'x/1"
    spec = view_spec.to_spec(wr.Report(entity="demo", project="proj", blocks=[
        W.Where("demo", "proj", group).grid(TRIAL_JOB, [wr.LinePlot(y=[wr.Metric(M.VAL_LOSS)])])]))
    (runset,), = view_spec.grid_runsets(spec)
    assert view_spec.selects(runset["filters"], {"group": group, "jobType": TRIAL_JOB}, {})
    assert not view_spec.selects(runset["filters"], {"group": "x/1", "jobType": TRIAL_JOB}, {})


@pytest.mark.parametrize("planted", [wr.LinePlot(title="planted", x=wr.Metric(M.EPOCH), y=[wr.Metric("val/nothing")]),
                                     wr.LinePlot(title="planted", x=wr.Metric(M.EPOCH), y=[wr.Metric("note")]),
                                     wr.ScatterPlot(title="planted", x=wr.Config("nothing"), y=wr.SummaryMetric(
                                         M.VAL_MAPE)),
                                     wr.MediaBrowser(title="planted", media_keys=["plots/nothing"])])
def test_a_panel_on_a_key_no_run_logged_fails_the_check(run_dir, planted):
    report = W.build(read_run(run_dir), W.Where("demo", "proj", GROUP))
    grid = report.blocks[6] if not isinstance(planted, wr.MediaBrowser) else report.blocks[-1]
    grid.panels.append(planted)
    logged = logged_like(run_dir)
    for r in logged:
        for row in r.history:
            row["note"] = "float32"  # logged every epoch, but a word: no line to draw
    problems = W.missing_keys(view_spec.to_spec(report), logged)
    assert len(problems) == 1 and problems[0].startswith("planted: no run of")


def test_the_spec_matches_its_snapshot(run_dir):
    """What the report sends, random ids aside: a change to it shows in review.
    ``UPDATE_SNAPSHOTS=1 python -m pytest tests/test_wandb_report.py`` rewrites it."""
    spec = strip_ids(spec_of(run_dir))
    text = json.dumps(spec, indent=1, sort_keys=True) + "\n"
    if os.environ.get("UPDATE_SNAPSHOTS"):
        SNAPSHOT.parent.mkdir(exist_ok=True)
        SNAPSHOT.write_text(text)
    assert json.loads(SNAPSHOT.read_text()) == spec


def strip_ids(value):
    """``value`` without the ids wandb-workspaces draws at random for each runset and panel, and with each text
    block cut to its first line (the static report's own tests check its text)."""
    if isinstance(value, dict) and value.get("type") == "markdown-block":
        value = {**value, "content": value["content"].split("\n")[0]}
    if isinstance(value, dict):
        return {k: strip_ids(v) for k, v in value.items() if k not in ("id", "__id__", "ref")}
    if isinstance(value, list):
        return [strip_ids(v) for v in value]
    return value
