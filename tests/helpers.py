"""Small data the tests build themselves."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pandas as pd

YAHOO_COLUMNS = ["Date", "Open", "High", "Low", "Close", "Adj Close", "Volume"]


def yahoo_frame(n: int = 120, start: str = "2015-01-01", base: float = 100.0, seed: int = 0) -> pd.DataFrame:
    """A random-walk price table in Yahoo Finance's export format, business days."""
    rng = np.random.default_rng(seed)
    close = base * np.exp(np.cumsum(rng.normal(0, 0.01, n)))
    dates = pd.bdate_range(start, periods=n)
    return pd.DataFrame({
        "Date": dates.strftime("%Y-%m-%d"), "Open": close * 0.99, "High": close * 1.01, "Low": close * 0.98,
        "Close": close, "Adj Close": close, "Volume": rng.integers(1_000, 10_000, n),
    })[YAHOO_COLUMNS]


def write_folder(folder: Path, tickers=("GOOG", "AAPL"), n: int = 120) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for i, t in enumerate(tickers):
        yahoo_frame(n, base=100.0 * (i + 1), seed=i).to_csv(folder / f"{t}.csv", index=False)
    return folder


def synthetic_prices(n: int = 160, tickers=("GOOG", "AAPL")) -> pd.DataFrame:
    """Prices as load_prices returns them: (ticker, field) columns, date index."""
    from trainables.stock.data import _align, _clean

    frames = {t: _clean(yahoo_frame(n, base=50.0 * (i + 1), seed=i), t)[0] for i, t in enumerate(tickers)}
    return _align(frames, "synthetic")


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
    from analysis.wandb_records import logged_runs

    deadline = time.monotonic() + timeout
    while True:
        runs = logged_runs(run_dir)
        if (len(runs) >= count and all(r.exited for r in runs)) or time.monotonic() > deadline:
            return runs
        time.sleep(0.5)
