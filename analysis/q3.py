"""q3 report: encoders + LSTM and T5 against the baselines, per-class scores, plots.

Tables compare the arms (encoder and head, or T5) with mean ± std over
seeds, and end with the always-majority and TF-IDF logistic regression
baselines measured on the same test tweets. Plots: the token-length
histogram behind the maximum length, train / validation loss curves and
the raw and normalised confusion matrices of each arm's best trial.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

from analysis import plots
from analysis.results import latest_checkpoint
from analysis.run import Run, read_run
from analysis.tables import mean_pm_std, summarize, write_table
from trainables.common import metrics as M
from trainables.common.layout import CONFIG_PREFIX, PLOTS_DIR, REPORT_MD, TABLES_DIR
from trainables.common.metrics import per_target
from trainables.tweets.data import LENGTHS_FILE

C = CONFIG_PREFIX
ARM = "arm"
BASELINES = {  # row label: metric name of the baseline for each test metric
    "always majority": {M.TEST_ACC: M.BASELINE_MAJORITY_TEST_ACC, M.TEST_MACRO_F1: M.BASELINE_MAJORITY_TEST_MACRO_F1,
                        M.TEST_WEIGHTED_F1: M.BASELINE_MAJORITY_TEST_WEIGHTED_F1},
    "TF-IDF logistic regression": {M.TEST_ACC: M.BASELINE_TFIDF_TEST_ACC, M.TEST_MACRO_F1: M.BASELINE_TFIDF_TEST_MACRO_F1,
                                   M.TEST_WEIGHTED_F1: M.BASELINE_TFIDF_TEST_WEIGHTED_F1},
}


def short_name(encoder: str) -> str:
    return "MiniLM" if encoder == "offline-minilm" else Path(str(encoder).rstrip("/")).name


def arm_label(row: pd.Series) -> str:
    if row.get(C + "model_type") == "t5":
        return f"T5 {short_name(row[C + 'encoder'])}"
    return f"{short_name(row[C + 'encoder'])} + LSTM ({row.get(C + 'mode', 'frozen')})"


def classes_of(frame: pd.DataFrame) -> list[str]:
    prefix = M.TEST_F1 + "/"
    return [c[len(prefix):] for c in frame.columns if c.startswith(prefix)]


def finished(trials: pd.DataFrame) -> pd.DataFrame:
    if M.TEST_MACRO_F1 not in trials:
        return trials.iloc[0:0]
    done = trials.dropna(subset=[M.TEST_MACRO_F1]).copy()
    done[ARM] = done.apply(arm_label, axis=1)
    return done


def models_table(done: pd.DataFrame) -> pd.DataFrame:
    """Test scores per arm, then the baselines on the same tweets."""
    classes = classes_of(done)
    metrics = [M.TEST_ACC, M.TEST_MACRO_F1, M.TEST_WEIGHTED_F1] + [per_target(M.TEST_F1, c) for c in classes]
    table = mean_pm_std(summarize(done, [ARM], metrics + [M.TIME_TOTAL]))
    for label, names in BASELINES.items():
        names = dict(names)
        if label.startswith("TF-IDF"):
            names.update({per_target(M.TEST_F1, c): per_target(M.BASELINE_TFIDF_TEST_F1, c) for c in classes})
        table.loc[label] = [f"{done[names[m]].mean():.3f}" if m in names and names[m] in done else ""
                            for m in table.columns]
    table.index.name = "model"
    return table.rename(columns=lambda c: c.removeprefix("test/"))


def per_class_table(done: pd.DataFrame) -> pd.DataFrame:
    classes = classes_of(done)
    metrics = [per_target(m, c) for c in classes for m in (M.TEST_PRECISION, M.TEST_RECALL, M.TEST_F1)]
    table = mean_pm_std(summarize(done, [ARM], metrics))
    table.index.name = "model"
    return table.rename(columns=lambda c: c.removeprefix("test/"))


def top_trials(run: Run, done: pd.DataFrame, n: int = 10) -> pd.DataFrame:
    cols = [c for c in done.columns if c.startswith(C) and done[c].astype(str).nunique() > 1] or [ARM]
    shown = run.ranked(done).head(n)
    metrics = (run.best_metric, M.TEST_MACRO_F1, M.TEST_WEIGHTED_F1, M.TIME_TOTAL)
    keep = cols + ["epochs_run", M.BEST_EPOCH] + [m for m in metrics if m in shown]
    return shown[keep].round(4).set_index(cols)


def length_table(lengths: pd.DataFrame, max_length: int) -> pd.DataFrame:
    """Token-count percentiles per tokenizer and the share cut at ``max_length``."""
    rows = {}
    for model, group in lengths.groupby("model"):
        t = group["tokens"].to_numpy()
        rows[short_name(model)] = {"median": np.median(t), "p90": np.percentile(t, 90), "p99": np.percentile(t, 99),
                                   "max": t.max(), f"share > {max_length}": round(float((t > max_length).mean()), 4)}
    table = pd.DataFrame.from_dict(rows, orient="index")
    table.index.name = "tokenizer"
    return table


def write_report(run_dir: str | Path, run: Run | None = None) -> list[Path]:
    """Write tables/ and plots/ and report.md into ``run_dir``; return the paths. ``run``: its completed trials."""
    run_dir = Path(run_dir)
    run = run or read_run(run_dir)
    done = finished(run.trials)
    written: list[Path] = []
    parts = ["# q3: tweet classification\n"]
    max_length = int(run.trials[C + "max_length"].iloc[0]) if C + "max_length" in run.trials and len(run.trials) else 40

    def add(table, stem, title, note=""):
        written.extend(write_table(table, run_dir / TABLES_DIR / stem, title, note))
        parts.append(written[-2].read_text())

    lengths_csv = run_dir / LENGTHS_FILE
    lengths = pd.read_csv(lengths_csv) if lengths_csv.exists() else None
    if lengths is not None and not lengths.empty:
        add(length_table(lengths, max_length), "s4_1_lengths", "4.1 Tokens per cleaned tweet")
    if not done.empty:
        add(models_table(done), "s4_models", "Models compared on the test tweets",
            "Mean ± std over seeds; the baselines are fit and scored on the same split.")
        add(per_class_table(done), "s4_per_class", "Per-class precision, recall and F1 (test)")
        add(top_trials(run, done), "top_trials", "Best trials by validation macro-F1",
            "Validation score of each trial's best epoch, whose weights the test metrics come from.")
    written += write_plots(run, done, lengths, max_length)
    parts += [f"![{p.stem}]({PLOTS_DIR}/{p.name})\n" for p in written if p.suffix == ".png"]
    report = run_dir / REPORT_MD
    report.write_text("\n".join(parts))
    return [report] + written


def write_plots(run: Run, done: pd.DataFrame, lengths, max_length: int) -> list[Path]:
    out_dir = run.path / PLOTS_DIR
    written = []
    if lengths is not None and not lengths.empty:
        written.append(length_histogram(lengths, max_length, out_dir / "token_lengths.png"))
    if done.empty:
        return written
    best = run.best_of(done, ARM)
    curves = run.history[run.history["trial_id"].isin(best["trial_id"])]
    written += plots.loss_curves(curves, dict(zip(best["trial_id"], best[ARM])), out_dir)
    confusion_file = run.task.artifacts["confusion"]
    for _, row in best.iterrows():
        ckpt = latest_checkpoint(row["trial_dir"])
        if ckpt is not None and (ckpt / confusion_file).exists():
            cm = json.loads((ckpt / confusion_file).read_text())
            name = "".join(ch if ch.isalnum() else "_" for ch in row[ARM]).strip("_")
            written.append(confusion_plot(cm, row[ARM], out_dir / f"confusion_{name}.png"))
    return written


def length_histogram(lengths: pd.DataFrame, max_length: int, path: Path) -> Path:
    fig, ax = plots.plt.subplots(figsize=(7, 3.5))
    for model, group in lengths.groupby("model"):
        ax.hist(group["tokens"], bins=range(int(group["tokens"].max()) + 2), alpha=0.6, label=short_name(model))
    ax.axvline(max_length, color="black", ls="--", lw=1, label=f"max length {max_length}")
    ax.set_xlabel("tokens per tweet")
    ax.set_ylabel("tweets")
    ax.legend()
    return plots._save(fig, path)


def confusion_plot(cm: dict, title: str, path: Path) -> Path:
    """Raw counts and the share of each true class, side by side."""
    classes = cm["classes"]
    fig, axes = plots.plt.subplots(1, 2, figsize=(10, 4))
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
        ax.set_title(f"{title}: {'counts' if key == 'matrix' else 'normalised by true class'}")
    return plots._save(fig, path)
