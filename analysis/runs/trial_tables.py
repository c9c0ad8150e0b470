"""The results format every study writes: a trial table and a per-epoch history table.

Both are written into the run folder as Parquet (types kept, for tools) and
CSV (for people and spreadsheets), with one schema for every study:

trials: ``trial_id, study, run, seed, status, epochs_run, best/epoch,
wall_time_s, node, gpu_ids, device`` (where the trial last ran: the node's IP
address, the GPU ids Ray gave it, the torch device it trained on), the
flattened config as ``config/<field>``, every metric's final value under its own name (``test/mape``) and, for the
per-epoch train/val metrics, their value at the best epoch as
``best/<metric>``; ``trial_dir`` points back at Ray's folder. ``status`` is
``finished`` (the final record has the loop's ``completed`` = 1: test
metrics present), ``failed`` (the trial raised) or ``unfinished`` (stopped
early by a scheduler, or still running). ``best/epoch`` is the epoch whose weights
the test metrics were scored with, as the trial loop reported it.

history: ``trial_id, study, run, seed, epoch, training_iteration, timestamp``
(Ray's clock of the record, in Unix seconds), the config columns and the
metrics recorded that epoch.

The tables are built from Ray Tune's trial folders: each holds
``params.json`` (its config) and ``result.json`` (one JSON line a record),
all the analysis needs, so a run can be analysed after the cluster is gone,
or while it is still going. ``write_results`` writes them; ``read_tables``
reads them back for ``analysis.runs.read.read_run``, the one reader of a run.
"""

from __future__ import annotations

import importlib
import json
from pathlib import Path

import pandas as pd

from trainables.common import metrics as M
from trainables.common import storage
from trainables.common.layout import CONFIG_PREFIX, HISTORY, PROVENANCE_FILE, STUDY_FILE, TRIAL_RESULTS, TRIALS
from trainables.common.task import Task

BEST_PREFIX = "best/"
# A trial's status in the results (not the loop's ``completed`` metric, which marks its final record).
FINISHED, FAILED, UNFINISHED = "finished", "failed", "unfinished"
ID_COLUMNS = ["trial_id", "study", "run", "seed", "status", "epochs_run", M.BEST_EPOCH, "wall_time_s", "node",
              M.GPU_IDS, M.DEVICE]
TIMESTAMP = "timestamp"  # Ray's: when an epoch was recorded, Unix seconds
HISTORY_ID_COLUMNS = ["trial_id", "study", "run", "seed", M.EPOCH, M.TRAINING_ITERATION, TIMESTAMP]
ERROR_FILES = ("error.txt", "error.pkl")  # what Ray Tune leaves in the folder of a trial that raised
# Ray's own bookkeeping in result.json; the tables keep what it means (node, wall time) under stable names.
RAY_COLUMNS = {
    TIMESTAMP, "time_this_iter_s", "time_total_s", "pid", "hostname", "node_ip", "date", "done",
    "checkpoint_dir_name", "iterations_since_restore", "time_since_restore", "should_checkpoint",
    "experiment_tag", "trial_dir", M.DEVICE, M.GPU_IDS, "errored",
}


def read_json(path: str | Path) -> dict:
    """A small JSON file of the run folder (local or URI); {} when absent or unreadable."""
    try:
        text = storage.read_text(path)
        return json.loads(text) if text else {}
    except (OSError, json.JSONDecodeError):
        return {}


def metric_columns(frame: pd.DataFrame) -> list[str]:
    """Reported metrics: numbers or text (``train/precision``), namespaced (``split/name``), not config, not
    ``best/`` and not Ray's."""
    return [
        c for c in frame.columns
        if "/" in c and not c.startswith(CONFIG_PREFIX) and not c.startswith(BEST_PREFIX)
        and c not in RAY_COLUMNS and (pd.api.types.is_numeric_dtype(frame[c]) or is_text(frame[c]))
    ]


def is_text(column: pd.Series) -> bool:
    """A column of strings (and gaps), such as a trial's ``train/precision``."""
    return pd.api.types.is_string_dtype(column) and bool(column.notna().any())


def default_device(run_dir: Path) -> str:
    """The device trials ran on when they did not report it: from the run's resources."""
    prov = read_json(run_dir / PROVENANCE_FILE)
    gpus = (prov.get("resources_per_trial") or {}).get("gpu", 0) or 0
    return "cuda" if gpus > 0 else "cpu"


def epochs_of(hist: pd.DataFrame) -> pd.Series:
    return hist[M.EPOCH] if M.EPOCH in hist else hist[M.TRAINING_ITERATION]


def best_epochs(hist: pd.DataFrame, last: pd.DataFrame, metric: str, mode: str) -> pd.Series:
    """Each trial's best epoch: as the loop reported it, else where ``metric`` was best (older runs)."""
    epochs = epochs_of(hist)
    found = pd.Series(float("nan"), index=last.index)
    if metric in hist:
        values = hist[metric].where(hist[metric].notna(), float("inf") if mode == "min" else float("-inf"))
        pick = values.groupby(hist["trial_id"]).idxmin() if mode == "min" else values.groupby(hist["trial_id"]).idxmax()
        found = epochs.loc[pick.to_numpy()].set_axis(pick.index).reindex(last.index).astype(float)
    if M.BEST_EPOCH in last:
        found = last[M.BEST_EPOCH].astype(float).fillna(found)
    return found


def at_best_epoch(hist: pd.DataFrame, best: pd.Series, names: list[str]) -> pd.DataFrame:
    """``best/<name>``: each trial's value of ``names`` in its best epoch's report."""
    rows = hist.assign(_epoch=epochs_of(hist))
    keyed = rows.set_index(["trial_id", "_epoch"])[names]
    keyed = keyed[~keyed.index.duplicated(keep="last")]
    wanted = pd.MultiIndex.from_arrays([best.index, best.to_numpy()])
    out = keyed.reindex(wanted).set_axis(best.index)
    return out.rename(columns=lambda m: BEST_PREFIX + m)


def status_of(last: pd.DataFrame) -> pd.Series:
    completed = last[M.COMPLETED].eq(1) if M.COMPLETED in last else pd.Series(False, index=last.index)
    errored = last["errored"].fillna(False).astype(bool) if "errored" in last else pd.Series(False, index=last.index)
    return pd.Series(UNFINISHED, index=last.index).mask(errored, FAILED).mask(completed, FINISHED)


def load_task(info: dict) -> Task:
    """The task study.json names: its module (``trainables.stock.task``), or a package name of older runs."""
    name = info.get("task") or ""
    module = name if "." in name else f"trainables.{name}.task"
    try:
        return importlib.import_module(module).TASK
    except ModuleNotFoundError as exc:
        raise FileNotFoundError(f"{STUDY_FILE} names the task {name!r}, which cannot be imported ({exc})") from None


def selection(info: dict) -> tuple[str, str]:
    """(metric, mode) a run selected on: from study.json, else from the task it names."""
    if info.get("metric") and info.get("mode"):
        return info["metric"], info["mode"]
    task = load_task(info)
    return task.metric, task.mode


def _config_columns(frame: pd.DataFrame) -> list[str]:
    return [c for c in frame.columns if c.startswith(CONFIG_PREFIX)]


def _read_trial_folder(trial_dir: Path) -> pd.DataFrame:
    """Every record of one trial folder, as written (one Ray repeated after a restore included)."""
    text = (trial_dir / TRIAL_RESULTS).read_text()
    rows = [json.loads(line) for line in text.splitlines() if line.strip()]
    if not rows:
        return pd.DataFrame()
    frame = pd.json_normalize(rows, sep="/")
    for col in _config_columns(frame):  # lists (e.g. features) as text, so they group and compare
        frame[col] = frame[col].map(lambda v: ",".join(map(str, v)) if isinstance(v, list) else v)
    frame["trial_dir"] = str(trial_dir)
    frame["errored"] = any((trial_dir / name).exists() for name in ERROR_FILES)
    return frame


def _read_trial_folders(run_dir: Path) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(each trial's last record, every record) of Ray's trial folders; FileNotFoundError when there are none."""
    folders = sorted(p.parent for p in run_dir.glob(f"*/{TRIAL_RESULTS}"))
    frames = [f for f in map(_read_trial_folder, folders) if not f.empty]
    if not frames:
        raise FileNotFoundError(f"{run_dir}: no trial results (is this a study's run folder?)")
    history = pd.concat(frames, ignore_index=True)
    # Ray counts records; when a trial was resumed from a checkpoint a record can
    # repeat, and the later one wins.
    history = history.drop_duplicates(["trial_id", M.TRAINING_ITERATION], keep="last")
    history = history.sort_values(["trial_id", M.TRAINING_ITERATION]).reset_index(drop=True)
    return history.groupby("trial_id", sort=True).last(skipna=True).reset_index(), history


def _trial_table(last: pd.DataFrame, hist: pd.DataFrame, info: dict, run: str, device: str) -> pd.DataFrame:
    metrics = metric_columns(hist)
    last = last.set_index("trial_id")
    metric, mode = selection(info)
    best = best_epochs(hist, last, metric, mode)
    out = pd.DataFrame(index=last.index)
    out["study"], out["run"] = info.get("study", ""), run
    out["seed"] = last.get(CONFIG_PREFIX + "seed")
    out["status"] = status_of(last)
    out["epochs_run"] = epochs_of(hist).groupby(hist["trial_id"]).max()
    out[M.BEST_EPOCH] = best.round().astype("Int64")
    out["wall_time_s"] = last[M.TIME_TOTAL] if M.TIME_TOTAL in last else last.get("time_total_s")
    out["node"] = last.get("node_ip", last.get("hostname"))
    out[M.GPU_IDS] = last.get(M.GPU_IDS)
    out[M.DEVICE] = last.get(M.DEVICE, device)
    per_epoch = [m for m in metrics if m.split("/")[0] in ("train", "val")]
    out = out.join(last[_config_columns(last)]).join(last[metrics]).join(at_best_epoch(hist, best, per_epoch))
    if "trial_dir" in last:
        out["trial_dir"] = last["trial_dir"]
    return _arrow_safe(out.reset_index())


def _history_table(hist: pd.DataFrame, study: str, run: str) -> pd.DataFrame:
    out = pd.DataFrame({"trial_id": hist["trial_id"], "study": study, "run": run})
    out["seed"] = hist.get(CONFIG_PREFIX + "seed")
    out[M.EPOCH] = epochs_of(hist)
    out[M.TRAINING_ITERATION] = hist[M.TRAINING_ITERATION]
    out[TIMESTAMP] = hist.get(TIMESTAMP)
    cols = _config_columns(hist) + metric_columns(hist)
    return _arrow_safe(pd.concat([out, hist[cols]], axis=1))


def _arrow_safe(frame: pd.DataFrame) -> pd.DataFrame:
    """Columns Parquet can store: mixed-type object columns become text."""
    for col in frame.columns:
        if frame[col].dtype == object:
            kinds = {type(v) for v in frame[col].dropna()}
            if len(kinds) > 1 or (kinds and not kinds <= {str, bool, int, float}):
                frame[col] = frame[col].map(lambda v: v if v is None or pd.isna(v) else str(v))
    return frame


def _tables_from_trial_folders(run_dir: Path) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The trial and history tables, built from Ray's trial folders."""
    last, hist = _read_trial_folders(run_dir)
    info = read_json(run_dir / STUDY_FILE)
    return (_trial_table(last, hist, info, run_dir.name, default_device(run_dir)),
            _history_table(hist, info.get("study", ""), run_dir.name))


def write_results(run_dir: str | Path) -> list[Path]:
    """Write trials.{parquet,csv} and history.{parquet,csv} into ``run_dir``."""
    run_dir = Path(run_dir)
    written = []
    for frame, stem in zip(_tables_from_trial_folders(run_dir), (TRIALS, HISTORY)):
        frame.to_parquet(run_dir / f"{stem}.parquet", engine="pyarrow", index=False)
        frame.to_csv(run_dir / f"{stem}.csv", index=False)
        written += [run_dir / f"{stem}.parquet", run_dir / f"{stem}.csv"]
    return written


def read_tables(run_dir: Path) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The run's (trials, history) tables: the written Parquet files, else built from Ray's trial folders.

    Files written before a column of the format existed (``status``, ``timestamp``) are rebuilt."""
    trials_file, history_file = run_dir / f"{TRIALS}.parquet", run_dir / f"{HISTORY}.parquet"
    if trials_file.exists() and history_file.exists():
        trials, history = pd.read_parquet(trials_file), pd.read_parquet(history_file)
        if "status" in trials and TIMESTAMP in history:
            return trials, history
    return _tables_from_trial_folders(run_dir)
