"""q1's claims: the paper's sections 2.1-2.4, and the persistence question.

Comparisons hold the other factors at the reference setting (the paper's
MSE, Adam, no dropout, in the study's default scale-free formulation), as
the tables do, and pair trials by seed (the formulation claim holds the
others at the reference too; tables/formulation.md shows every cell). Accuracy is test MAPE (lower is
better), training time ``time/total_s``.
"""

from __future__ import annotations

import pandas as pd

from analysis.claims import C, Claim, at, build, compare, compare_columns
from analysis.export import BEST_PREFIX
from analysis.results import RunResults
from trainables.common import metrics as M

REFERENCE = {"loss": "mse", "optimizer": "adam", "dropout": 0.0, "formulation": "returns"}
LEARNING_SPEED = "curve/val/mape"  # mean validation MAPE over epochs: lower = learns faster (area under the curve)

CLAIMS = {
    "cells_accuracy": "GRU > LSTM > RNN in accuracy (test MAPE)",
    "cells_time": "Training time LSTM > GRU > RNN",
    "mape_loss": "MAPE loss does not improve GRU and LSTM, and hurts the RNN",
    "adam": "Adam beats Adagrad and RMSprop, and trains faster",
    "dropout": "Dropout 0.1 hurts LSTM and GRU and helps the RNN",
    "persistence": "The best network (chosen on validation) beats the persistence baseline",
    "formulation": "Returns in, next-day return out beats the paper's min-max scaled price levels (test MAPE)",
}


def reference(trials: pd.DataFrame, vary: str | None = None) -> pd.DataFrame:
    return at(trials, **{k: v for k, v in REFERENCE.items() if k != vary})


def cells_accuracy(t: pd.DataFrame) -> list:
    rows = reference(t)
    return [compare(rows, C + "cell", "gru", "lstm", M.TEST_MAPE, -1),
            compare(rows, C + "cell", "lstm", "rnn", M.TEST_MAPE, -1)]


def cells_time(t: pd.DataFrame) -> list:
    rows = reference(t)
    return [compare(rows, C + "cell", "lstm", "gru", M.TIME_TOTAL, +1),
            compare(rows, C + "cell", "gru", "rnn", M.TIME_TOTAL, +1)]


def mape_loss(t: pd.DataFrame) -> list:
    rows = reference(t, "loss")
    # "does not improve" is checked as "is worse": an interval spanning zero stays inconclusive.
    return [compare(at(rows, cell=cell), C + "loss", "mape", "mse", M.TEST_MAPE, +1, label=f"{cell}: mape − mse")
            for cell in ("gru", "lstm", "rnn")]


def adam(t: pd.DataFrame) -> list:
    rows = reference(t, "optimizer")
    out = []
    for other in ("adagrad", "rmsprop"):
        out.append(compare(rows, C + "optimizer", "adam", other, M.TEST_MAPE, -1))
        out.append(compare(rows, C + "optimizer", "adam", other, LEARNING_SPEED, -1))
    return out


def dropout(t: pd.DataFrame) -> list:
    rows = reference(t, "dropout")
    return [compare(at(rows, cell=cell), C + "dropout", 0.1, 0.0, M.TEST_MAPE, sign, label=f"{cell}: 0.1 − 0.0")
            for cell, sign in (("lstm", +1), ("gru", +1), ("rnn", -1))]


def formulation(t: pd.DataFrame) -> list:
    rows = reference(t, "formulation")
    return [compare(at(rows, cell=cell), C + "formulation", "returns", "paper", M.TEST_MAPE, -1,
                    label=f"{cell}: returns − paper") for cell in ("gru", "lstm", "rnn")]


CHOICE = BEST_PREFIX + M.VAL_MAPE  # validation MAPE of the epoch the test weights came from


def persistence(t: pd.DataFrame) -> list:
    if CHOICE not in t or M.TEST_MAPE not in t:
        return [None]
    settings = [c for c in t.columns if c.startswith(C) and c != C + "seed" and t[c].nunique(dropna=False) > 1]
    best = t
    if settings:
        chosen = t.groupby(settings, dropna=False)[CHOICE].mean().idxmin()
        chosen = chosen if isinstance(chosen, tuple) else (chosen,)
        best = t[(t[settings] == pd.Series(chosen, index=settings)).all(axis=1)]
        label = "best (" + ", ".join(f"{k[len(C):]}={v}" for k, v in zip(settings, chosen)) + ") − persistence"
    else:
        label = "network − persistence"
    return [compare_columns(best, M.TEST_MAPE, M.BASELINE_TEST_MAPE, -1, f"{label}, test/mape")]


def with_learning_speed(results: RunResults) -> pd.DataFrame:
    trials = results.trials
    hist = results.history
    if M.VAL_MAPE in hist:
        speed = hist.groupby("trial_id")[M.VAL_MAPE].mean().rename(LEARNING_SPEED)
        trials = trials.drop(columns=[LEARNING_SPEED], errors="ignore").merge(speed, left_on="trial_id", right_index=True, how="left")
    return trials


NEEDS = {
    "cells_accuracy": "rnn, lstm and gru trials at the reference setting with test/mape",
    "cells_time": "rnn, lstm and gru trials at the reference setting with time/total_s",
    "mape_loss": "mse and mape trials for every cell",
    "adam": "adam, adagrad and rmsprop trials with test/mape and validation curves",
    "dropout": "dropout 0.0 and 0.1 trials for every cell",
    "persistence": f"{M.TEST_MAPE}, {CHOICE} and the persistence baseline",
    "formulation": "returns and paper trials for every cell at the reference setting",
}
NOTES = {
    "adam": f"Training speed is {LEARNING_SPEED}: validation MAPE averaged over epochs (area under the learning "
            "curve), since every trial runs the same epochs.",
    "mape_loss": "'Does not improve' is checked as 'is worse': an interval spanning zero leaves it inconclusive.",
    "formulation": "Not in the paper: whether its scaled-levels formulation is what holds the networks back.",
    "persistence": "Not in the paper: the reader's question. The network setting is chosen on validation MAPE, "
                   "then compared with tomorrow = today on the same test days and seeds.",
}


def evaluate(results: RunResults) -> list[Claim]:
    trials = with_learning_speed(results)
    checks = {"cells_accuracy": cells_accuracy, "cells_time": cells_time, "mape_loss": mape_loss,
              "adam": adam, "dropout": dropout, "persistence": persistence, "formulation": formulation}
    return [build("q1", key, CLAIMS[key], fn(trials), NEEDS[key], NOTES.get(key, "")) for key, fn in checks.items()]
