"""q1 analysis on a synthetic run folder: known numbers in, known tables out."""

import itertools
import json

import pandas as pd
import pytest

from analysis import q1
from analysis.__main__ import main as analysis_main
from analysis.run import read_run
from analysis.tables import mean_pm_std, summarize
from trainables.common import metrics as M

CELL_MAPE = {"rnn": 3.0, "lstm": 2.0, "gru": 1.0}


def fake_run(root, seeds=2):
    """Trial folders as Ray Tune writes them: params.json and result.json lines.

    Validation MAPE is best in epoch 1 (mape + 1), worse in epoch 2 (mape + 1.5), so the test weights come from epoch 1.
    """
    root.mkdir()
    (root / "study.json").write_text(json.dumps({"study": "q1"}))
    grid = itertools.product(CELL_MAPE, ["mse", "mape"], ["adam", "rmsprop"], [0.0, 0.1], range(seeds))
    for i, (cell, loss, opt, drop, seed) in enumerate(grid):
        config = {"cell": cell, "loss": loss, "optimizer": opt, "dropout": drop, "seed": seed, "features": ["close"]}
        mape = CELL_MAPE[cell] + (0.5 if loss == "mape" else 0) + (0.25 if opt == "rmsprop" else 0) + drop + seed * 0.2
        trial = root / f"train_stock_{i:05d}"
        trial.mkdir()
        rows = []
        for epoch in (1, 2):
            row = {"trial_id": f"t{i:03d}", "training_iteration": epoch, "epoch": epoch, "config": config,
                   "train/loss": 1.0 / epoch, "val/loss": 1.2 / epoch, "val/mape": mape + 0.5 + 0.5 * epoch,
                   "best/epoch": 1}
            if epoch == 2:
                row |= {"completed": 1, "test/mape": mape, "test/mape/GOOG": mape, "test/rmse/GOOG": 10 * mape, "test/mae/GOOG": 5 * mape,
                        "baseline/persistence/test/mape": 1.5, "baseline/persistence/test/mape/GOOG": 1.5,
                        "baseline/persistence/test/rmse": 9.0, "baseline/persistence/test/rmse/GOOG": 9.0,
                        "baseline/persistence/test/mae": 6.0, "baseline/persistence/test/mae/GOOG": 6.0,
                        "time/total_s": 10.0 if cell == "lstm" else 5.0}
            rows.append(row)
        (trial / "result.json").write_text("\n".join(json.dumps(r) for r in rows))
        (trial / "params.json").write_text(json.dumps(config))
    return root


def test_read_run_has_one_row_a_trial_with_final_metrics(tmp_path):
    results = read_run(fake_run(tmp_path / "run"))
    assert len(results.trials) == 3 * 2 * 2 * 2 * 2
    assert len(results.history) == 2 * len(results.trials)
    assert results.trials["test/mape"].notna().all()
    assert set(results.trials["config/features"]) == {"close"}


def test_cells_section_at_reference_setting_with_mean_and_std_over_seeds(tmp_path):
    trials = read_run(fake_run(tmp_path / "run")).trials
    table = q1.section_table(trials, None)
    # mse / adam / no dropout: mape = cell value + 0.2 * seed, seeds 0 and 1.
    assert table.loc["gru", "mape/GOOG"] == "1.100 ± 0.141"
    assert table.loc["lstm", "time/total_s"] == "10.000 ± 0.000"
    assert table.loc["persistence (tomorrow = today)", "mape/GOOG"] == "1.500"
    assert table.loc["rnn", "n"] == 2
    assert table.loc["rnn", "epochs_run"] == "2.000 ± 0.000" and table.loc["rnn", "best/epoch"] == "1.000 ± 0.000"


def test_top_trials_show_the_best_epoch_and_its_validation_score(tmp_path):
    run = read_run(fake_run(tmp_path / "run"))
    top = q1.top_trials(run.trials, n=3)
    assert top["epochs_run"].tolist() == [2, 2, 2] and top[M.BEST_EPOCH].tolist() == [1, 1, 1]
    # Ranked on validation MAPE at the best epoch (mape + 1), not the last one (mape + 1.5).
    assert top["best/val/mape"].tolist() == pytest.approx([2.0, 2.1, 2.2])
    assert top[M.TEST_MAPE].tolist() == pytest.approx([1.0, 1.1, 1.2])


def test_factor_sections_compare_within_each_cell(tmp_path):
    trials = read_run(fake_run(tmp_path / "run")).trials
    table = q1.section_table(trials, "loss")
    assert table.loc["gru / mape", "mape"] == "1.600 ± 0.141"
    assert table.loc["gru / mse", "mape"] == "1.100 ± 0.141"
    assert q1.section_table(trials, "window") is None  # not varied: no section


def test_summarize_single_seed_has_no_std():
    frame = pd.DataFrame({"g": ["a", "a", "b"], "m": [1.0, 3.0, 5.0]})
    shown = mean_pm_std(summarize(frame, ["g"], ["m"]))
    assert shown.loc["a", "m"] == "2.000 ± 1.414" and shown.loc["b", "m"] == "5.000"


def test_cli_regenerates_tables_without_retraining(tmp_path, capsys):
    run = fake_run(tmp_path / "run")
    analysis_main(["tables", str(run)])
    printed = capsys.readouterr().out
    for stem in ("s2_1_cells", "s2_2_loss", "s2_3_optimizer", "s2_4_dropout", "top_trials"):
        assert (run / "tables" / f"{stem}.md").exists() and stem in printed
    report = (run / "report.md").read_text()
    assert "2.4 Dropout, per cell" in report and "Completed trials" in report and "Every trial completed." in report
    assert (run / "plots" / "loss_curves.png").exists()


def test_cli_on_a_folder_that_is_not_a_run(tmp_path):
    with pytest.raises(SystemExit, match="no study.json"):
        analysis_main(["tables", str(tmp_path)])
