"""q1 analysis of the formulation factor and the learning-curve units, on made-up trials."""

import itertools

import pandas as pd

from analysis import q1
from trainables.common import metrics as M

CELL = {"rnn": 3.0, "lstm": 2.0, "gru": 1.0}


def trials_with_formulations(seeds: int = 2) -> pd.DataFrame:
    rows = []
    for i, (cell, loss, form, seed) in enumerate(itertools.product(CELL, ["mse", "mape"], ["returns", "paper"],
                                                                   range(seeds))):
        mape = CELL[cell] + (10.0 if form == "paper" else 0.0) + 0.1 * seed
        rows.append({"trial_id": f"t{i}", "config/cell": cell, "config/loss": loss, "config/optimizer": "adam",
                     "config/dropout": 0.0, "config/formulation": form, "config/seed": seed,
                     M.VAL_MAPE: mape, M.TEST_MAPE: mape, "test/mape/GOOG": mape, "test/rmse/GOOG": mape,
                     "test/mae/GOOG": mape, M.TEST_RMSE: mape, M.TEST_MAE: mape, M.TIME_TOTAL: 1.0,
                     M.PERSISTENCE_TEST_MAPE: 1.2, "baseline/persistence/test/mape/GOOG": 1.2,
                     M.PERSISTENCE_TEST_RMSE: 5.0, "baseline/persistence/test/rmse/GOOG": 5.0,
                     M.PERSISTENCE_TEST_MAE: 4.0, "baseline/persistence/test/mae/GOOG": 4.0})
    return pd.DataFrame(rows)


def test_formulation_section_compares_both_per_cell_and_keeps_persistence():
    table = q1.section_table(trials_with_formulations(), "formulation")
    assert table.loc["gru / returns", "mape"] == "1.050 ± 0.071"
    assert table.loc["gru / paper", "mape"] == "11.050 ± 0.071"
    assert table.loc["persistence (tomorrow = today)", "mape"] == "1.200"


def test_other_sections_hold_the_formulation_at_returns():
    table = q1.section_table(trials_with_formulations(), None)
    assert table.loc["gru", "mape"] == "1.050 ± 0.071" and table.loc["gru", "n"] == 2


def test_learning_curves_never_share_an_axis_between_mse_and_mape():
    best = pd.DataFrame({"trial_id": ["a", "b", "c"], "config/cell": ["gru", "lstm", "rnn"],
                         "config/loss": ["mse", "mape", "mse"]})
    panels = q1.curve_panels(best)
    val = panels.pop("validation MAPE on prices (%)")
    assert [(t, m) for t, m, _ in val] == [("a", M.VAL_MAPE), ("b", M.VAL_MAPE), ("c", M.VAL_MAPE)]
    assert {title: [t for t, _, _ in lines] for title, lines in panels.items()} == {
        "train loss: MSE of the scaled target": ["a", "c"], "train loss: MAPE on prices (%)": ["b"]}
    assert all(m == M.TRAIN_LOSS for lines in panels.values() for _, m, _ in lines)


def test_learning_curves_are_written(tmp_path):
    best = pd.DataFrame({"trial_id": ["a", "b"], "config/cell": ["gru", "lstm"], "config/loss": ["mse", "mape"]})
    history = pd.DataFrame([{"trial_id": t, M.EPOCH: e, M.TRAIN_LOSS: 1.0 / e, M.VAL_MAPE: 2.0 / e}
                            for t in ("a", "b") for e in (1, 2, 3)])
    paths = q1.learning_curves(history, best, tmp_path)
    assert [p.name for p in paths] == ["loss_curves.png", "log_loss_curves.png"]
    assert all(p.stat().st_size > 5_000 for p in paths)
