"""Report parts beyond tables, one renderer a kind; a task declares the parts it wants (``Task.parts``).

Each kind (a dataclass of ``trainables.common.parts``) works for any task
whose trials record what it reads: learning curves of the best trial per
group, a data file's series, a file of the final checkpoint (predictions, a
confusion matrix), values at given epochs, when a threshold is first
reached, and generated samples (tasks that generate). A data file the part
reads and the run lacks is an error naming it. Nothing here names a task.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from analysis.report import plots
from analysis.report.entries import Entry
from analysis.report.tables import ALL, ALL_TRIALS, level, row_label
from analysis.runs.read import Run
from trainables.common import checkpoint
from trainables.common import metrics as M
from trainables.common.layout import CONFIG_PREFIX, PLOTS_DIR
from trainables.common.parts import (
    Confusion,
    Curves,
    Part,
    Points,
    Predictions,
    Reach,
    Samples,
    Series,
    TokenLengths,
)

C = CONFIG_PREFIX

Renderer = Callable[[Run, Any], list[Entry]]
RENDERERS: dict[type[Part], Renderer] = {}
"""Each kind of report part (``trainables.common.parts.Part``) -> the function that draws it: the one registry."""


def renders(kind: type[Part]) -> Callable[[Renderer], Renderer]:
    """Register the decorated function as the renderer of ``kind`` (one a kind)."""
    def register(fn: Renderer) -> Renderer:
        if kind in RENDERERS:
            raise ValueError(f"{kind.__name__} has a renderer already: {RENDERERS[kind].__name__}")
        RENDERERS[kind] = fn
        return fn
    return register


def groups(run: Run) -> list[str]:
    """The settings that vary between trials, the seed aside: what "each group" means."""
    return run.groups()


def label(row: pd.Series, by: list[str]) -> str:
    return ", ".join(f"{c.removeprefix(C)}={level(row[c])}" for c in by) or "all trials"


def best_per_group(run: Run, by: list[str] | None = None) -> pd.DataFrame:
    by = groups(run) if by is None else by
    return run.best_of(run.trials.assign(**{ALL_TRIALS: ALL}), by or [ALL_TRIALS])


def unit(run: Run, field: str | None) -> str:
    """"epoch", or "round" when a task's field makes an epoch a round of updates (q2's steps_per_epoch)."""
    if field and C + field in run.trials and (run.trials[C + field].fillna(0) != 0).any():
        return "round"
    return "epoch"


def data_file(run: Run, name: str, title: str) -> Path:
    """A file the study wrote into the run folder; FileNotFoundError naming it when the run lacks it."""
    path = run.path / name
    if not path.is_file():
        raise FileNotFoundError(f"{path}: the report part {title!r} reads this file, and the run has none")
    return path


@renders(Curves)
def curves(run: Run, part: Curves) -> list[Entry]:
    """The best trial of each group per epoch: the selection metric, and each training loss on its own panel."""
    best = best_per_group(run)
    if best.empty or run.metric not in run.history:
        return []
    hist = run.history[run.history["trial_id"].isin(best["trial_id"])]
    by = groups(run)
    split = part.loss_field
    panels: dict[str, list[tuple[str, str, str]]] = {run.metric: []}
    for _, row in best.iterrows():
        name = label(row, by)
        panels[run.metric].append((row["trial_id"], run.metric, name))
        loss = f" (training loss {row[C + split]})" if split and C + split in row else ""
        panels.setdefault(f"{M.TRAIN_LOSS}{loss}", []).append((row["trial_id"], M.TRAIN_LOSS, name))
    fig, axes = plt.subplots(1, len(panels), figsize=(5.2 * len(panels), 3.8), squeeze=False)
    for ax, (title, lines) in zip(axes[0], panels.items()):
        for trial_id, metric, name in lines:
            rows = hist[hist["trial_id"] == trial_id]
            ax.plot(rows[M.EPOCH], rows[metric], label=name)
        ax.set_xlabel(unit(run, part.rounds_field))
        ax.set_title(title)
        ax.legend(fontsize="x-small")
    path = plots.save(fig, run.path / PLOTS_DIR / "learning_curves.png")
    return [Entry("Learning curves", f"The best trial of each group (by {run.metric} at its best "
                  f"{unit(run, part.rounds_field)}).", images=[path])]


@renders(Series)
def series(run: Run, part: Series) -> list[Entry]:
    """A data file the study wrote (a date-indexed CSV), one panel a column (q1: the price history)."""
    path = data_file(run, part.file, part.title)
    frame = pd.read_csv(path, index_col=0, parse_dates=True)
    image = plots.price_history(frame, run.path / PLOTS_DIR / f"{path.stem}.png")
    return [Entry(part.title, "", images=[image])]


@renders(Predictions)
def predictions(run: Run, part: Predictions) -> list[Entry]:
    """Actual against predicted test values of the best trial of each block (a CSV of the final checkpoint)."""
    name = part.file
    by = [C + b for b in run.task.paper.blocks if C + b in run.trials]
    found = {}
    for _, row in best_per_group(run, by).iterrows():
        folder = checkpoint.latest_folder(row["trial_dir"])
        if folder is not None and (folder / name).exists():
            found[label(row, by).split("=")[-1]] = pd.read_csv(folder / name, parse_dates=["date"])
    images = plots.real_vs_predicted(found, run.path / PLOTS_DIR) if found else []
    return [Entry("Predictions on the test days", "Best trial of each block.", images=images)] if images else []


@renders(Confusion)
def confusion(run: Run, part: Confusion) -> list[Entry]:
    """Raw and row-normalised confusion matrices of each group's best trial (a JSON file of the final checkpoint)."""
    name = part.file
    by, images = groups(run), []
    for _, row in best_per_group(run).iterrows():
        folder = checkpoint.latest_folder(row["trial_dir"])
        if folder is not None and (folder / name).exists():
            title = label(row, by)
            stem = "".join(ch if ch.isalnum() else "_" for ch in title).strip("_") or "all"
            images.append(plots.confusion(json.loads((folder / name).read_text()), title,
                                          run.path / PLOTS_DIR / f"confusion_{stem}.png"))
    return [Entry("Confusion matrices", "Best trial of each group, test part.", images=images)] if images else []


@renders(TokenLengths)
def lengths(run: Run, part: TokenLengths) -> list[Entry]:
    """Token counts per tokenizer from a data file (model, tokens): percentiles and a histogram."""
    frame = pd.read_csv(data_file(run, part.file, part.title))
    column = C + part.cut_field if part.cut_field else None
    cut = int(run.trials[column].iloc[0]) if column in run.trials and len(run.trials) else None
    rows = {}
    for model, texts in frame.groupby("model"):
        t = texts["tokens"].to_numpy()
        rows[Path(str(model)).name] = {"median": np.median(t), "p90": np.percentile(t, 90), "p99": np.percentile(t, 99),
                                       "max": t.max(), **({f"share > {cut}": round(float((t > cut).mean()), 4)}
                                                          if cut else {})}
    table = pd.DataFrame.from_dict(rows, orient="index").rename_axis("tokenizer")
    image = plots.histogram(frame, "tokens", "model", cut, run.path / PLOTS_DIR / "token_lengths.png")
    return [Entry(part.title, "", table, "lengths", images=[image])]


@renders(Points)
def points(run: Run, part: Points) -> list[Entry]:
    """A metric at given epochs (or rounds), read off each trial's curve, mean ± std per group."""
    from analysis.report.tables import mean_pm_std, summarize

    metric, epochs, hist, what = part.metric, part.epochs, run.history, unit(run, part.rounds_field)
    reached = [e for e in epochs if (hist[M.EPOCH] == e).any()] if metric in hist else []
    if not reached:
        return []
    at = hist[hist[M.EPOCH].isin(reached)].pivot_table(index="trial_id", columns=M.EPOCH, values=metric)
    at.columns = [f"{metric} @ {what} {e}" for e in at.columns]
    by = groups(run) or [ALL_TRIALS]
    frame = run.trials.assign(**{ALL_TRIALS: ALL}).set_index("trial_id")[by].join(at)
    table = mean_pm_std(summarize(frame, by, list(at.columns)))
    return [Entry(f"{metric} at {what}s {', '.join(map(str, reached))}", "Mean ± std over seeds.",
                  table, "points")]


@renders(Reach)
def reach(run: Run, part: Reach) -> list[Entry]:
    """Epochs, characters (or other work) and seconds until a metric first reaches each threshold, per group."""
    metric, thresholds, work = part.metric, part.thresholds, part.work
    hist, by = run.history, groups(run) or [ALL_TRIALS]
    if metric not in hist:
        return []
    cols = [c for c in (M.EPOCH, work, M.TIME_TOTAL) if c and c in hist]
    table: dict[str, dict[str, str]] = {}
    for t in thresholds:
        hit = hist[hist[metric] <= t].groupby("trial_id")[cols].first()
        frame = run.trials.assign(**{ALL_TRIALS: ALL}).set_index("trial_id")[by].join(hit)
        for key, rows in frame.groupby(by, sort=True, dropna=False):
            done = rows.dropna(subset=[M.EPOCH])
            cell = "never" if done.empty else ", ".join(f"{done[c].mean():.4g} {c.split('/')[-1]}" for c in cols)
            if 0 < len(done) < len(rows):
                cell += f" ({len(done)}/{len(rows)})"
            table.setdefault(row_label(key), {})[f"≤ {t}"] = cell
    frame = pd.DataFrame.from_dict(table, orient="index")
    return [Entry(f"When {metric} first reaches each threshold", "Mean over the seeds that reached it.", frame,
                  "reach")]


@renders(Samples)
def samples(run: Run, part: Samples) -> list[Entry]:
    """Greedy and sampled text from the best epoch's weights of each group's best trial (tasks that generate)."""
    if run.task.generate is None:
        return []
    seed_text, length, by, parts = run.info.get("seed_text") or part.seed_text, part.length, groups(run), []
    for _, row in best_per_group(run).iterrows():
        folder = checkpoint.latest_folder(row["trial_dir"])
        if folder is None or not seed_text:
            continue
        greedy = run.task.generate(folder, seed_text, length, greedy=True)
        sampled = run.task.generate(folder, seed_text, length, temperature=0.8, seed=0)
        parts.append(f"### {label(row, by)}\n\nGreedy (the paper's decoding):\n```\n{greedy}\n```\n"
                     f"Sampled, temperature 0.8, seed 0:\n```\n{sampled}\n```\n")
    text = f"Seed text:\n```\n{seed_text}\n```\n\n" + "\n".join(parts)
    return [Entry("Generated text", text)] if parts else []


def entries(run: Run, parts: tuple[Part, ...]) -> list[Entry]:
    """The report's entries for a task's declared parts, in their order."""
    return [entry for part in parts for entry in RENDERERS[type(part)](run, part)]
