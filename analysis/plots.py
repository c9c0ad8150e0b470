"""Plots like the paper's, written as PNG files."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files only: works on clusters and CI without a display
import matplotlib.pyplot as plt
import pandas as pd

from trainables.common import metrics as M


def _save(fig, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def price_history(closes: pd.DataFrame, path: Path) -> Path:
    fig, axes = plt.subplots(len(closes.columns), 1, figsize=(9, 2.6 * len(closes.columns)), squeeze=False)
    for ax, ticker in zip(axes[:, 0], closes.columns):
        ax.plot(closes.index, closes[ticker], lw=0.8)
        ax.set_title(f"{ticker} close")
        ax.set_ylabel("price")
    return _save(fig, path)


def loss_curves(history: pd.DataFrame, labels: dict[str, str], out_dir: Path) -> list[Path]:
    """Train and validation loss per epoch, linear and log scale, one line a trial."""
    paths = []
    for scale in ("linear", "log"):
        fig, axes = plt.subplots(1, 2, figsize=(11, 3.8), sharey=True)
        for trial_id, rows in history.groupby("trial_id"):
            for ax, metric in zip(axes, (M.TRAIN_LOSS, M.VAL_LOSS)):
                ax.plot(rows[M.EPOCH], rows[metric], label=labels.get(trial_id, trial_id))
        for ax, metric in zip(axes, (M.TRAIN_LOSS, M.VAL_LOSS)):
            ax.set_yscale(scale)
            ax.set_xlabel("epoch")
            ax.set_title(metric)
        axes[0].legend()
        paths.append(_save(fig, out_dir / ("loss_curves.png" if scale == "linear" else "log_loss_curves.png")))
    return paths


def real_vs_predicted(predictions: dict[str, pd.DataFrame], out_dir: Path) -> list[Path]:
    """Per cell, actual and predicted test closes of every ticker."""
    paths = []
    for label, frame in predictions.items():
        tickers = list(dict.fromkeys(frame["ticker"]))
        fig, axes = plt.subplots(len(tickers), 1, figsize=(9, 2.8 * len(tickers)), squeeze=False)
        for ax, ticker in zip(axes[:, 0], tickers):
            rows = frame[frame["ticker"] == ticker]
            ax.plot(rows["date"], rows["actual"], label="actual", lw=1)
            ax.plot(rows["date"], rows["predicted"], label=f"{label} prediction", lw=1)
            ax.set_title(f"{ticker}: test days, best {label} trial")
            ax.legend()
        paths.append(_save(fig, out_dir / f"real_vs_predicted_{label}.png"))
    return paths
