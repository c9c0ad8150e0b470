"""q1 report: the paper's sections 2.1 to 2.4 as tables, the formulation compared, plus plots.

Sections compare one factor at a time per cell, the other factors held at
the reference setting (the paper's MSE, Adam, no dropout, in the study's
default scale-free formulation); means and standard deviations are over
seeds. Every table ends with the persistence baseline (tomorrow = today) on
the same test days.
"""

from __future__ import annotations

from pathlib import Path

import matplotlib.pyplot as plt
import pandas as pd

from analysis import plots
from analysis.export import BEST_PREFIX
from analysis.results import latest_checkpoint
from analysis.run import Run, best_rows, ranked, read_run
from analysis.tables import mean_ci, mean_pm_std, summarize, write_table
from trainables.common import metrics as M
from trainables.common.layout import CONFIG_PREFIX, PLOTS_DIR, REPORT_MD, TABLES_DIR
from trainables.common.metrics import per_target
from trainables.stock.data import PRICES_FILE
from trainables.stock.task import TASK

C = CONFIG_PREFIX
REFERENCE = {"loss": "mse", "optimizer": "adam", "dropout": 0.0, "formulation": "returns"}
SECTIONS = {  # file stem: (title, factor compared per cell)
    "s2_1_cells": ("2.1 Cells compared: test error and training time", None),
    "s2_2_loss": ("2.2 MSE vs MAPE loss, per cell", "loss"),
    "s2_3_optimizer": ("2.3 Optimizers, per cell", "optimizer"),
    "s2_4_dropout": ("2.4 Dropout, per cell", "dropout"),
    "formulation": ("Formulation (not in the paper): returns vs the paper's scaled levels, per cell", "formulation"),
}
LOSS_UNITS = {"mse": "MSE of the scaled target", "mape": "MAPE on prices (%)"}
PREDICTIONS_FILE = TASK.artifacts["predictions"]


def tickers_of(frame: pd.DataFrame) -> list[str]:
    prefix = M.TEST_MAPE + "/"
    return [c[len(prefix):] for c in frame.columns if c.startswith(prefix)]


def test_metrics(tickers: list[str]) -> list[str]:
    names = [per_target(m, t) for m in (M.TEST_RMSE, M.TEST_MAE, M.TEST_MAPE) for t in tickers]
    return names + [M.TEST_MAPE, M.TIME_TOTAL, "epochs_run", M.BEST_EPOCH]


def section_table(trials: pd.DataFrame, factor: str | None) -> pd.DataFrame | None:
    """One factor per cell at the reference setting of the others; None if absent."""
    if M.TEST_MAPE not in trials:
        return None
    done = trials.dropna(subset=[M.TEST_MAPE])
    keep = pd.Series(True, index=done.index)
    for key, value in REFERENCE.items():
        if key != factor and C + key in done:
            keep &= done[C + key] == value
    rows = done[keep]
    if rows.empty or (factor and (C + factor not in rows or rows[C + factor].nunique() < 2)):
        return None
    by = [C + "cell"] + ([C + factor] if factor else [])
    tickers = tickers_of(rows)
    table = mean_pm_std(summarize(rows, by, test_metrics(tickers)))
    table["mape 95% CI"] = mean_ci(rows, by, M.TEST_MAPE).to_numpy()
    table.index = table.index.map(lambda k: " / ".join(map(str, k if isinstance(k, tuple) else (k,))))
    table.loc["persistence (tomorrow = today)"] = persistence_row(rows, tickers, table.columns)
    table.index.name = " / ".join(c[len(C):] for c in by)
    return table.rename(columns=lambda c: c.removeprefix("test/"))


def persistence_row(rows: pd.DataFrame, tickers: list[str], columns) -> list[str]:
    values = {}
    for m, base in ((M.TEST_RMSE, M.BASELINE_TEST_RMSE), (M.TEST_MAE, M.BASELINE_TEST_MAE), (M.TEST_MAPE, M.BASELINE_TEST_MAPE)):
        for t in tickers:
            values[per_target(m, t)] = rows[per_target(base, t)].mean()
        values[m] = rows[base].mean()
    return [f"{values[c]:.3f}" if c in values else "" for c in columns]


def best_per_cell(trials: pd.DataFrame) -> pd.DataFrame:
    """The best trial of each cell: best validation MAPE at its best epoch."""
    return best_rows(trials, C + "cell", TASK.metric, TASK.mode)


def top_trials(trials: pd.DataFrame, n: int = 10) -> pd.DataFrame:
    cols = [c for c in trials.columns if c.startswith(C) and trials[c].nunique() > 1]
    shown = ranked(trials, TASK.metric, TASK.mode).head(n)
    metrics = ["epochs_run", M.BEST_EPOCH, BEST_PREFIX + TASK.metric, M.TEST_MAPE, M.BASELINE_TEST_MAPE, M.TIME_TOTAL]
    table = shown[cols + metrics].round(4)
    return table.set_index(cols) if cols else table


def write_report(run_dir: str | Path, results: Run | None = None) -> list[Path]:
    """Write tables/ and plots/ and report.md into ``run_dir``; return the paths. ``results``: its completed trials."""
    run_dir = Path(run_dir)
    results = results or read_run(run_dir)
    trials = results.trials
    written: list[Path] = []
    parts = ["# q1: stock forecasting\n"]
    for stem, (title, factor) in SECTIONS.items():
        table = section_table(trials, factor)
        if table is None:
            continue
        note = "Mean ± std over seeds, and the 95% interval of the mean test MAPE; prices in dollars, MAPE in %; reference setting " + ", ".join(
            f"{k}={v}" for k, v in REFERENCE.items() if k != factor)
        written += write_table(table, run_dir / TABLES_DIR / stem, title, note)
        parts.append(written[-2].read_text())
    if not trials.empty:
        written += write_table(top_trials(trials), run_dir / TABLES_DIR / "top_trials", "Best trials by validation MAPE",
                               "Validation MAPE of each trial's best epoch, whose weights the test metrics come from.")
        parts.append(written[-2].read_text())
    written += write_plots(run_dir, results)
    parts += [f"![{p.stem}]({PLOTS_DIR}/{p.name})\n" for p in written if p.suffix == ".png"]
    report = run_dir / REPORT_MD
    report.write_text("\n".join(parts))
    return [report] + written


def write_plots(run_dir: Path, results: Run) -> list[Path]:
    out_dir = run_dir / PLOTS_DIR
    written = []
    prices_csv = run_dir / PRICES_FILE
    if prices_csv.exists():
        written.append(plots.price_history(pd.read_csv(prices_csv, index_col=0, parse_dates=True), out_dir / "price_history.png"))
    best = best_per_cell(results.trials)
    if best.empty:
        return written
    curves = results.history[results.history["trial_id"].isin(best["trial_id"])]
    written += learning_curves(curves, best, out_dir)
    predictions = {}
    for _, row in best.iterrows():
        ckpt = latest_checkpoint(row["trial_dir"])
        if ckpt is not None and (ckpt / PREDICTIONS_FILE).exists():
            predictions[row[C + "cell"]] = pd.read_csv(ckpt / PREDICTIONS_FILE, parse_dates=["date"])
    if predictions:
        written += plots.real_vs_predicted(predictions, out_dir)
    return written


def curve_panels(best: pd.DataFrame) -> dict[str, list[tuple[str, str, str]]]:
    """Panel title -> (trial_id, metric, label) lines: validation MAPE, whatever the loss, on one
    panel; each training loss on a panel of its own, as MSE and MAPE have different units."""
    losses = best[C + "loss"] if C + "loss" in best else pd.Series("mse", index=best.index)
    panels: dict[str, list[tuple[str, str, str]]] = {"validation MAPE on prices (%)": []}
    for (_, row), loss in zip(best.iterrows(), losses):
        label = f"{row[C + 'cell']} ({loss} loss)"
        panels["validation MAPE on prices (%)"].append((row["trial_id"], M.VAL_MAPE, label))
        panels.setdefault(f"train loss: {LOSS_UNITS.get(loss, loss)}", []).append((row["trial_id"], M.TRAIN_LOSS, label))
    return panels


def learning_curves(history: pd.DataFrame, best: pd.DataFrame, out_dir: Path) -> list[Path]:
    """The best trial per cell per epoch, linear and log scale (loss_curves.png, log_loss_curves.png)."""
    panels = curve_panels(best)
    paths = []
    for scale in ("linear", "log"):
        fig, axes = plt.subplots(1, len(panels), figsize=(5.5 * len(panels), 3.8), squeeze=False)
        for ax, (title, lines) in zip(axes[0], panels.items()):
            for trial_id, metric, label in lines:
                rows = history[history["trial_id"] == trial_id]
                ax.plot(rows[M.EPOCH], rows[metric], label=label)
            ax.set_yscale(scale)
            ax.set_xlabel("epoch")
            ax.set_title(title)
            ax.legend(fontsize="small")
        paths.append(plots._save(fig, out_dir / ("loss_curves.png" if scale == "linear" else "log_loss_curves.png")))
    return paths
