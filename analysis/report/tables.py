"""Grouped summaries written as Markdown and CSV."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd

from trainables.common.layout import CONFIG_PREFIX


def summarize(frame: pd.DataFrame, by: list[str], metrics: list[str]) -> pd.DataFrame:
    """Mean, std and count of each metric per group (std is NaN for one seed)."""
    present = [m for m in metrics if m in frame.columns]
    grouped = frame.groupby(by, sort=True, dropna=False)[present]
    out = pd.concat({"mean": grouped.mean(), "std": grouped.std(ddof=1)}, axis=1)
    out[("n", "")] = grouped.size()
    return out


def mean_pm_std(summary: pd.DataFrame, digits: int = 3) -> pd.DataFrame:
    """Render ``summarize`` output as 'mean ± std' strings, one column a metric."""
    means, stds = summary["mean"], summary["std"]
    cells = {
        m: [
            f"{mu:.{digits}f}" if pd.isna(sd) else f"{mu:.{digits}f} ± {sd:.{digits}f}"
            for mu, sd in zip(means[m], stds[m])
        ]
        for m in means.columns
    }
    shown = pd.DataFrame(cells, index=means.index)
    shown["n"] = summary[("n", "")].to_numpy()
    return shown


def interval_cells(frame: pd.DataFrame, by: list[str], metric: str, digits: int = 3) -> pd.Series:
    """'[low, high]': the 95% t-interval of the mean of ``metric`` per group (empty below two seeds)."""
    from analysis.verdicts.stats import mean_ci as interval

    def cell(values) -> str:
        _, low, high = interval(values)
        return "" if pd.isna(low) else f"[{low:.{digits}f}, {high:.{digits}f}]"

    return frame.groupby(by, sort=True, dropna=False)[metric].apply(cell)


def write_table(table: pd.DataFrame, stem: Path, title: str, note: str = "") -> list[Path]:
    """``stem.md`` (readable) and ``stem.csv`` (for tools)."""
    stem.parent.mkdir(parents=True, exist_ok=True)
    md, csv = stem.with_suffix(".md"), stem.with_suffix(".csv")
    text = f"## {title}\n\n" + (f"{note}\n\n" if note else "") + to_markdown(table) + "\n"
    md.write_text(text)
    table.to_csv(csv)
    return [md, csv]


# The one group of a run whose settings do not vary: the column a table is grouped by, and its row's label.
ALL_TRIALS = "trials"
ALL = "all"


def level(value: Any) -> str:
    """A setting's value for a reader: a float to 4 significant digits, since a search draws them at full
    precision and 17 digits say nothing."""
    return f"{value:.4g}" if isinstance(value, float) else str(value)


def row_label(key: Any) -> str:
    """A table row's label from its settings, e.g. 'gru / 0.1'."""
    return " / ".join(map(level, key if isinstance(key, tuple) else (key,)))


def shown(table: pd.DataFrame) -> tuple[list[str], list[list[str]]]:
    """(header, rows) of ``table`` as a reader sees it: the row labels first (under the settings' names), every
    cell as text, missing values empty. Markdown and HTML render the same."""
    index_name = " / ".join(str(n).removeprefix(CONFIG_PREFIX) for n in table.index.names if n is not None)
    header = [index_name] + [str(c) for c in table.columns]
    keys = [row_label(i) for i in table.index]
    rows = [[k] + ["" if pd.isna(v) else str(v) for v in row] for k, row in zip(keys, table.astype(object).to_numpy())]
    return header, rows


def to_markdown(table: pd.DataFrame) -> str:
    """A GitHub-style Markdown table of ``table`` (index first).

    pandas' own ``to_markdown`` needs a newer ``tabulate`` than some data
    packages allow, and a plain table needs nothing more than this.
    """
    header, rows = shown(table)
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(r) + " |" for r in rows]
    return "\n".join(lines)
