"""Synthetic run folders and result frames with known answers, for the reporting tests."""

from __future__ import annotations

import itertools
import json
from pathlib import Path

import numpy as np
import pandas as pd

from analysis.results import RunResults


def write_trial(run_dir: Path, trial_id: str, config: dict, epochs: list[dict]) -> Path:
    """A Ray-like trial folder: params.json and one result.json line per report."""
    trial_dir = run_dir / f"train_{trial_id}"
    trial_dir.mkdir(parents=True)
    (trial_dir / "params.json").write_text(json.dumps(config))
    lines = []
    for i, metrics in enumerate(epochs, start=1):
        row = {**metrics, "training_iteration": i, "trial_id": trial_id, "config": config,
               "hostname": "node-a", "node_ip": "10.0.0.1", "pid": 1, "time_total_s": float(i), "done": i == len(epochs)}
        lines.append(json.dumps(row))
    (trial_dir / "result.json").write_text("\n".join(lines) + "\n")
    return trial_dir


def write_run(run_dir: Path, study: str, trials: list[tuple[dict, list[dict]]]) -> Path:
    run_dir.mkdir(parents=True, exist_ok=True)
    (run_dir / "study.json").write_text(json.dumps({"study": study}))
    for i, (config, epochs) in enumerate(trials):
        write_trial(run_dir, f"{i:05d}", config, epochs)
    return run_dir


def frames(rows: list[dict], history: list[dict] | None = None) -> RunResults:
    """RunResults from flat rows whose config keys are given without the ``config/`` prefix under "config"."""
    flat = []
    for i, row in enumerate(rows):
        out = {"trial_id": row.get("trial_id", f"t{i}")}
        out.update({f"config/{k}": v for k, v in row["config"].items()})
        out.update({k: v for k, v in row.items() if k not in ("config", "trial_id")})
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
                             range(seeds))
    for n, (cell, loss, opt, drop, seed) in enumerate(grid):
        cfg = {"cell": cell, "loss": loss, "optimizer": opt, "dropout": drop, "seed": seed}
        mape = 2.0 + effects.get(("cell", cell), 0) + effects.get(("optimizer", opt), 0)
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
