"""Synthetic run folders and runs with known answers, for the reporting and claims tests.

Trials record every metric their task's schema names (reading a run checks
the schema), with the values a test controls.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import pandas as pd

from analysis.runs.read import Run, with_derived
from trainables.common import metrics as M
from trainables.common.layout import STUDY_FILE
from trainables.common.task import Task
from trainables.stock.data import PRICES_FILE
from trainables.stock.task import TASK as STOCK

TICKERS = ("GOOG", "AAPL")
STUDY_INFO = {"q1": {"study": "q1", "task": "trainables.stock.task", "metric": M.VAL_MAPE, "mode": "min"}}


def with_loop_fields(epochs: list[dict], metric: str, mode: str, completed: bool) -> list[dict]:
    """Reports as the shared loop makes them: best epoch so far on each, ``completed`` on a finished final one."""
    best, best_value, out = 0, math.nan, []
    for epoch, metrics in enumerate(epochs, start=1):
        value = metrics.get(metric, math.nan)
        if best == 0 or (value < best_value if mode == "min" else value > best_value):
            best, best_value = epoch, value
        row = {M.EPOCH: epoch, M.TIME_EPOCH: 2.0, M.TIME_TOTAL: 2.0 * epoch, **metrics}
        out.append({**row, M.BEST_EPOCH: metrics.get(M.BEST_EPOCH, best)})
    if completed and out:
        out[-1][M.COMPLETED] = 1
    return out


def write_trial(run_dir: Path, trial_id: str, config: dict, epochs: list[dict], metric: str = M.VAL_MAPE,
                mode: str = "min", completed: bool = True, errored: bool = False) -> Path:
    """A Ray-like trial folder: params.json, one result.json line per report, error.txt if it raised."""
    trial_dir = run_dir / f"train_stock_{trial_id}"
    trial_dir.mkdir(parents=True)
    (trial_dir / "params.json").write_text(json.dumps(config))
    lines = []
    for i, metrics in enumerate(with_loop_fields(epochs, metric, mode, completed), start=1):
        row = {**metrics, "training_iteration": i, "trial_id": trial_id, "config": config,
               "hostname": "node-a", "node_ip": "10.0.0.1", "pid": 1, "time_total_s": float(i),
               "done": i == len(epochs), "timestamp": 1_800_000_000 + i}
        lines.append(json.dumps(row))
    (trial_dir / "result.json").write_text("\n".join(lines) + "\n")
    if errored:
        (trial_dir / "error.txt").write_text("RuntimeError: injected\n")
    return trial_dir


def write_run(run_dir: Path, study: str, trials: list[tuple[dict, list[dict]]],
              unfinished: dict[int, str] | None = None) -> Path:
    """A run folder; ``unfinished`` maps a trial's index to "error" or "unfinished" (no completed final record)."""
    run_dir.mkdir(parents=True, exist_ok=True)
    info = STUDY_INFO.get(study, {"study": study})
    (run_dir / STUDY_FILE).write_text(json.dumps(info))
    if study == "q1":  # the price history the study writes beside its trials
        (run_dir / PRICES_FILE).write_text("date,GOOG,AAPL\n2020-01-02,10.0,20.0\n2020-01-03,11.0,21.0\n")
    for i, (config, epochs) in enumerate(trials):
        status = (unfinished or {}).get(i)
        write_trial(run_dir, f"{i:05d}", config, epochs, info.get("metric", M.VAL_MAPE), info.get("mode", "min"),
                    completed=status is None, errored=status == "error")
    return run_dir


def errors(split: str, value: float, baseline: str | None = None) -> dict[str, float]:
    """RMSE, MAE and MAPE overall and per ticker, as q1's trials record them (MAPE = ``value``)."""
    out = {}
    for measure, scale in (("rmse", 8.0), ("mae", 6.0), ("mape", 1.0)):
        name = M.named(split, measure) if baseline is None else M.baseline(baseline, M.named(split, measure))
        out[name] = scale * value
        out.update({M.per_target(name, t): scale * value + (0.1 if t == "GOOG" else -0.1) for t in TICKERS})
    return out


def q1_epochs(mape: float, n: int = 3, persistence: float = 1.5) -> list[dict]:
    """Validation MAPE falling to ``mape`` at the last epoch; test MAPE ``mape``."""
    out = []
    for e in range(1, n + 1):
        row = {M.TRAIN_LOSS: 1.0 / e, M.VAL_LOSS: 2.0 / e, **errors("val", mape + (n - e))}
        if e == n:
            row.update({M.TEST_LOSS: 0.5, **errors("test", mape), **errors("test", persistence, "persistence")})
        out.append(row)
    return out


def q1_run(path: Path, shift: float = 0.0, seeds: int = 2, unfinished: dict[int, str] | None = None) -> Path:
    """Three cells, ``seeds`` seeds: test/mape 3.0 (rnn), 2.5 (lstm), 2.0 (gru), + 0.01 a seed + ``shift``."""
    trials = []
    for seed in range(seeds):
        for i, cell in enumerate(("rnn", "lstm", "gru")):
            cfg = {"cell": cell, "loss": "mse", "optimizer": "adam", "dropout": 0.0, "seed": seed,
                   "features": ["close"], "epochs": 3, "formulation": "returns"}
            trials.append((cfg, q1_epochs(3.0 - 0.5 * i + 0.01 * seed + shift)))
    return write_run(path, "q1", trials, unfinished)


def run_of(rows: list[dict], task: Task = STOCK, history: list[dict] | None = None, path: Path | None = None) -> Run:
    """A ``Run`` from flat rows: config keys under "config", metrics by name; train and val metrics also count
    as their best-epoch (``best/``) values unless the rows have them. One history row a trial unless given."""
    flat = []
    for i, row in enumerate(rows):
        out = {"trial_id": row.get("trial_id", f"t{i}"), "epochs_run": row.get("epochs_run", 1)}
        out.update({f"config/{k}": v for k, v in row["config"].items()})
        out.update({k: v for k, v in row.items() if k not in ("config", "trial_id")})
        for k, v in row.items():
            if k.split("/")[0] in ("val", "train"):
                out.setdefault(M.best(k), v)
        flat.append(out)
    trials = with_derived(pd.DataFrame(flat), task)
    hist = pd.DataFrame(history) if history else trials.assign(epoch=1, training_iteration=1)
    info = {"study": task.study, "task": task.module, "metric": task.metric, "mode": task.mode}
    return Run(path=path or Path("."), info=info, trials=trials, history=hist, unfinished=trials.iloc[0:0],
               unfinished_history=hist.iloc[0:0])
