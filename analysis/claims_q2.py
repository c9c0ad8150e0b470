"""q2's claims: loss functions, batch size and formulation in character-level generation.

``val/loss`` is cross-entropy in nats per character whatever loss a trial
trained with, so trials with different losses compare on one scale. Trials
are paired by seed and the other settings that vary.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from analysis import stats
from analysis.claims import C, Claim, Comparison, at, build, compare, compare_columns
from analysis.results import RunResults
from trainables.common import metrics as M

MAJORITY_VAL_ACC = "baseline/majority/val/acc"  # share of the most frequent character
REPORT_EPOCHS = (20, 40, 100)  # the report's epoch counts: points on each run's curve
ACC_MARGIN = 0.01  # "stays at the majority share": within one accuracy point

CLAIMS = {
    "losses": "Cross-entropy is far better than MSE, and MSE better than MAE (validation cross-entropy)",
    "mae_stuck": "MAE does not learn: accuracy stays at the most frequent character's share",
    "batch": "Batch 64 reaches a lower loss than batch 128 at equal epochs",
    "formulation": "The default (per-position sequence) formulation reaches a lower loss than the report's "
                   "at equal compute",
}
NEEDS = {
    "losses": "ce, mse and mae trials with val/loss",
    "mae_stuck": f"mae trials with val/acc and {MAJORITY_VAL_ACC}",
    "batch": "ce trials with batch sizes 64 and 128 and per-epoch val/loss",
    "formulation": "ce trials of both formulations with val/loss and time/total_s per epoch",
}
NOTES = {
    "losses": "'Far' is not tested beyond the direction; the differences are shown.",
    "mae_stuck": f"Equivalence: supported when the interval of val/acc − majority share lies within ±{ACC_MARGIN}.",
    "batch": "Compared at the report's epoch counts each run reached (else at the last epoch all runs reached), "
             "cross-entropy trials only.",
    "formulation": "Equal compute = equal wall time: for each seed pair, each trial's val/loss at the last report "
                   "within the shorter trial's total time.",
}


def losses(t: pd.DataFrame) -> list:
    return [compare(t, C + "loss", "ce", "mse", M.VAL_LOSS, -1), compare(t, C + "loss", "mse", "mae", M.VAL_LOSS, -1)]


def mae_stuck(t: pd.DataFrame) -> list:
    rows = at(t, loss="mae")
    if rows.empty:
        return [None]
    return [compare_columns(rows, M.VAL_ACC, MAJORITY_VAL_ACC, 0, "mae: val/acc − majority share", margin=ACC_MARGIN)]


def loss_at_epoch(history: pd.DataFrame, epoch: int) -> pd.Series:
    rows = history[history[M.EPOCH] == epoch]
    return rows.groupby("trial_id")[M.VAL_LOSS].last()


def batch(t: pd.DataFrame, history: pd.DataFrame) -> list:
    rows = at(t, loss="ce")
    if rows.empty or M.VAL_LOSS not in history or C + "batch_size" not in rows:
        return [None]
    hist = history[history["trial_id"].isin(rows["trial_id"])]
    reached = int(hist.groupby("trial_id")[M.EPOCH].max().min())
    epochs = [e for e in REPORT_EPOCHS if e <= reached] or [reached]
    out = []
    for epoch in epochs:
        col = f"val/loss@epoch{epoch}"
        frame = rows.assign(**{col: rows["trial_id"].map(loss_at_epoch(hist, epoch))})
        out.append(compare(frame, C + "batch_size", 64, 128, col, -1))
    return out


def value_at_time(curve: pd.DataFrame, seconds: float) -> float:
    """val/loss at the last report made within ``seconds`` of training (NaN if none was)."""
    within = curve[curve[M.TIME_TOTAL] <= seconds + 1e-9]
    return float(within[M.VAL_LOSS].iloc[-1]) if len(within) else float("nan")


def formulation(t: pd.DataFrame, history: pd.DataFrame) -> list:
    rows = at(t, loss="ce")
    need = (C + "formulation", C + "seed")
    if rows.empty or any(c not in rows for c in need) or M.TIME_TOTAL not in history:
        return [None]
    keys = [C + "seed"] + ([C + "batch_size"] if C + "batch_size" in rows else [])
    curves = {tid: h.sort_values(M.EPOCH) for tid, h in history.groupby("trial_id")}
    seq = rows[rows[C + "formulation"] == "sequence"].set_index(keys)["trial_id"]
    rep = rows[rows[C + "formulation"] == "report"].set_index(keys)["trial_id"]
    seq, rep = seq[~seq.index.duplicated()], rep[~rep.index.duplicated()]
    a, b = [], []
    for key in seq.index.intersection(rep.index):
        cs, cr = curves[seq[key]], curves[rep[key]]
        budget = min(cs[M.TIME_TOTAL].max(), cr[M.TIME_TOTAL].max())
        a.append(value_at_time(cs, budget))
        b.append(value_at_time(cr, budget))
    return [Comparison("sequence − report, val/loss at equal wall time", -1, stats.paired(np.array(a), np.array(b)))]


def evaluate(results: RunResults) -> list[Claim]:
    t, h = results.trials, results.history
    found = {"losses": losses(t), "mae_stuck": mae_stuck(t), "batch": batch(t, h), "formulation": formulation(t, h)}
    return [build("q2", key, CLAIMS[key], comps, NEEDS[key], NOTES[key]) for key, comps in found.items()]
