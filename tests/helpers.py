"""Small data the tests build themselves."""

from __future__ import annotations

import time
from pathlib import Path

from trainables.stock.data import YAHOO_COLUMNS, synthetic_prices, yahoo_frame  # noqa: F401  (the tests' names)


def write_folder(folder: Path, tickers=("GOOG", "AAPL"), n: int = 120) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for i, t in enumerate(tickers):
        yahoo_frame(n, base=100.0 * (i + 1), seed=i).to_csv(folder / f"{t}.csv", index=False)
    return folder


def load_benchmark(name: str):
    """A script of benchmarks/ as a module (benchmarks/ is no package), so tests drive its functions."""
    import importlib.util

    path = Path(__file__).resolve().parents[1] / "benchmarks" / f"{name}.py"
    spec = importlib.util.spec_from_file_location(f"bench_{name}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def logged_when_written(run_dir, count: int, timeout: float = 60.0) -> list:
    """The ``count`` W&B runs logged in ``run_dir``, once wandb has written each to its end (its service
    finishes a file after ``finish()`` returns)."""
    from analysis.wandb_report.records import logged_runs

    deadline = time.monotonic() + timeout
    while True:
        runs = logged_runs(run_dir)
        if (len(runs) >= count and all(r.exited for r in runs)) or time.monotonic() > deadline:
            return runs
        time.sleep(0.5)
