"""The q1 study end to end (smoke test, Optuna) and its command line, through its own entry point."""

from pathlib import Path

import pandas as pd
import pytest

from analysis.results import latest_checkpoint, load_run
from studies import cli, q1, search
from trainables.common import metrics as M
from trainables.stock.config import FIELDS
from trainables.stock.data import DataOptions
from trainables.stock.trainer import PREDICTIONS_FILE


def space_of(argv: list[str]):
    args = q1.STUDY.parser().parse_args(argv)
    return q1.STUDY.space(args, cli.build(args, DataOptions))


def test_smoke_test_writes_results_tables_and_plots(ray_cluster, tmp_path):
    path = q1.main(["--smoke-test", "--storage-path", str(tmp_path), "--name", "smoke"])
    run = Path(path)
    assert run == tmp_path / "smoke"
    trials = load_run(run).trials
    assert len(trials) == 3 and (trials[M.COMPLETED] == 1).all() and (trials[M.EPOCH] == 2).all()
    table = pd.read_csv(run / "tables" / "s2_1_cells.csv", index_col=0)
    assert list(table.index) == ["gru", "lstm", "rnn", "persistence (tomorrow = today)"]
    assert set(table.columns) >= {"mape/GOOG", "mape/AAPL", "rmse/GOOG", "time/total_s"}
    for name in ("price_history", "loss_curves", "log_loss_curves", "real_vs_predicted_lstm"):
        assert (run / "plots" / f"{name}.png").stat().st_size > 5_000
    assert "persistence" in (run / "report.md").read_text()


def test_grid_is_the_papers_factorial_design_in_both_formulations():
    space, arms = space_of(["--seeds", "3"])
    factors = {k: v["grid_search"] for k, v in space.items() if isinstance(v, dict) and "grid_search" in v}
    assert factors == {"cell": ["rnn", "lstm", "gru"], "loss": ["mse", "mape"],
                       "optimizer": ["adam", "adagrad", "rmsprop"], "dropout": [0.0, 0.1],
                       "formulation": ["returns", "paper"], "seed": [0, 1, 2]}
    assert len(arms) == 3 * 2 * 3 * 2 * 2 * 3
    assert {a.features for a in arms} == {("close",)}  # the paper's factors on closes, not its 12 inputs
    assert {(a.hidden_size, a.num_layers, a.window, a.epochs) for a in arms} == {(64, 2, 30, 100)}


def test_a_config_flag_fixes_the_field_for_every_arm(capsys):
    space, arms = space_of(["--formulation", "paper", "--features", "all"])
    assert space["formulation"] == "paper" and {a.formulation for a in arms} == {"paper"}
    assert {a.features for a in arms} == {FIELDS} and len(arms) == 36
    assert "formulation given on the command line" in capsys.readouterr().out


def test_optuna_arms_share_the_largest_window_as_split_window():
    space, arms = space_of(["--search", "optuna"])
    assert space["split_window"] == max(q1.WINDOWS) == 60
    assert {a.window for a in arms} == set(q1.WINDOWS) and {a.split_window for a in arms} == {60}
    assert {a.first_target for a in arms} == {60}


def long_closes(path: Path, days: int = 400) -> Path:
    dates = pd.bdate_range("2020-01-01", periods=days).strftime("%Y-%m-%d")
    rows = [(d, t, 10.0 + i + 5 * j) for i, d in enumerate(dates) for j, t in enumerate(("GOOG", "AAPL"))]
    pd.DataFrame(rows, columns=["date", "ticker", "close"]).to_csv(path, index=False)
    return path


@pytest.mark.parametrize("argv, message", [
    (["--data", "/no/such/prices.csv"], "error: /no/such/prices.csv: no such file or folder"),
    (["--tickers", "GOOG,TSLA"], "error: embedded prices: unknown ticker 'TSLA'"),
    (["--start", "2013-01-01"], "too few for a 30-day window"),
    (["--start", "2013-02-30"], "error: --start '2013-02-30': not a date (YYYY-MM-DD)"),
    (["--end", "soon"], "error: --end 'soon': not a date (YYYY-MM-DD)"),
    (["--window", "1"], "error: window: 1 is outside [2"),
    (["--formulation", "levels"], "error: formulation: 'levels' is not one of returns, paper"),
    (["--cpus-per-trial", "0"], "error: --cpus-per-trial must be positive"),
    (["--features", "all", "--data", "LONG"], "error: the data has no open, high, low, adj_close, volume column"),
])
def test_bad_input_exits_before_any_trial(argv, message, capsys, tmp_path):
    argv = [str(long_closes(tmp_path / "long.csv")) if a == "LONG" else a for a in argv]
    with pytest.raises(SystemExit) as exit_info:
        q1.main(argv + ["--storage-path", str(tmp_path)])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err and err.count("\n") == 1
    assert not (tmp_path / "q1").exists()


def test_help_explains_the_flags(capsys):
    with pytest.raises(SystemExit):
        q1.main(["--help"])
    out = capsys.readouterr().out
    for flag in ("--smoke-test", "--search", "--data", "--gpus-per-trial", "--storage-path", "--resume",
                 "--formulation", "--split-window", "--features"):
        assert flag in out


def test_optuna_trials_are_tested_on_the_same_days(ray_cluster, tmp_path):
    path = q1.main(["--search", "optuna", "--num-samples", "3", "--epochs", "2", "--hidden-size", "8",
                    "--storage-path", str(tmp_path), "--name", "tpe"])
    trials = load_run(path).trials
    assert len(trials) == 3 and (trials[M.COMPLETED] == 1).all()
    assert trials["config/lr"].between(1e-4, 1e-2).all() and trials["config/window"].isin(q1.WINDOWS).all()
    assert (trials["config/split_window"] == 60).all()
    days = [pd.read_csv(latest_checkpoint(d) / PREDICTIONS_FILE)["date"].tolist() for d in trials["trial_dir"]]
    assert days[0] and all(d == days[0] for d in days)
    assert len(set(trials[M.PERSISTENCE_TEST_MAPE].round(9))) == 1  # the same days, the same persistence error
    assert (Path(path) / "tables" / "top_trials.md").exists()


def test_grid_tune_config_has_no_searcher_or_scheduler():
    parse = q1.STUDY.parser().parse_args
    grid = search.tune_config(parse([]), "run", "val/mape", "min", max_t=100, grace_period=10)
    assert grid.search_alg is None and grid.scheduler is None  # Optuna's: tests/test_optuna_storage.py


def test_null_rows_become_a_note_and_the_study_goes_on(tmp_path, capsys, monkeypatch):
    from studies import runner
    from tests.helpers import write_folder, yahoo_frame

    folder = write_folder(tmp_path / "px", n=300)
    goog = yahoo_frame(300).astype(object)
    goog.loc[[100, 101], goog.columns[1:]] = "null"
    goog.to_csv(folder / "GOOG.csv", index=False)
    ran = []
    monkeypatch.setattr(runner, "run", lambda args, fn, space, tune_config: ran.append(space))
    q1.STUDY.main(["--data", str(folder), "--cell", "gru", "--storage-path", str(tmp_path / "runs")])
    out = capsys.readouterr().out
    assert "note: " + str(folder / "GOOG.csv") + ": dropped 2 row(s) of null (no prices) on 2015-05-21, 2015-05-22" in out
    assert "q1: 298 days of GOOG,AAPL" in out and len(ran) == 1
