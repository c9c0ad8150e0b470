"""Plots like the paper's, written as PNG files."""

from __future__ import annotations

import math
import warnings
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files only: works on clusters and CI without a display
import matplotlib.pyplot as plt
import pandas as pd


def save(fig, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with warnings.catch_warnings():  # long labels: the figure is still readable, the console needs no warning
        warnings.simplefilter("ignore", UserWarning)
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
    return save(fig, path)


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
        paths.append(save(fig, out_dir / f"real_vs_predicted_{label}.png"))
    return paths


VERDICT_COLOURS = {"supported": "#2e7d32", "contradicted": "#c62828", "equivalent": "#1565c0",
                   "inconclusive": "#9e9e9e"}


def forest(rows: list[tuple[str, float, float, float, float, str]], path: Path, reach: float = 5.0) -> Path:
    """Every comparison on one axis: (label, difference, low, high, margin, verdict) per row.

    Each difference and its 95% interval is drawn in units of its own claim's
    margin, so the band from -1 to 1 is "no difference that matters" for
    every row alike and zero is "no difference at all". The axis spans
    ``reach`` margins either way; a difference beyond it is drawn at the edge
    as an arrow with its value written beside it.
    """
    fig, ax = plt.subplots(figsize=(9, 0.4 * len(rows) + 1.4))
    ax.axvspan(-1, 1, color="#e3f2fd", zorder=0)
    ax.axvline(0, color="black", lw=0.8, zorder=1)
    for y, (_, diff, low, high, margin, verdict) in enumerate(reversed(rows)):
        colour = VERDICT_COLOURS.get(verdict, "black")
        scale = margin if margin > 0 else 1.0
        centre = diff / scale
        if not math.isnan(low):  # there is an interval
            ax.plot([max(low / scale, -reach), min(high / scale, reach)], [y, y], color=colour, lw=2, zorder=2)
        if abs(centre) <= reach:
            ax.plot([centre], [y], "o", color=colour, zorder=3)
        else:
            edge = math.copysign(reach, centre)
            ax.plot([edge], [y], ">" if centre > 0 else "<", color=colour, ms=9, zorder=3)
            ax.annotate(f"{centre:+.0f}", (edge, y), xytext=(-4 if centre > 0 else 4, 6), textcoords="offset points",
                        ha="right" if centre > 0 else "left", fontsize=7, color=colour)
    ax.set_xlim(-reach - 0.3, reach + 0.3)
    ax.set_yticks(range(len(rows)), [shorten(r[0]) for r in reversed(rows)], fontsize=8)
    ax.set_xlabel("a − b, in margins (shaded: within ±1 margin, no difference that matters)", fontsize=9)
    handles = [plt.Line2D([], [], color=c, marker="o", lw=2, label=v) for v, c in VERDICT_COLOURS.items()]
    ax.legend(handles=handles, fontsize=7, loc="upper center", bbox_to_anchor=(0.5, -0.06 - 0.3 / len(rows)),
              ncol=len(handles), frameon=False)
    return save(fig, path)


def shorten(label: str, limit: int = 56) -> str:
    return label if len(label) <= limit else label[:limit - 1] + "…"


def confusion(cm: dict, title: str, path: Path) -> Path:
    """Raw counts and the share of each true class, side by side."""
    import numpy as np

    classes = cm["classes"]
    fig, axes = plt.subplots(1, 2, figsize=(10, 4))
    for ax, key, fmt in ((axes[0], "matrix", "d"), (axes[1], "normalized", ".2f")):
        values = np.asarray(cm[key])
        ax.imshow(values, cmap="Blues")
        for (i, j), v in np.ndenumerate(values):
            ax.text(j, i, format(int(v) if fmt == "d" else v, fmt), ha="center", va="center",
                    color="white" if v > values.max() / 2 else "black")
        ax.set_xticks(range(len(classes)), classes)
        ax.set_yticks(range(len(classes)), classes)
        ax.set_xlabel("predicted")
        ax.set_ylabel("true")
        ax.set_title(f"{title}: {'counts' if key == 'matrix' else 'normalised by true class'}", fontsize=9)
    return save(fig, path)


def histogram(frame: pd.DataFrame, value: str, by: str, cut: int | None, path: Path) -> Path:
    """A histogram of ``value`` per group of ``by``, with a dashed line at ``cut`` (e.g. the maximum length)."""
    fig, ax = plt.subplots(figsize=(7, 3.5))
    for name, group in frame.groupby(by):
        ax.hist(group[value], bins=range(int(group[value].max()) + 2), alpha=0.6, label=Path(str(name)).name)
    if cut:
        ax.axvline(cut, color="black", ls="--", lw=1, label=f"cut at {cut}")
    ax.set_xlabel(value)
    ax.legend()
    return save(fig, path)
