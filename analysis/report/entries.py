"""The report's parts, as data: entries of text, tables and pictures, and the tables a task declares.

Every output (report.md, report.html, tables/*.csv|md, W&B) is rendered from
the same ``Entry`` list, so no output re-reads another.
"""

from __future__ import annotations

import fnmatch
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from analysis.report.tables import ALL, ALL_TRIALS, interval_cells, mean_pm_std, row_label, summarize
from analysis.runs.read import Run, varying
from trainables.common import metrics as M
from trainables.common.layout import CONFIG_PREFIX
from trainables.common.parts import Table

C = CONFIG_PREFIX


@dataclass
class Entry:
    """One part of the report: a title, text, a table (kept under ``tables/<stem>``) and pictures."""

    title: str = ""
    text: str = ""
    table: pd.DataFrame | None = None
    stem: str | None = None
    images: list[Path] = field(default_factory=list)
    level: int = 2  # heading level


def expand(patterns: tuple[str, ...], columns) -> list[str]:
    """Metric patterns (``test/mape/*``) as the columns present, in order, each once."""
    out: list[str] = []
    for pattern in patterns:
        out += [c for c in columns if fnmatch.fnmatchcase(c, pattern) and c not in out]
    return out


def rows_of(run: Run, spec: Table) -> tuple[pd.DataFrame, list[str]]:
    """The trials a table shows and the columns it groups them by."""
    trials, paper = run.trials, run.task.paper
    if not spec.reference:
        return trials, run.groups()
    keep = pd.Series(True, index=trials.index)
    for name, level in paper.reference.items():
        if name != spec.vary and C + name in trials:
            keep &= trials[C + name] == level
    by = [C + b for b in paper.blocks if C + b in trials] + ([C + spec.vary] if spec.vary else [])
    return trials[keep], by


def table(run: Run, spec: Table) -> pd.DataFrame | None:
    """``spec`` built from the run's completed trials; None when it has nothing to show."""
    rows, by = rows_of(run, spec)
    if rows.empty or (spec.vary and (C + spec.vary not in rows or rows[C + spec.vary].nunique() < 2)):
        return None
    by = by or [ALL_TRIALS]
    rows = rows.assign(**{ALL_TRIALS: ALL}) if by == [ALL_TRIALS] else rows
    metrics = expand(spec.metrics, rows.columns)
    numbers = [m for m in metrics if pd.api.types.is_numeric_dtype(rows[m])]
    shown = mean_pm_std(summarize(rows, by, numbers))
    for m in (m for m in metrics if m not in numbers):  # text, e.g. train/precision: every value a row holds
        shown[m] = rows.groupby(by, sort=True, dropna=False)[m].agg(lambda v: ", ".join(sorted(set(v.dropna()))))
    shown = shown[[m for m in metrics if m in shown] + ["n"]]
    if spec.interval and spec.interval in rows:
        shown[f"{spec.interval} 95% CI"] = interval_cells(rows, by, spec.interval).to_numpy()
    shown.index = shown.index.map(row_label)
    for label, prefix in spec.baselines.items():
        values = {m: rows[prefix + m].mean() for m in metrics if prefix + m in rows}
        if values:
            shown.loc[label] = [f"{values[c]:.3f}" if c in values else "" for c in shown.columns]
    shown.index.name = " / ".join(c.removeprefix(C) for c in by)
    return shown.rename(columns=lambda c: c.removeprefix("test/"))


def declared_tables(run: Run) -> list[Entry]:
    out = []
    for spec in run.task.tables:
        frame = table(run, spec)
        if frame is not None:
            at = ", ".join(f"{k}={v}" for k, v in run.task.paper.reference.items() if k != spec.vary)
            note = "Mean ± std over seeds" + (f"; the others at the reference setting ({at})" if spec.reference
                                             and at else "") + (f". {spec.note}" if spec.note else ".")
            out.append(Entry(spec.title, note, frame, spec.stem))
    return out


def trials_block(run: Run) -> Entry:
    """Completed trials, best first: the settings that vary, epochs run, best epoch, selection and test metric."""
    t = run.ranked()
    settings = varying(t)
    metrics = list(dict.fromkeys([run.best_metric, run.test_metric(), "wall_time_s"]))
    shown = t[["trial_id"] + settings + ["epochs_run", M.BEST_EPOCH] + [m for m in metrics if m in t]]
    shown = shown.rename(columns=lambda c: c.removeprefix(C)).set_index("trial_id").round(4)
    note = (f"Best epoch: the epoch whose weights the test metrics were scored with (best {run.metric}); "
            f"{run.best_metric} is that epoch's value.")
    return Entry("Completed trials", note, shown, "trials")
