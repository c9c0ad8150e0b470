"""Line up the same configurations from two runs (CPU vs GPU, before vs after a change).

Trials match on their config (seed included), minus fields named in
``ignore`` (e.g. ``epochs`` when one run was shorter). For each match the
main test metric (the test counterpart of the task's selection metric) and
the wall time of both runs are shown with their difference and ratio; the
summary pairs the matches (``analysis.verdicts.stats``). Only completed trials count.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from analysis.report.tables import to_markdown
from analysis.runs.read import read_run
from analysis.verdicts import stats
from trainables.common.layout import CONFIG_PREFIX

TIME = "wall_time_s"


def line_up(a: pd.DataFrame, b: pd.DataFrame, metric: str,
            ignore: tuple[str, ...] = ()) -> tuple[pd.DataFrame, list[str]]:
    """Matched trials with metric and time of both runs; the config columns matched on."""
    dropped = {CONFIG_PREFIX + f for f in ignore}
    keys = sorted(c for c in set(a.columns) & set(b.columns) if c.startswith(CONFIG_PREFIX) and c not in dropped)
    cols = [metric, TIME]
    left = a[keys + [c for c in cols if c in a]].astype({k: str for k in keys})
    right = b[keys + [c for c in cols if c in b]].astype({k: str for k in keys})
    joined = left.merge(right, on=keys, suffixes=(" A", " B"), how="outer", indicator=True)
    return joined, keys


def compare_runs(run_a: str | Path, run_b: str | Path, metric: str | None = None,
                 ignore: tuple[str, ...] = ()) -> tuple[pd.DataFrame, str]:
    """The lined-up table and a Markdown summary of the differences B − A."""
    first, second = read_run(run_a), read_run(run_b)
    a, b = first.trials, second.trials
    metric = metric or first.test_metric()
    if metric not in a or metric not in b:
        raise SystemExit(f"error: metric {metric!r} is not in both runs")
    joined, keys = line_up(a, b, metric, ignore)
    both = joined[joined["_merge"] == "both"].drop(columns="_merge").copy()
    varying = [k for k in keys if both[k].nunique() > 1] or keys[:1]
    both[f"{metric} B − A"] = both[f"{metric} B"] - both[f"{metric} A"]
    if f"{TIME} A" in both and f"{TIME} B" in both:
        both["time B / A"] = both[f"{TIME} B"] / both[f"{TIME} A"]
    table = both.drop(columns=[k for k in keys if k not in varying]).set_index(varying)
    only_a = int((joined["_merge"] == "left_only").sum())
    only_b = int((joined["_merge"] == "right_only").sum())
    lines = [f"# {second.path.name} (B) against {first.path.name} (A)", "",
             (f"Matched {len(both)} configurations on {len(keys)} config fields; "
              f"only in A: {only_a}, only in B: {only_b}.")]
    if len(first.unfinished) or len(second.unfinished):
        lines.append(f"Left out, not completed: {len(first.unfinished)} trials of A, {len(second.unfinished)} of B.")
    if len(both):
        r = stats.paired(both[f"{metric} B"], both[f"{metric} A"])  # a = B, b = A: the difference is B − A
        lines.append(f"{metric}: A {r.mean_b:.4g}, B {r.mean_a:.4g}, B − A {r.diff:+.4g}"
                     + (f" [95% CI {r.ci_low:+.4g}, {r.ci_high:+.4g}], paired t p={r.p_t:.3g}" if r.n >= 2 else ""))
        if "time B / A" in both:
            lines.append(f"wall time: median B / A = {both['time B / A'].median():.3f} "
                         f"(total A {both[f'{TIME} A'].sum():.1f} s, B {both[f'{TIME} B'].sum():.1f} s)")
        lines += ["", to_markdown(table.round(4))]
    return table, "\n".join(lines) + "\n"
