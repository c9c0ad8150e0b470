"""Read Ray Tune's trial folders into pandas frames, without Ray (for ``analysis.export`` only).

Every trial folder holds ``params.json`` (its config) and ``result.json``
(one JSON line per report). That is all the analysis needs, so a run can
be analysed after the cluster is gone, or while it is still going. The
rest of analysis reads a run through ``analysis.run.read_run``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from trainables.common.layout import CONFIG_PREFIX

ERROR_FILES = ("error.txt", "error.pkl")  # what Ray Tune leaves in the folder of a trial that raised


@dataclass(frozen=True)
class RunResults:
    trials: pd.DataFrame  # one row a trial: trial_id, config/..., last reported metrics, trial_dir
    history: pd.DataFrame  # one row a report: trial_id, config/..., metrics


def trial_dirs(run_dir: str | Path) -> list[Path]:
    return sorted(p.parent for p in Path(run_dir).glob("*/result.json"))


def read_trial(trial_dir: Path) -> pd.DataFrame:
    rows = [json.loads(line) for line in (trial_dir / "result.json").read_text().splitlines() if line.strip()]
    if not rows:
        return pd.DataFrame()
    frame = pd.json_normalize(rows, sep="/")
    for col in config_columns(frame):  # lists (e.g. features) as text, so they group and compare
        frame[col] = frame[col].map(lambda v: ",".join(map(str, v)) if isinstance(v, list) else v)
    frame["trial_dir"] = str(trial_dir)
    frame["errored"] = any((trial_dir / name).exists() for name in ERROR_FILES)
    return frame


def load_run(run_dir: str | Path) -> RunResults:
    """Trials and per-report history of one run; raises FileNotFoundError if empty."""
    frames = [f for f in (read_trial(d) for d in trial_dirs(run_dir)) if not f.empty]
    if not frames:
        raise FileNotFoundError(f"{run_dir}: no trial results (is this a study's run folder?)")
    history = pd.concat(frames, ignore_index=True)
    # Ray counts reports; when a trial was resumed from a checkpoint a report can
    # repeat, and the later one wins.
    history = history.drop_duplicates(["trial_id", "training_iteration"], keep="last")
    history = history.sort_values(["trial_id", "training_iteration"]).reset_index(drop=True)
    trials = history.groupby("trial_id", sort=True).last(skipna=True).reset_index()
    return RunResults(trials=trials, history=history)


def config_columns(frame: pd.DataFrame) -> list[str]:
    return [c for c in frame.columns if c.startswith(CONFIG_PREFIX)]
