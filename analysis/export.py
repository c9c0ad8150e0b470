"""The results format every study writes: a trial table and a per-epoch history table.

Both are written into the run folder as Parquet (types kept, for tools) and
CSV (for people and spreadsheets), with one schema for every study:

trials: ``trial_id, study, run, seed, epochs_run, wall_time_s, node, device``,
the flattened config as ``config/<field>``, every metric's final value under
its own name (``test/mape``) and, for per-epoch train/val metrics, the best
value over epochs as ``best/<metric>``; ``trial_dir`` points back at Ray's
folder.

history: ``trial_id, study, run, seed, epoch, training_iteration``, the config
columns and the metrics reported that epoch.

``read_results`` reads these files back (or builds them from Ray's folders
when they are missing), so one loader serves every study.
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from analysis.results import CONFIG_PREFIX, RunResults, config_columns, load_run
from trainables.common import metrics as M

TRIALS_FILE = "trials"
HISTORY_FILE = "history"
BEST_PREFIX = "best/"
ID_COLUMNS = ["trial_id", "study", "run", "seed", "epochs_run", "wall_time_s", "node", "device"]
HISTORY_ID_COLUMNS = ["trial_id", "study", "run", "seed", M.EPOCH, M.TRAINING_ITERATION]
# Ray's own bookkeeping in result.json; the tables keep what it means (node, wall time) under stable names.
RAY_COLUMNS = {
    "timestamp", "time_this_iter_s", "time_total_s", "pid", "hostname", "node_ip", "date", "done",
    "checkpoint_dir_name", "iterations_since_restore", "time_since_restore", "should_checkpoint",
    "experiment_tag", "trial_dir", "device",
}
HIGHER_IS_BETTER = ("acc", "f1", "auc")


def read_json(path: Path) -> dict:
    try:
        return json.loads(path.read_text())
    except (FileNotFoundError, json.JSONDecodeError):
        return {}


def metric_columns(frame: pd.DataFrame) -> list[str]:
    """Reported metrics: numeric, namespaced (``split/name``), not config and not Ray's."""
    return [
        c for c in frame.columns
        if "/" in c and not c.startswith(CONFIG_PREFIX) and not c.startswith(BEST_PREFIX)
        and c not in RAY_COLUMNS and pd.api.types.is_numeric_dtype(frame[c])
    ]


def higher_is_better(metric: str) -> bool:
    parts = metric.split("/")
    return any(p in HIGHER_IS_BETTER or p.endswith("_f1") for p in parts[1:])


def default_device(run_dir: Path) -> str:
    """The device trials ran on when they did not report it: from the run's resources."""
    prov = read_json(run_dir / "provenance.json")
    gpus = prov.get("resources_per_trial", {}).get("gpu", 0) or 0
    return "cuda" if gpus > 0 else "cpu"


def trial_table(results: RunResults, study: str, run: str, device: str = "cpu") -> pd.DataFrame:
    hist = results.history
    metrics = metric_columns(hist)
    per_epoch = [m for m in metrics if m.split("/")[0] in ("train", "val")]
    grouped = hist.groupby("trial_id", sort=True)
    best = pd.concat(
        {BEST_PREFIX + m: (grouped[m].max() if higher_is_better(m) else grouped[m].min()) for m in per_epoch}, axis=1
    ) if per_epoch else pd.DataFrame(index=grouped.size().index)
    last = results.trials.set_index("trial_id")
    out = pd.DataFrame(index=last.index)
    out["study"], out["run"] = study, run
    out["seed"] = last.get(CONFIG_PREFIX + "seed")
    epochs = hist[M.EPOCH] if M.EPOCH in hist else hist[M.TRAINING_ITERATION]
    out["epochs_run"] = epochs.groupby(hist["trial_id"]).max()
    wall = last[M.TIME_TOTAL] if M.TIME_TOTAL in last else last.get("time_total_s")
    out["wall_time_s"] = wall
    out["node"] = last.get("hostname", last.get("node_ip"))
    out["device"] = last.get("device", device)
    out = out.join(last[config_columns(last)]).join(last[metrics]).join(best)
    if "trial_dir" in last:
        out["trial_dir"] = last["trial_dir"]
    return _arrow_safe(out.reset_index())


def history_table(results: RunResults, study: str, run: str) -> pd.DataFrame:
    hist = results.history
    out = pd.DataFrame({"trial_id": hist["trial_id"], "study": study, "run": run})
    out["seed"] = hist.get(CONFIG_PREFIX + "seed")
    out[M.EPOCH] = hist[M.EPOCH] if M.EPOCH in hist else hist[M.TRAINING_ITERATION]
    out[M.TRAINING_ITERATION] = hist[M.TRAINING_ITERATION]
    cols = config_columns(hist) + metric_columns(hist)
    return _arrow_safe(pd.concat([out, hist[cols]], axis=1))


def _arrow_safe(frame: pd.DataFrame) -> pd.DataFrame:
    """Columns Parquet can store: mixed-type object columns become text."""
    for col in frame.columns:
        if frame[col].dtype == object:
            kinds = {type(v) for v in frame[col].dropna()}
            if len(kinds) > 1 or (kinds and not kinds <= {str, bool, int, float}):
                frame[col] = frame[col].map(lambda v: v if v is None or pd.isna(v) else str(v))
    return frame


def build_results(run_dir: str | Path) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Trial and history tables from Ray's trial folders."""
    run_dir = Path(run_dir)
    results = load_run(run_dir)
    study = read_json(run_dir / "study.json").get("study", "")
    return (trial_table(results, study, run_dir.name, default_device(run_dir)),
            history_table(results, study, run_dir.name))


def write_results(run_dir: str | Path) -> list[Path]:
    """Write trials.{parquet,csv} and history.{parquet,csv} into ``run_dir``."""
    run_dir = Path(run_dir)
    trials, history = build_results(run_dir)
    written = []
    for frame, stem in ((trials, TRIALS_FILE), (history, HISTORY_FILE)):
        frame.to_parquet(run_dir / f"{stem}.parquet", engine="pyarrow", index=False)
        frame.to_csv(run_dir / f"{stem}.csv", index=False)
        written += [run_dir / f"{stem}.parquet", run_dir / f"{stem}.csv"]
    return written


def read_results(run_dir: str | Path) -> RunResults:
    """The run's trial and history tables: the written Parquet files, else built from Ray's folders."""
    run_dir = Path(run_dir)
    trials_file, history_file = run_dir / f"{TRIALS_FILE}.parquet", run_dir / f"{HISTORY_FILE}.parquet"
    if trials_file.exists() and history_file.exists():
        return RunResults(trials=pd.read_parquet(trials_file), history=pd.read_parquet(history_file))
    trials, history = build_results(run_dir)
    return RunResults(trials=trials, history=history)
