"""A run folder as analysis sees it: ``read_run(path)``, the one reader behind every output.

Tables, claims, comparisons, the report and the W&B report all read a run
here: study.json (which study and task, the selection metric), the task it
names (its paper design, claims and metric schema, imported from the module
study.json records, so analysis lists no task), and the results format of
``analysis.runs.trial_tables``, split into the completed trials, which everything is
computed from, and the unfinished or errored ones, which are only named.
``path`` is any path ``trainables.common.runs.resolve`` accepts: a RUN_ID
folder, a NAME folder (its newest run) or its ``latest`` link. Benchmarks
and tests read runs here too.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

import pandas as pd

from analysis.runs import trial_tables
from analysis.runs.trial_tables import load_task
from trainables.common import runs, storage
from trainables.common.layout import CONFIG_PREFIX, STUDY_FILE
from trainables.common.task import Task

WHY = {trial_tables.FAILED: "failed", trial_tables.UNFINISHED: "stopped early or still running"}


@dataclass(frozen=True)
class Run:
    path: Path
    info: dict[str, Any]
    """study.json."""
    trials: pd.DataFrame
    """Completed trials, one row each (``analysis.runs.trial_tables`` schema), with the task's derived settings."""
    history: pd.DataFrame
    """Every record (epoch) of the completed trials."""
    unfinished: pd.DataFrame
    """Trials without a completed final record (stopped early, failed, or running): left out of the results."""
    unfinished_history: pd.DataFrame
    """Every record (epoch) of the unfinished trials (those a scheduler stopped included)."""

    def every_trial(self) -> pd.DataFrame:
        """Completed and unfinished trials together (a search's trials that ASHA stopped included)."""
        return pd.concat([self.trials, self.unfinished], ignore_index=True)

    def every_record(self) -> pd.DataFrame:
        """Every record (epoch) of every trial, ``timestamp`` (Ray's clock, Unix seconds) included."""
        return pd.concat([self.history, self.unfinished_history], ignore_index=True)

    @property
    def study(self) -> str:
        return self.info.get("study", "")

    @cached_property
    def task(self) -> Task:
        return load_task(self.info)

    @property
    def metric(self) -> str:
        return self.info.get("metric") or self.task.metric

    @property
    def mode(self) -> str:
        return self.info.get("mode") or self.task.mode

    @property
    def best_metric(self) -> str:
        """The selection metric at each trial's best epoch, the trial's own "best"."""
        return trial_tables.BEST_PREFIX + self.metric

    def test_metric(self) -> str:
        """The test counterpart of the selection metric (``val/mape`` -> ``test/mape``) when reported."""
        split, _, rest = self.metric.partition("/")
        test = f"test/{rest}"
        return test if split == "val" and test in self.trials else self.metric

    def best_of(self, frame: pd.DataFrame, by: list[str] | str) -> pd.DataFrame:
        """The best trial of each group of ``frame``: best selection metric at its best epoch."""
        return best_rows(frame, by, self.metric, self.mode)

    def ranked(self, frame: pd.DataFrame | None = None) -> pd.DataFrame:
        """Trials from best to worst by the selection metric at their best epoch."""
        return ranked(self.trials if frame is None else frame, self.metric, self.mode)

    def settings(self, frame: pd.DataFrame | None = None) -> list[str]:
        """The config columns whose value varies between trials (seed included)."""
        return varying(self.trials if frame is None else frame)

    def groups(self, frame: pd.DataFrame | None = None) -> list[str]:
        """The settings that vary, the replicate's fields (seed, and what the task's seed sets) aside."""
        replicate = {CONFIG_PREFIX + k for k in self.task.replicate(0)}
        return [c for c in self.settings(frame) if c not in replicate]


def varying(frame: pd.DataFrame) -> list[str]:
    """The config columns whose value differs between the rows of ``frame``: the one definition."""
    return [c for c in frame.columns if c.startswith(CONFIG_PREFIX) and frame[c].astype(str).nunique(dropna=False) > 1]


def best_rows(frame: pd.DataFrame, by: list[str] | str, metric: str, mode: str) -> pd.DataFrame:
    """The best trial of each group: ``metric`` (min or max by ``mode``) at the trial's best epoch."""
    column = trial_tables.BEST_PREFIX + metric
    if column not in frame:
        return frame.iloc[0:0]
    rows = frame.dropna(subset=[column])
    if rows.empty:
        return rows
    groups = rows.groupby(by, sort=True)[column]
    return rows.loc[groups.idxmin() if mode == "min" else groups.idxmax()]


def ranked(frame: pd.DataFrame, metric: str, mode: str) -> pd.DataFrame:
    """``frame``'s trials from best to worst by ``metric`` at their best epoch."""
    column = trial_tables.BEST_PREFIX + metric
    if column not in frame:
        return frame
    return frame.sort_values(column, ascending=mode == "min", na_position="last", kind="stable")


def with_derived(trials: pd.DataFrame, task: Task) -> pd.DataFrame:
    """``trials`` with the settings the task derives from a config (q3's model family) as config columns."""
    derived = task.paper.columns
    if not derived or trials.empty:
        return trials
    configs = [{k[len(CONFIG_PREFIX):]: v for k, v in row.items() if k.startswith(CONFIG_PREFIX)}
               for row in trials.to_dict("records")]
    return trials.assign(**{CONFIG_PREFIX + name: [fn(c) for c in configs] for name, fn in derived.items()})


def study_info(run_dir: Path, tries: int = 20, wait_s: float = 0.05) -> dict:
    """study.json of a run folder; {} when it has none.

    While a resumed run trains, Tune copies the folder's top-level JSON files (study.json among them) from its
    staging copy back over the folder, in place (``sync_down_experiment_state``, then each snapshot's upload), so
    a read while the run looks at itself (``--seeds auto``) can find the file empty for a moment: read it again.
    """
    for _ in range(tries - 1):
        info = trial_tables.read_json(run_dir / STUDY_FILE)
        if info or not (run_dir / STUDY_FILE).exists():
            return info
        time.sleep(wait_s)
    return trial_tables.read_json(run_dir / STUDY_FILE)


def read_run(path: str | Path) -> Run:
    """The run ``path`` means (``runs.resolve``: a RUN_ID folder, a NAME folder's newest run, ``latest``), local.

    Raises FileNotFoundError (one line) when it is not a study's run folder; a run on object storage is read
    from ``analysis.runs.remote.local_copy``.
    """
    found = runs.resolve(path)
    if storage.is_uri(found):
        raise ValueError(f"{found}: on object storage; read it through analysis.runs.remote.local_copy")
    run_dir = Path(found)
    info = study_info(run_dir)
    if not info.get("study"):
        raise FileNotFoundError(f"{run_dir}: no {STUDY_FILE}; is this a study's run folder?")
    task = load_task(info)
    trials, history = trial_tables.read_tables(run_dir)
    if "trial_dir" in trials:  # where the trials are now: the folder may have moved or be a copy
        trials = trials.assign(trial_dir=[str(run_dir / Path(str(d)).name) for d in trials["trial_dir"]])
    done = trials["status"] == trial_tables.FINISHED
    finished = history["trial_id"].isin(trials.loc[done, "trial_id"])
    completed = with_derived(trials[done].reset_index(drop=True), task)
    if task.schema is not None and not completed.empty:
        task.schema.check_columns(completed.columns, what=f"{run_dir}: the completed trials")
    return Run(path=run_dir, info=info, trials=completed, history=history[finished].reset_index(drop=True),
               unfinished=trials[~done].reset_index(drop=True),
               unfinished_history=history[~finished].reset_index(drop=True))


def unfinished_note(run: Run) -> str:
    """One line naming the trials left out, or "" when every trial completed."""
    if run.unfinished.empty:
        return ""
    counts = run.unfinished["status"].value_counts().to_dict()
    kinds = ", ".join(f"{n} {WHY.get(status, status)}" for status, n in sorted(counts.items()))
    ids = ", ".join(map(str, run.unfinished["trial_id"]))
    total = len(run.trials) + len(run.unfinished)
    return (f"{len(run.unfinished)} of {total} trials left out of the tables and claims, having no completed "
            f"final record with test metrics ({kinds}): {ids}.")
