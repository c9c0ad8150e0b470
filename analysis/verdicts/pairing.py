"""How a claim's comparison reads its numbers from a run: matched trials, one pair a seed.

A comparison selects the completed trials at the reference setting (plus its
own ``at``) on both sides of its factor, matches them on seed and on the other
settings that vary (the blocks, e.g. the cells when optimizers are compared),
measures each matched pair, and averages the blocks within each seed: n is the
number of seeds. The measures (``trainables.common.paper``):

- FINAL: the metric's final value (test metrics, scored with the best epoch's weights);
- PER_EPOCH: the metric over the epochs run (time per epoch: trials stopped early run fewer);
- CURVE: the metric's mean over the epochs both trials of a pair ran (area under a common span);
- AT_EQUAL: the metric at each trial's last report within the work both did (time, characters, updates);
- CHOSEN: the setting best on validation, against a baseline the same trials record;
- ``against``: the ``a`` arm's metric against a baseline metric the same trials record.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pandas as pd

from analysis.report.tables import level
from analysis.runs.read import varying
from trainables.common import metrics as M
from trainables.common.layout import CONFIG_PREFIX, SEED_COLUMN
from trainables.common.paper import AT_EQUAL, CHOSEN, CURVE, FINAL, PER_EPOCH, Claim, Compare, Margin

C = CONFIG_PREFIX
EPOCHS_RUN = "epochs_run"


class Missing(ValueError):
    """What a comparison needs and the run lacks (the claim is then "not run")."""


def select(trials: pd.DataFrame, settings: Mapping[str, Any]) -> pd.DataFrame:
    """Trials whose config matches ``settings``; a setting whose column is absent does not vary, so matches."""
    keep = pd.Series(True, index=trials.index)
    for name, value in settings.items():
        if C + name in trials:
            keep &= trials[C + name] == value
    return trials[keep]


def replicate_columns(rows: pd.DataFrame) -> list[str]:
    """The columns a seed sets (the seed, and q3's split): one replicate, not settings to match on."""
    return rows.attrs.get("replicate", [SEED_COLUMN])


def blocks(left: pd.DataFrame, right: pd.DataFrame, factor: str) -> list[str]:
    """What trials are matched on: the seed, and the settings that vary within a side (the blocks, e.g. the cells).

    A setting that is constant on each side but differs between them belongs to
    the arms compared (q3's encoder goes with its family), not to the blocks.
    """
    skip = {C + factor, SEED_COLUMN, *replicate_columns(left)}
    keys = [c for c in left.columns if c.startswith(C) and c not in skip and c in right
            and (left[c].astype(str).nunique(dropna=False) > 1 or right[c].astype(str).nunique(dropna=False) > 1)]
    return ([SEED_COLUMN] if SEED_COLUMN in left else []) + sorted(keys)


def pairs(claim: Claim, comp: Compare, reference: Mapping[str, Any], trials: pd.DataFrame,
          history: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(per-seed means of a and b, the rows compared): the comparison's numbers, one row a seed."""
    measure, metric = comp.measure or claim.measure, comp.metric or claim.metric
    if measure == CHOSEN:
        rows = chosen_rows(trials)
        return per_seed(rows, rows[need(rows, metric)], rows[need(rows, comp.against)]), rows
    settings = {k: v for k, v in reference.items() if k != comp.factor and k not in comp.over}
    rows = select(trials, {**settings, **comp.at})
    if comp.against:
        rows = rows[rows.get(C + comp.factor) == comp.a] if C + comp.factor in rows else rows.iloc[0:0]
        return per_seed(rows, rows[need(rows, metric)], rows[need(rows, comp.against)]), rows
    if C + comp.factor not in rows:
        raise Missing(f"trials with {comp.factor} = {comp.a} and {comp.b}")
    left = rows[rows[C + comp.factor] == comp.a]
    right = rows[rows[C + comp.factor] == comp.b]
    keys = blocks(left, right, comp.factor)
    matched = left.merge(right, on=keys, suffixes=("_a", "_b")) if keys else left.merge(right, how="cross",
                                                                                          suffixes=("_a", "_b"))
    a, b = measured(matched, measure, metric, comp.work, history)
    return per_seed(matched, a, b), rows[rows[C + comp.factor].isin([comp.a, comp.b])]


def need(rows: pd.DataFrame, column: str | None) -> str:
    if column is None or column not in rows:
        raise Missing(str(column))
    return column


def measured(matched: pd.DataFrame, measure: str, metric: str, work: str | None,
             history: pd.DataFrame) -> tuple[pd.Series, pd.Series]:
    """Each matched pair's values of side a and side b under ``measure``."""
    if measure == FINAL:
        return matched[need(matched, metric + "_a")], matched[need(matched, metric + "_b")]
    if measure == PER_EPOCH:
        return (matched[need(matched, metric + "_a")] / matched[EPOCHS_RUN + "_a"],
                matched[need(matched, metric + "_b")] / matched[EPOCHS_RUN + "_b"])
    curves = {tid: h.sort_values(M.EPOCH) for tid, h in history.groupby("trial_id")}
    values = [paired_curves(curves.get(ta), curves.get(tb), measure, metric, work)
              for ta, tb in zip(matched["trial_id_a"], matched["trial_id_b"])]
    frame = pd.DataFrame(values, columns=["a", "b"], index=matched.index, dtype=float)
    return frame["a"], frame["b"]


def paired_curves(ca: pd.DataFrame | None, cb: pd.DataFrame | None, measure: str, metric: str,
                  work: str | None) -> tuple[float, float]:
    """A pair's values on the span both trials covered: CURVE (mean over common epochs) or AT_EQUAL."""
    if ca is None or cb is None or metric not in ca or metric not in cb:
        raise Missing(f"per-epoch {metric}")
    if measure == CURVE:
        last = min(ca[M.EPOCH].max(), cb[M.EPOCH].max())
        return (float(ca.loc[ca[M.EPOCH] <= last, metric].mean()), float(cb.loc[cb[M.EPOCH] <= last, metric].mean()))
    if measure == AT_EQUAL:
        if work not in ca or work not in cb:
            raise Missing(f"per-epoch {work}")
        budget = min(ca[work].max(), cb[work].max())
        return value_within(ca, work, metric, budget), value_within(cb, work, metric, budget)
    raise ValueError(f"unknown measure {measure!r}")


def value_within(curve: pd.DataFrame, work: str, metric: str, budget: float) -> float:
    """``metric`` at the last report whose ``work`` (time, characters, updates) is within ``budget``."""
    within = curve[curve[work] <= budget * (1 + 1e-9)].sort_values(work)
    return float(within[metric].iloc[-1]) if len(within) else float("nan")


def per_seed(rows: pd.DataFrame, a: pd.Series, b: pd.Series) -> pd.DataFrame:
    """Pair values averaged within each seed (over blocks): one row a seed."""
    seed = rows[SEED_COLUMN] if SEED_COLUMN in rows else rows.get(SEED_COLUMN + "_a", pd.Series(0, index=rows.index))
    frame = pd.DataFrame({"seed": seed.to_numpy(), "a": a.to_numpy(dtype=float), "b": b.to_numpy(dtype=float)})
    frame = frame.dropna(subset=["a", "b"])
    return frame.groupby("seed")[["a", "b"]].mean()


SELECTION = "selection"  # the column chosen_rows compares settings on
CANDIDATES = "candidates"  # the column chosen_rows counts the settings chosen among in


def chosen_rows(trials: pd.DataFrame) -> pd.DataFrame:
    """The trials of the setting with the best mean selection value (``selection``: validation, never test)."""
    if SELECTION not in trials:
        raise Missing("the selection metric at each trial's best epoch")
    skip = {SEED_COLUMN, *replicate_columns(trials)}
    settings = [c for c in varying(trials) if c not in skip]
    if not settings:
        return trials.assign(chosen="", **{CANDIDATES: 1})
    means = trials.groupby(settings, dropna=False)[SELECTION].mean()
    best = means.idxmin() if trials.attrs.get("mode", "min") == "min" else means.idxmax()
    best = best if isinstance(best, tuple) else (best,)
    keep = (trials[settings].astype(str) == pd.Series([str(v) for v in best], index=settings)).all(axis=1)
    label = ", ".join(f"{k[len(C):]}={level(v)}" for k, v in zip(settings, best))
    return trials[keep].assign(chosen=label, **{CANDIDATES: len(means)})


def label(comp: Compare, rows: pd.DataFrame) -> str:
    text = comp.describe()
    if "chosen" in rows and len(rows) and rows["chosen"].iloc[0]:
        text = f"{text} ({rows['chosen'].iloc[0]})"
    return text


def margin_value(margin: Margin, rows: pd.DataFrame, per_seed: pd.DataFrame) -> float:
    """The declared margin in the compared measure's units, on these trials."""
    if margin.of:
        if margin.of not in rows:
            raise Missing(margin.of)
        return margin.share * float(rows[margin.of].mean())
    if margin.relative:
        return margin.share * float((per_seed["a"].abs().mean() + per_seed["b"].abs().mean()) / 2)
    return margin.share
