"""Weights & Biases: the run's final plots and tables, and a W&B Report that shows exactly this run.

``log_final`` adds one W&B run (job type ``report``) to the study run's W&B
group with the plots, tables and claims, online or offline like the trials.
``build`` makes the W&B Report of a run from what its task declares, in the
order of the static report: the summary (verdicts in words, margins) and the
forest plot; the task's tables; learning curves of every numeric metric the
schema records each epoch, one line an arm with a band over seeds (W&B's
grouping by the settings that vary); for a search, the searched settings in
parallel coordinates and the selection metric against trial order; the run's
plots. Every panel reads runs of the run's own W&B group (``NAME/RUN_ID``,
from provenance.json). ``python -m analysis wandb-report`` saves it, or with
``--dry-run`` writes the spec ``save()`` would send, checked against the runs
logged offline in the run folder, with no network.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
import wandb_workspaces.reports.v2 as wr

from analysis.runs.read import Run, read_run
from analysis.wandb_report import view_spec
from analysis.wandb_report.records import Logged, logged_runs
from trainables.common import metrics as M
from trainables.common import provenance
from trainables.common.layout import CLAIMS_MD, COMPARISONS, CONFIG_PREFIX, PLOTS_DIR, SUMMARY, TABLES_DIR
from trainables.common.tracking import REPORT_JOB, TRIAL_JOB, choose_mode

TRIAL_ORDER = "CreatedTimestamp"  # W&B's run attribute: when a trial's run started, i.e. trial order
RUN_ATTRIBUTES = (TRIAL_ORDER, "Step")  # what W&B knows of every run, logged or not
BAND = {"groupby_aggfunc": "mean", "groupby_rangefunc": "stddev"}  # one line an arm: mean, ± std over seeds
DESIGNS = ("grid", "smoke")  # study.json's "search" for runs of a design; any other value is a search


def media_key(plot: Path) -> str:
    """The key a plot is logged under in the report run, and shown by: ``plots/<stem>``."""
    return f"{PLOTS_DIR}/{plot.stem}"


def report_tables(run_dir: Path) -> dict[str, pd.DataFrame]:
    return {p.stem: pd.read_csv(p) for p in sorted((run_dir / TABLES_DIR).glob("*.csv"))}


def log_final(run_dir: str | Path, info: dict[str, Any]) -> str:
    """Log plots/*.png, tables/*.csv and claims.md as one extra run of the study run's group; its folder."""
    import wandb

    run_dir = Path(run_dir)
    claims = run_dir / CLAIMS_MD
    entity = {"entity": info["entity"]} if info.get("entity") else {}
    run = wandb.init(project=info["project"], group=info["group"], name=f"{info['group']} {REPORT_JOB}",
                     job_type=REPORT_JOB, mode=info.get("mode", "offline"), dir=str(run_dir), **entity)
    try:
        images = {media_key(p): wandb.Image(str(p)) for p in sorted((run_dir / PLOTS_DIR).glob("*.png"))}
        tables = {f"{TABLES_DIR}/{k}": wandb.Table(dataframe=v.astype(str)) for k, v in report_tables(run_dir).items()}
        run.log({**images, **tables})
        if claims.exists():
            run.summary["claims"] = claims.read_text()
        return str(Path(run.dir).parent)
    finally:
        run.finish()
        wandb.teardown()  # returns once wandb's service has written the run to the end of its file


@dataclass(frozen=True)
class Where:
    """Where a run's W&B runs are: the entity and project, and the run's own group."""

    entity: str
    project: str
    group: str

    def grid(self, job: str, panels: list[Any], groupby: list[str] | None = None) -> wr.PanelGrid:
        """A panel grid over this run's W&B runs of job type ``job``: the names quoted as Python literals,
        which is how W&B parses a filter, so no name can end the string early."""
        query = f"Metric('Group') == {self.group!r} and Metric('JobType') == {job!r}"
        runs = wr.Runset(entity=self.entity, project=self.project, name=f"{self.group} {job}", filters=query,
                         groupby=[f"config.{g}" for g in groupby or []])
        return wr.PanelGrid(runsets=[runs], panels=panels)


def arms(run: Run) -> list[str]:
    """The config fields whose values make the arms (the seed aside), as W&B has them in each trial's config."""
    derived = run.task.paper.columns
    return [c.removeprefix(CONFIG_PREFIX) for c in run.groups() if c.removeprefix(CONFIG_PREFIX) not in derived]


def curve_metrics(run: Run) -> list[str]:
    """The selection metric and every metric the task's schema records each epoch, numeric ones only."""
    declared = run.task.schema.epoch if run.task.schema else ()
    names = [n for n in dict.fromkeys([run.metric, *declared]) if "*" not in n]
    return [n for n in names if n in run.history and pd.api.types.is_numeric_dtype(run.history[n])
            and not pd.api.types.is_bool_dtype(run.history[n])]


def is_search(run: Run) -> bool:
    return run.info.get("search", DESIGNS[0]) not in DESIGNS


def summary_blocks(run: Run, where: Where) -> list[Any]:
    """The summary table (verdicts in words), the claims' margins and the forest plot."""
    out: list[Any] = []
    summary = run.path / TABLES_DIR / f"{SUMMARY}.md"
    if summary.exists():
        out.append(wr.MarkdownBlock(text=summary.read_text()))
    margins = "\n".join(f"- {c.text}: {c.margin.text}" for c in run.task.paper.claims)
    out.append(wr.MarkdownBlock(text=f"Margins, the smallest differences that matter, declared before any data:\n\n"
                                     f"{margins}"))
    forest = run.path / PLOTS_DIR / f"{COMPARISONS}.png"
    if forest.exists():
        out.append(where.grid(REPORT_JOB, [wr.MediaBrowser(title=media_key(forest), media_keys=[media_key(forest)])]))
    return out


def table_blocks(run: Run) -> list[Any]:
    """The task's declared tables, as the static report wrote them (each with its heading and note)."""
    files = [run.path / TABLES_DIR / f"{t.stem}.md" for t in run.task.tables]
    return [wr.MarkdownBlock(text=f.read_text()) for f in files if f.exists()]


def curve_blocks(run: Run, where: Where) -> list[Any]:
    """One line plot a numeric per-epoch metric, one line an arm: the mean over seeds with a ± std band."""
    fields = arms(run) if not is_search(run) else []
    panels = [wr.LinePlot(title=m, x=wr.Metric(M.EPOCH), y=[wr.Metric(m)], **BAND) for m in curve_metrics(run)]
    if not panels:
        return []
    lines = f"one line an arm ({', '.join(fields)}): the mean over its seeds, with a band of ± one standard " \
            "deviation" if fields else "one line a trial"
    return [wr.H2("Learning curves"), wr.P(f"Per {M.EPOCH}, {lines}."), where.grid(TRIAL_JOB, panels, fields)]


def search_blocks(run: Run, where: Where) -> list[Any]:
    """For a search: the searched settings and the selection metric in parallel, and that metric by trial order."""
    searched = arms(run)
    if not is_search(run) or not searched:
        return []
    columns = [wr.ParallelCoordinatesPlotColumn(metric=wr.Config(f)) for f in searched]
    columns.append(wr.ParallelCoordinatesPlotColumn(metric=wr.SummaryMetric(run.metric)))
    panels = [wr.ParallelCoordinatesPlot(title=f"searched settings and {run.metric}", columns=columns),
              wr.ScatterPlot(title=f"{run.metric} by trial order", x=wr.Metric(TRIAL_ORDER),
                             y=wr.SummaryMetric(run.metric))]
    text = f"Each trial's {run.metric} at its last reported {M.EPOCH}."
    return [wr.H2("Search"), wr.P(text), where.grid(TRIAL_JOB, panels)]


def plot_blocks(run: Run, where: Where) -> list[Any]:
    """The run's plots (plots/*.png, the forest plot aside), as logged by ``log_final``."""
    plots = [p for p in sorted((run.path / PLOTS_DIR).glob("*.png")) if p.stem != COMPARISONS]
    if not plots:
        return []
    browser = wr.MediaBrowser(title=PLOTS_DIR, media_keys=[media_key(p) for p in plots], num_columns=2)
    return [wr.H2("Plots"), where.grid(REPORT_JOB, [browser])]


def build(run: Run, where: Where) -> wr.Report:
    """The W&B Report of ``run``: built only, nothing sent."""
    title = f"{run.study} study report: {where.group}"
    blocks = [*summary_blocks(run, where), *table_blocks(run), *curve_blocks(run, where),
              *search_blocks(run, where), *plot_blocks(run, where)]
    return wr.Report(entity=where.entity, project=where.project, title=title, blocks=blocks)


def panel_keys(panel: Any) -> list[tuple[str, str]]:
    """What a panel reads from its runs, as (where, key): "history", "summary", "config" or "media".
    Run attributes (W&B's own, e.g. the creation time) are always there and left out."""
    def read(metric: Any, plain: str) -> list[tuple[str, str]]:
        if isinstance(metric, wr.Config):
            return [("config", metric.name)]
        if isinstance(metric, wr.SummaryMetric):
            return [("summary", metric.name)]
        name = metric.name if isinstance(metric, wr.Metric) else metric
        return [] if name is None or name in RUN_ATTRIBUTES or plain == "run" else [(plain, name)]

    if isinstance(panel, wr.LinePlot):
        return [k for m in [panel.x, *panel.y] for k in read(m, "history")]
    if isinstance(panel, wr.ScatterPlot):
        return [k for m in (panel.x, panel.y, panel.z) if m is not None for k in read(m, "run")]
    if isinstance(panel, wr.ParallelCoordinatesPlot):
        return [k for c in panel.columns for k in read(c.metric, "run")]
    if isinstance(panel, wr.MediaBrowser):
        return [("media", k) for k in panel.media_keys]
    raise ValueError(f"a {type(panel).__name__} panel is beyond what the key check reads")


def has(run: Logged, where: str, key: str) -> bool:
    if where == "history":
        return run.numeric(key)
    return key in {"summary": run.summary, "config": run.config, "media": run.media_keys()}[where]


def selected(spec: dict[str, Any], logged: list[Logged]) -> list[list[Logged]]:
    """For each panel grid of the spec, the logged W&B runs its runsets select (in their project)."""
    def picks(runset: dict[str, Any], run: Logged) -> bool:
        project = runset.get("project", {}).get("name")
        return project in (None, run.project) and view_spec.selects(runset["filters"], run.attributes(), run.config)

    return [[r for r in logged if any(picks(rs, r) for rs in sets)] for sets in view_spec.grid_runsets(spec)]


def missing_keys(spec: dict[str, Any], logged: list[Logged]) -> list[str]:
    """Each key a panel plots that no run its grid selects has logged (a number, for a line plot's history)."""
    grids = [b for b in view_spec.from_spec(spec).blocks if isinstance(b, wr.PanelGrid)]
    problems = []
    for grid, runs in zip(grids, selected(spec, logged)):
        names = ", ".join(rs.name for rs in grid.runsets)
        if not runs:
            problems.append(f"runset {names!r} selects none of the logged W&B runs")
        for panel in grid.panels:
            problems += [f"{panel.title or type(panel).__name__}: no run of {names!r} logged {where} {key!r}"
                         + (" as numbers" if where == "history" else "")
                         for where, key in panel_keys(panel) if runs and not any(has(r, where, key) for r in runs)]
    return problems


def write_dry_run(run: Run, where: Where, out: Path) -> str:
    """Write the spec ``save()`` would send to ``out``, checked against the runs logged in the run folder."""
    spec = view_spec.to_spec(build(run, where))
    logged = logged_runs(run.path)
    if not logged:
        spec[view_spec.UNRESOLVED]["panel keys"] = f"not checked: no W&B runs logged in {run.path}"
    problems = missing_keys(spec, logged) if logged else []
    if problems:
        raise SystemExit(f"error: the report would show panels without data: {'; '.join(problems)}")
    out.write_text(json.dumps(spec, indent=1, sort_keys=True) + "\n")
    cut = [r.path.name for r in logged if not r.exited]
    cut_note = (f" {len(cut)} of them end without their exit record (cut off, or still being written): "
                f"{', '.join(cut)}." if cut else "")
    return (f"W&B Report spec written to {out} ({len(logged)} logged W&B runs checked; unresolved: "
            f"{', '.join(spec[view_spec.UNRESOLVED])}).{cut_note} Publish it: the same command without --dry-run, "
            "with an API key and a network, after `wandb sync` of the offline runs.")


def build_report(run_dir: str | Path, project: str | None = None, entity: str | None = None,
                 dry_run: str | Path | None = None) -> str:
    """Save the W&B Report of ``run_dir`` (its URL), or with ``dry_run`` write its spec there, offline."""
    run = read_run(run_dir)
    tracked = provenance.read(run.path).get("wandb")
    if not tracked:
        raise SystemExit(f"error: {run.path} logged nothing to W&B (provenance.json names no W&B group); "
                         "run the study with --wandb")
    project = project or os.environ.get("WANDB_PROJECT")
    entity = entity or os.environ.get("WANDB_ENTITY")
    if dry_run:
        if not (project and entity):
            raise SystemExit("error: --dry-run needs --entity and --project (or WANDB_ENTITY and WANDB_PROJECT): "
                             "the report's runs are pinned to them")
        return write_dry_run(run, Where(entity, project, tracked["group"]), Path(dry_run))
    mode, reason = choose_mode()
    if mode != "online":
        raise SystemExit(f"error: publishing a W&B Report needs a network and an API key ({reason}); build and check "
                         f"it offline with --dry-run SPEC.json, and upload the runs later with: wandb sync "
                         f"{run.path}/wandb/offline-run-*")
    import wandb

    entity = entity or tracked.get("entity") or wandb.Api().default_entity
    report = build(run, Where(entity, project or tracked["project"], tracked["group"]))
    report.save()
    return report.url
