"""The q1 study end to end (smoke test, Optuna) and its command line, through its own entry point."""

import json
from pathlib import Path

import pandas as pd
import pytest

from analysis.runs.read import read_run
from studies import launch, q1
from trainables.common import checkpoint
from trainables.common import metrics as M
from trainables.stock.config import FIELDS
from trainables.stock.trainer import PREDICTIONS_FILE


def plan_of(argv: list[str], tmp_path=None):
    return launch.prepare(q1.STUDY, argv + ["--storage-path", str(tmp_path or "/tmp/never-written")])


def test_smoke_test_writes_results_tables_and_plots(ray_cluster, tmp_path):
    path = q1.main(["--smoke-test", "--storage-path", str(tmp_path), "--name", "smoke"])
    run = Path(path)
    assert run.parent == tmp_path / "smoke" and (tmp_path / "smoke" / "latest").resolve() == run.resolve()
    read = read_run(tmp_path / "smoke")
    trials = read.trials
    assert read.path == run and read.unfinished.empty and len(trials) == 3 and (trials["epochs_run"] == 2).all()
    table = pd.read_csv(run / "tables" / "s2_1_cells.csv", index_col=0)
    assert list(table.index) == ["gru", "lstm", "rnn", "persistence (tomorrow = today)"]
    assert set(table.columns) >= {"mape/GOOG", "mape/AAPL", "rmse/GOOG", "time/total_s"}
    for name in ("prices", "learning_curves", "comparisons", "real_vs_predicted_lstm"):
        assert (run / "plots" / f"{name}.png").stat().st_size > 5_000
    assert "persistence" in (run / "report.md").read_text()


def test_the_design_starts_the_trials_that_train_every_epoch_first():
    """The paper formulation's 15 trials run all 100 epochs (patience 0), the others stop early: long ones first."""
    _, plan = plan_of(["--seeds", "5"])
    assert [(c.formulation, c.known_epochs) for c in plan.configs[:15]] == [("paper", 100)] * 15
    rest = plan.configs[15:]
    assert all(c.known_epochs is None for c in rest) and [c.seed for c in rest] == sorted(c.seed for c in rest)
    searcher = plan.tune_config.search_alg.searcher
    assert [searcher.suggest(str(i))["formulation"] for i in range(16)] == ["paper"] * 15 + ["returns"]



def test_five_seeds_run_the_papers_design_on_every_arm():
    ctx, plan = plan_of(["--seeds", "5"])
    assert ctx.args.design == "paper" and ctx.args.seeds == 5
    assert plan.total == 18 * 5 and len(plan.configs) == 90
    assert [c["seed"] for c in plan.planned] == [c.seed for c in plan.configs]  # what the live line times
    arms = {(a.cell, a.loss, a.optimizer, a.dropout, a.formulation) for a in plan.configs}
    assert len(arms) == 18 and ("gru", "mse", "adam", 0.0, "returns") in arms
    assert ("gru", "mape", "adagrad", 0.0, "returns") not in arms  # two factors changed: not in the paper's design
    assert {a.seed for a in plan.configs} == {0, 1, 2, 3, 4}
    assert {a.features for a in plan.configs} == {("close",)}  # the paper's factors on closes, not its 12 inputs
    assert {(a.hidden_size, a.num_layers, a.window, a.epochs) for a in plan.configs} == {(64, 2, 30, 100)}
    # Early stopping, except the paper's formulation: it improves until its last epochs.
    assert {(a.formulation, a.patience) for a in plan.configs} == {("returns", 10), ("paper", 0)}
    assert "paper design: 18 arm(s) x 5 seed(s) = 90 trials" in plan.describe


def test_the_factorial_design_crosses_every_factor():
    _, plan = plan_of(["--design", "factorial", "--seeds", "2"])
    assert plan.total == 3 * 2 * 3 * 2 * 2 * 2


def test_a_config_flag_fixes_the_field_for_every_arm():
    ctx, plan = plan_of(["--formulation", "paper", "--features", "all", "--seeds", "1"])
    assert {a.formulation for a in plan.configs} == {"paper"} and {a.features for a in plan.configs} == {FIELDS}
    assert len(plan.configs) == 15  # the formulation arms collapse into the reference ones
    assert "formulation given on the command line: one value for every trial" in ctx.notes


def test_optuna_arms_share_the_largest_window_as_split_window():
    _, plan = plan_of(["--search", "optuna"])
    assert plan.space["split_window"] == max(q1.WINDOWS) == 60
    assert {a.window for a in plan.configs} == set(q1.WINDOWS) and {a.split_window for a in plan.configs} == {60}


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
    (["--cpus-per-trial", "64"], "error: --cpus-per-trial 64: this machine has"),
    (["--gpus-per-trial", "1"], "error: --gpus-per-trial 1: this machine has no GPU"),
    (["--set", "nosuchfield=3"], "error: unknown config field 'nosuchfield' of StockConfig"),
    (["--name", "../../x"], "error: --name '../../x': use letters, digits"),
    (["--name", "a/b"], "error: --name 'a/b': use letters, digits"),
    (["--resume", "2020-01-01_00-00-00"], "error: --resume 2020-01-01_00-00-00: no run 2020-01-01_00-00-00 under"),
    (["--features", "all", "--data", "LONG"], "error: the data has no open, high, low, adj_close, volume column"),
])
def test_bad_input_exits_before_any_trial(argv, message, capsys, tmp_path):
    argv = [str(long_closes(tmp_path / "long.csv")) if a == "LONG" else a for a in argv]
    with pytest.raises(SystemExit) as exit_info:
        q1.main(argv + ["--storage-path", str(tmp_path / "runs")])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err and err.count("\n") == 1
    assert not (tmp_path / "runs").exists()


def test_a_storage_path_that_cannot_be_created_is_one_line(tmp_path, capsys):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    with pytest.raises(SystemExit):
        q1.main(["--storage-path", str(blocker / "results")])
    err = capsys.readouterr().err
    assert "error: --storage-path: cannot write" in err and err.count("\n") == 1


def test_a_storage_path_the_file_system_refuses_is_one_line_even_as_root(tmp_path, capsys):
    """Under /proc nothing can be created, although ``os.access`` says yes to root: the check tries."""
    from studies import checks

    path = "/proc/rnn-studies-no-such-folder/results"
    assert checks.writable(path).startswith(f"--storage-path: cannot write {path} (")
    with pytest.raises(SystemExit):
        q1.main(["--smoke-test", "--storage-path", path])
    err = capsys.readouterr().err
    assert "error: --storage-path: cannot write /proc/" in err and err.count("\n") == 1 and "Traceback" not in err


def test_the_storage_check_leaves_nothing_behind(tmp_path):
    from studies import checks

    assert checks.writable(str(tmp_path / "a" / "b")) is None
    assert list(tmp_path.iterdir()) == []


def test_help_explains_the_flags(capsys):
    with pytest.raises(SystemExit):
        q1.main(["--help"])
    out = capsys.readouterr().out
    for flag in ("--smoke-test", "--search", "--design", "--seeds", "--data", "--gpus-per-trial", "--storage-path",
                 "--resume", "--verbose", "--formulation", "--split-window", "--features", "--num-samples"):
        assert flag in out
    for searcher in ("grid:", "optuna:", "random:"):
        assert searcher in out
    # --set is one more way to give a trial config field, listed with them, not with the resources.
    resources, config = out.index("resources:"), out.index("trial config (")
    assert out.rindex("--cpus-per-trial") > resources and out.rindex("--set FIELD=VALUE") > config > resources


def test_optuna_trials_are_tested_on_the_same_days(ray_cluster, tmp_path):
    path = q1.main(["--search", "optuna", "--num-samples", "3", "--epochs", "2", "--hidden-size", "8",
                    "--storage-path", str(tmp_path), "--name", "tpe"])
    run = read_run(path)
    trials = run.trials
    assert len(trials) == 3 and run.unfinished.empty
    assert trials["config/lr"].between(1e-4, 1e-2).all() and trials["config/window"].isin(q1.WINDOWS).all()
    assert (trials["config/split_window"] == 60).all()
    days = [pd.read_csv(checkpoint.latest_folder(d) / PREDICTIONS_FILE)["date"].tolist() for d in trials["trial_dir"]]
    assert days[0] and all(d == days[0] for d in days)
    assert len(set(trials[M.PERSISTENCE_TEST_MAPE].round(9))) == 1  # the same days, the same persistence error
    assert (Path(path) / "tables" / "param_importance.md").exists()


def test_null_rows_become_a_note_and_the_study_goes_on(tmp_path, capsys, monkeypatch):
    from studies import runner
    from tests.helpers import write_folder, yahoo_frame

    folder = write_folder(tmp_path / "px", n=300)
    goog = yahoo_frame(300).astype(object)
    goog.loc[[100, 101], goog.columns[1:]] = "null"
    goog.to_csv(folder / "GOOG.csv", index=False)
    ran = []
    monkeypatch.setattr(runner, "run", lambda ctx, plan, data: ran.append(plan))
    monkeypatch.setattr("analysis.report.build.finish_run", lambda path: None)
    q1.main(["--data", str(folder), "--cell", "gru", "--storage-path", str(tmp_path / "runs")])
    out = capsys.readouterr().out
    dropped = ": dropped 2 row(s) of null (no prices) on 2015-05-21, 2015-05-22"
    assert "note: " + str(folder / "GOOG.csv") + dropped in out
    assert "q1: 298 days of GOOG,AAPL" in out and len(ran) == 1


def test_the_console_of_a_smoke_study_is_a_few_lines_and_rays_output_goes_to_the_log(tmp_path):
    import subprocess
    import sys

    from tests.studyrun import ROOT, study_env

    done = subprocess.run([sys.executable, "studies/q1.py", "--smoke-test", "--storage-path", str(tmp_path)],
                          cwd=ROOT, env=study_env(), capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    lines = (done.stdout + done.stderr).splitlines()
    assert len(lines) <= 20, lines  # set-up, the live line, the closing line, the verdicts, the report
    closing = next(line for line in lines if line.startswith("finished in "))
    assert "3 done, 0 failed of 3" in closing
    assert not any("Checkpoint successfully created" in line or "Trial status" in line for line in lines)
    # The best named is the best any trial reached at its best epoch (Tune's own record of each metric).
    run = tmp_path / "q1" / "latest"
    metric, mode = (json.loads((run / "study.json").read_text())[k] for k in ("metric", "mode"))
    best = pd.read_csv(run / "trials.csv")[f"best/{metric}"].agg(mode)
    assert f"| best {metric} {best:.4g} (" in closing
    log = (tmp_path / "q1" / "latest" / "study.log").read_text()
    assert "Started a local Ray instance" in log  # Ray's own output
    assert "Trial status:" not in log  # Tune's progress tables only with --verbose


def test_a_repeated_run_never_mixes_with_the_first(ray_cluster, tmp_path):
    """The same command twice, then with other arguments: three runs, three folders, each report its own."""
    argv = ["--smoke-test", "--storage-path", str(tmp_path), "--name", "again"]
    first = Path(q1.main(argv))
    second = Path(q1.main(argv))
    third = Path(q1.main([*argv, "--hidden-size", "4"]))
    assert len({first, second, third}) == 3 and (tmp_path / "again" / "latest").resolve() == third.resolve()
    for run, hidden in ((first, 8), (second, 8), (third, 4)):
        trials = read_run(run).trials
        assert len(trials) == 3 and set(trials["config/hidden_size"]) == {hidden}
        assert pd.read_csv(run / "trials.csv")["trial_id"].isin(trials["trial_id"]).all()
    assert not set(read_run(first).trials["trial_id"]) & set(read_run(second).trials["trial_id"])
