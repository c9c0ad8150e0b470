"""The q1 study end to end (smoke test) and its command line."""

import pandas as pd
import pytest

from studies import q1
from trainables.common import metrics as M


def test_smoke_test_writes_results_tables_and_plots(ray_cluster, tmp_path):
    results = q1.main(["--smoke-test", "--storage-path", str(tmp_path), "--name", "smoke"])
    assert len(results) == 3 and not results.errors
    run = tmp_path / "smoke"
    table = pd.read_csv(run / "tables" / "s2_1_cells.csv", index_col=0)
    assert list(table.index) == ["gru", "lstm", "rnn", "persistence (tomorrow = today)"]
    assert set(table.columns) >= {"mape/GOOG", "mape/AAPL", "rmse/GOOG", "time/total_s"}
    for name in ("price_history", "loss_curves", "log_loss_curves", "real_vs_predicted_lstm"):
        assert (run / "plots" / f"{name}.png").stat().st_size > 5_000
    assert "persistence" in (run / "report.md").read_text()
    assert all(r.metrics[M.EPOCH] == 2 for r in results)


def test_grid_is_the_reports_factorial_design():
    args = q1.build_parser().parse_args(["--seeds", "3"])
    space = q1.grid_space(args)
    sizes = [len(v["grid_search"]) for v in space.values()]
    assert sorted(space) == ["cell", "dropout", "loss", "optimizer", "seed"]
    assert sizes == [3, 2, 3, 2, 3]  # 108 trials


@pytest.mark.parametrize("argv, message", [
    (["--data", "/no/such/prices.csv"], "error: /no/such/prices.csv: no such file or folder"),
    (["--tickers", "GOOG,TSLA"], "error: embedded prices: unknown ticker 'TSLA'"),
    (["--start", "2013-01-01"], "too few for a 30-day window"),
    (["--window", "1"], "error: window: 1 is outside [2"),
    (["--cpus-per-trial", "0"], "error: --cpus-per-trial must be positive"),
])
def test_bad_input_exits_before_any_trial(argv, message, capsys, tmp_path):
    with pytest.raises(SystemExit) as exit_info:
        q1.main(argv + ["--storage-path", str(tmp_path)])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err
    assert not (tmp_path / "q1").exists()


def test_help_explains_the_flags(capsys):
    with pytest.raises(SystemExit):
        q1.main(["--help"])
    out = capsys.readouterr().out
    for flag in ("--smoke-test", "--search", "--data", "--gpus-per-trial", "--storage-path", "--resume"):
        assert flag in out


def test_optuna_search_with_asha(ray_cluster, tmp_path):
    results = q1.main(["--search", "optuna", "--num-samples", "2", "--epochs", "2", "--window", "10",
                       "--storage-path", str(tmp_path), "--name", "tpe"])
    assert len(results) == 2 and not results.errors
    configs = [r.config for r in results]
    assert all(1e-4 <= c["lr"] <= 1e-2 and c["window"] in (10, 20, 30, 60) for c in configs)
    assert (tmp_path / "tpe" / "tables" / "top_trials.md").exists()


def test_shared_tune_config_grid_and_optuna():
    from ray.tune.schedulers import ASHAScheduler

    from studies import common

    grid = common.tune_config(q1.build_parser().parse_args([]), "val/mape", "min", max_t=100, grace_period=10)
    assert grid.search_alg is None and grid.scheduler is None
    args = q1.build_parser().parse_args(["--search", "optuna", "--num-samples", "7", "--max-concurrent", "2"])
    tpe = common.tune_config(args, "val/mape", "min", max_t=4, grace_period=10)
    assert tpe.num_samples == 7 and tpe.max_concurrent_trials == 2
    assert type(tpe.search_alg).__name__ == "OptunaSearch"
    assert isinstance(tpe.scheduler, ASHAScheduler) and tpe.scheduler._max_t == 4
