"""Synthetic run folders and result frames with known answers, for the reporting tests."""

from __future__ import annotations

import itertools
import json
import math
from pathlib import Path

import numpy as np
import pandas as pd

from analysis.results import RunResults
from trainables.common import metrics as M
from trainables.common.layout import STUDY_FILE

STUDY_INFO = {"q1": {"study": "q1", "task": "stock", "metric": M.VAL_MAPE, "mode": "min"}}


def with_loop_fields(epochs: list[dict], metric: str, mode: str, completed: bool) -> list[dict]:
    """Reports as the shared loop makes them: best epoch so far on each, ``completed`` on a finished final one."""
    best, best_value, out = 0, math.nan, []
    for epoch, metrics in enumerate(epochs, start=1):
        value = metrics.get(metric, math.nan)
        if best == 0 or (value < best_value if mode == "min" else value > best_value):
            best, best_value = epoch, value
        out.append({M.EPOCH: epoch, **metrics, M.BEST_EPOCH: metrics.get(M.BEST_EPOCH, best)})
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
               "hostname": "node-a", "node_ip": "10.0.0.1", "pid": 1, "time_total_s": float(i), "done": i == len(epochs)}
        lines.append(json.dumps(row))
    (trial_dir / "result.json").write_text("\n".join(lines) + "\n")
    if errored:
        (trial_dir / "error.txt").write_text("RuntimeError: injected\n")
    return trial_dir


def write_run(run_dir: Path, study: str, trials: list[tuple[dict, list[dict]]], unfinished: dict[int, str] | None = None) -> Path:
    """A run folder; ``unfinished`` maps a trial's index to "error" or "unfinished" (no completed final report)."""
    run_dir.mkdir(parents=True, exist_ok=True)
    info = STUDY_INFO.get(study, {"study": study})
    (run_dir / STUDY_FILE).write_text(json.dumps(info))
    for i, (config, epochs) in enumerate(trials):
        status = (unfinished or {}).get(i)
        write_trial(run_dir, f"{i:05d}", config, epochs, info.get("metric", M.VAL_MAPE), info.get("mode", "min"),
                    completed=status is None, errored=status == "error")
    return run_dir


def frames(rows: list[dict], history: list[dict] | None = None) -> RunResults:
    """RunResults from flat rows whose config keys are given without the ``config/`` prefix under "config".

    Validation and training metrics are also given as their ``best/`` values (one-epoch trials) unless the rows have them.
    """
    flat = []
    for i, row in enumerate(rows):
        out = {"trial_id": row.get("trial_id", f"t{i}")}
        out.update({f"config/{k}": v for k, v in row["config"].items()})
        out.update({k: v for k, v in row.items() if k not in ("config", "trial_id")})
        for k, v in row.items():
            if k.split("/")[0] in ("val", "train"):
                out.setdefault(f"best/{k}", v)
        flat.append(out)
    trials = pd.DataFrame(flat)
    hist = pd.DataFrame(history) if history else trials.assign(epoch=1, training_iteration=1)
    return RunResults(trials=trials, history=hist)


def q1_grid(effects: dict, seeds: int = 5, noise: float = 0.05, rng_seed: int = 0) -> RunResults:
    """The q1 grid where test/mape = 2 + the sum of ``effects[(factor, value)]`` (+ per-cell pairs) + noise.

    ``effects`` keys: ("cell", "gru"), ("time", "lstm"), (("loss", "mape"), "rnn") for a loss effect on one cell, ...
    """
    rng = np.random.default_rng(rng_seed)
    rows, history = [], []
    grid = itertools.product(("rnn", "lstm", "gru"), ("mse", "mape"), ("adam", "adagrad", "rmsprop"), (0.0, 0.1),
                             ("returns", "paper"), range(seeds))
    for n, (cell, loss, opt, drop, form, seed) in enumerate(grid):
        cfg = {"cell": cell, "loss": loss, "optimizer": opt, "dropout": drop, "formulation": form, "seed": seed}
        mape = 2.0 + effects.get(("cell", cell), 0) + effects.get(("optimizer", opt), 0)
        mape += effects.get(("formulation", form), 0)
        mape += effects.get((("loss", loss), cell), 0) + effects.get((("dropout", drop), cell), 0)
        mape += noise * rng.standard_normal()
        seconds = 10 + effects.get(("time", cell), 0) + rng.standard_normal() * noise
        tid = f"t{n}"
        rows.append({"trial_id": tid, "config": cfg, "test/mape": mape, "val/mape": mape,
                     "time/total_s": seconds, "baseline/persistence/test/mape": 1.5})
        for epoch in (1, 2, 3):
            speed = effects.get(("speed", opt), 0)
            history.append({"trial_id": tid, "epoch": epoch, "training_iteration": epoch,
                            "val/mape": mape + (3 - epoch) * (1 + speed)})
    return frames(rows, history)


def q1_epochs(mape: float, n: int = 3) -> list[dict]:
    out = []
    for e in range(1, n + 1):
        row = {"epoch": e, "train/loss": 1.0 / e, "val/loss": 2.0 / e, "val/mape": mape + (n - e),
               "time/total_s": 2.0 * e}
        if e == n:
            row.update({"test/mape": mape, "test/rmse": 3.0, "test/mae": 2.0, "baseline/persistence/test/mape": 1.5,
                        "baseline/persistence/test/rmse": 2.5, "baseline/persistence/test/mae": 1.8})
            for metric in ("mape", "rmse", "mae"):
                for ticker, offset in (("GOOG", 0.1), ("AAPL", -0.1)):
                    row[f"test/{metric}/{ticker}"] = row[f"test/{metric}"] + offset
                    row[f"baseline/persistence/test/{metric}/{ticker}"] = row[f"baseline/persistence/test/{metric}"] + offset
        out.append(row)
    return out


def q1_run(path: Path, shift: float = 0.0, seeds: int = 2, unfinished: dict[int, str] | None = None) -> Path:
    """Three cells, ``seeds`` seeds: test/mape 3.0 (rnn), 2.5 (lstm), 2.0 (gru), + 0.01 a seed + ``shift``."""
    trials = []
    for seed in range(seeds):
        for i, cell in enumerate(("rnn", "lstm", "gru")):
            cfg = {"cell": cell, "loss": "mse", "optimizer": "adam", "dropout": 0.0, "seed": seed,
                   "features": ["close"], "epochs": 3}
            trials.append((cfg, q1_epochs(3.0 - 0.5 * i + 0.01 * seed + shift)))
    return write_run(path, "q1", trials, unfinished)
