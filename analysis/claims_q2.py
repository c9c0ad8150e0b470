"""q2's claims: loss functions, batch size and formulation in character-level generation.

``val/loss`` and ``test/loss`` are cross-entropy in nats per character
whatever loss a trial trained with, so trials with different losses compare
on one scale. Final numbers are the test part's (scored once, with the best
validation epoch's weights); comparisons along the curves use validation.
Trials are matched on seed and the other settings that vary and averaged
over those settings within each seed: one pair a seed.
"""

from __future__ import annotations

import pandas as pd

from analysis.claims import SEED, C, Claim, Comparison, at, build, compare, compare_columns, paired_by_seed
from analysis.q2 import normalised, unit
from analysis.results import RunResults
from trainables.common import metrics as M

MAJORITY_TEST_ACC = M.BASELINE_MAJORITY_TEST_ACC  # share of the most frequent character
PAPER_EPOCHS = (20, 40, 100)  # the paper's epoch counts: points on each run's curve
ACC_MARGIN = 0.01  # "stays at the majority share": within one accuracy point

CLAIMS = {
    "losses": "Cross-entropy is far better than MSE, and MSE better than MAE (test cross-entropy)",
    "mae_stuck": "MAE does not learn: accuracy stays at the most frequent character's share",
    "batch": "Batch 64 reaches a lower loss than batch 128 at equal epochs",
    "formulation": "The default (per-position sequence) formulation reaches a lower loss than the paper's "
                   "at equal compute",
}
NEEDS = {
    "losses": "ce, mse and mae trials with test/loss",
    "mae_stuck": f"mae trials with test/acc and {MAJORITY_TEST_ACC}",
    "batch": "ce trials with batch sizes 64 and 128 and per-epoch val/loss, train/chars and train/steps",
    "formulation": "ce trials of both formulations with val/loss and time/total_s per epoch",
}
NOTES = {
    "losses": "'Far' is not tested beyond the direction; the differences are shown.",
    "mae_stuck": f"Equivalence: supported when the interval of test/acc − majority share lies within ±{ACC_MARGIN}.",
    "batch": "Cross-entropy trials only. Epochs are the paper's only when trials train full passes: then "
             "compared at the paper's epoch counts reached. Always compared at equal characters seen (what "
             "equal epochs mean) and at equal updates (batch 128 has then seen twice the text): each pair at "
             "its last reports within the work both trials did.",
    "formulation": "Equal compute = equal wall time: for each seed pair, each trial's val/loss at the last report "
                   "within the shorter trial's total time.",
}


def losses(t: pd.DataFrame) -> list:
    return [compare(t, C + "loss", "ce", "mse", M.TEST_LOSS, -1), compare(t, C + "loss", "mse", "mae", M.TEST_LOSS, -1)]


def mae_stuck(t: pd.DataFrame) -> list:
    rows = at(t, loss="mae")
    if rows.empty:
        return [None]
    return [compare_columns(rows, M.TEST_ACC, MAJORITY_TEST_ACC, 0, "mae: test/acc − majority share",
                            margin=ACC_MARGIN)]


def loss_at_epoch(history: pd.DataFrame, epoch: int) -> pd.Series:
    rows = history[history[M.EPOCH] == epoch]
    return rows.groupby("trial_id")[M.VAL_LOSS].last()


def batch(t: pd.DataFrame, history: pd.DataFrame) -> list:
    rows = at(t, loss="ce")
    need = (M.VAL_LOSS, M.TRAIN_CHARS, M.TRAIN_STEPS)
    if rows.empty or any(m not in history for m in need) or C + "batch_size" not in rows:
        return [None]
    hist = history[history["trial_id"].isin(rows["trial_id"])]
    out = []
    if unit(rows) == "epoch":
        reached = int(hist.groupby("trial_id")[M.EPOCH].max().min())
        for epoch in [e for e in PAPER_EPOCHS if e <= reached]:
            col = f"{M.VAL_LOSS}@epoch{epoch}"
            out.append(compare(rows.assign(**{col: rows["trial_id"].map(loss_at_epoch(hist, epoch))}),
                               C + "batch_size", 64, 128, col, -1))
    for measure, name in ((M.TRAIN_CHARS, "equal characters seen"), (M.TRAIN_STEPS, "equal updates")):
        out.append(at_equal(rows, hist, measure, name))
    return out


def at_equal(rows: pd.DataFrame, hist: pd.DataFrame, measure: str, name: str) -> Comparison:
    """Batch 64 against 128, each pair at the last reports within the work both did (by ``measure``)."""
    keys = [c for c in rows.columns if c.startswith(C) and c != C + "batch_size" and rows[c].nunique(dropna=False) > 1]
    keys = sorted(set(keys) | {C + "seed"} & set(rows.columns))
    curves = {tid: h.sort_values(measure) for tid, h in hist.groupby("trial_id")}
    small = rows[rows[C + "batch_size"] == 64].set_index(keys)["trial_id"]
    large = rows[rows[C + "batch_size"] == 128].set_index(keys)["trial_id"]
    seeds, a, b = [], [], []
    for key in small.index.intersection(large.index).unique():
        cs, cl = curves[_first(small[key])], curves[_first(large[key])]
        budget = min(cs[measure].max(), cl[measure].max())
        seeds.append(_seed(key, keys))
        a.append(value_within(cs, measure, budget))
        b.append(value_within(cl, measure, budget))
    return Comparison(f"64 − 128, val/loss at {name}", -1, paired_by_seed(seeds, a, b))


def _first(value):
    return value.iloc[0] if isinstance(value, pd.Series) else value


def _seed(key, keys: list[str]):
    """The seed within a matching key (0 when trials have no seed: the run is one seed)."""
    if SEED not in keys:
        return 0
    return key[keys.index(SEED)] if isinstance(key, tuple) else key


def value_within(curve: pd.DataFrame, measure: str, budget: float) -> float:
    """val/loss at the last report whose ``measure`` (time, characters, updates) is within ``budget``."""
    within = curve[curve[measure] <= budget + 1e-9]
    return float(within[M.VAL_LOSS].iloc[-1]) if len(within) else float("nan")


def formulation(t: pd.DataFrame, history: pd.DataFrame) -> list:
    rows = at(t, loss="ce")
    need = (C + "formulation", SEED)
    if rows.empty or any(c not in rows for c in need) or M.TIME_TOTAL not in history:
        return [None]
    keys = [SEED] + ([C + "batch_size"] if C + "batch_size" in rows else [])
    curves = {tid: h.sort_values(M.EPOCH) for tid, h in history.groupby("trial_id")}
    seq = rows[rows[C + "formulation"] == "sequence"].set_index(keys)["trial_id"]
    rep = rows[rows[C + "formulation"] == "paper"].set_index(keys)["trial_id"]
    seq, rep = seq[~seq.index.duplicated()], rep[~rep.index.duplicated()]
    seeds, a, b = [], [], []
    for key in seq.index.intersection(rep.index):
        cs, cr = curves[seq[key]], curves[rep[key]]
        budget = min(cs[M.TIME_TOTAL].max(), cr[M.TIME_TOTAL].max())
        seeds.append(_seed(key, keys))
        a.append(value_within(cs, M.TIME_TOTAL, budget))
        b.append(value_within(cr, M.TIME_TOTAL, budget))
    return [Comparison("sequence − paper, val/loss at equal wall time", -1, paired_by_seed(seeds, a, b))]


def evaluate(results: RunResults) -> list[Claim]:
    t, h = normalised(results.trials), normalised(results.history)
    found = {"losses": losses(t), "mae_stuck": mae_stuck(t), "batch": batch(t, h), "formulation": formulation(t, h)}
    return [build("q2", key, CLAIMS[key], comps, NEEDS[key], NOTES[key]) for key, comps in found.items()]
