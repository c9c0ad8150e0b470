"""The Optuna study in a database: PRUNED vs COMPLETE, reconciliation with Tune on resume, ASHA's rungs."""

from __future__ import annotations

import argparse

import optuna
import pytest
from optuna.trial import TrialState
from ray import tune

from studies import optuna_search as osearch
from studies import search
from trainables.common import metrics as M

METRIC = "val/loss"
SPACE = {"lr": tune.loguniform(1e-4, 1e-1), "cell": tune.choice(["rnn", "gru"])}


def searcher(tmp_path, max_concurrent=0, name="s") -> osearch.DurableOptunaSearch:
    s = osearch.DurableOptunaSearch(f"sqlite:///{tmp_path / 'optuna.db'}", study_name=name, metric=METRIC,
                                    mode="min", seed=0, max_concurrent=max_concurrent)
    s.set_search_properties(None, None, SPACE)
    return s


def stored(tmp_path, name="s") -> dict[str, optuna.trial.FrozenTrial]:
    study = optuna.load_study(study_name=name, storage=f"sqlite:///{tmp_path / 'optuna.db'}")
    return {t.user_attrs.get(osearch.TUNE_ID, f"#{t.number}"): t for t in study.trials}


def result(step: int, value: float, completed: bool = False) -> dict:
    return {M.TRAINING_ITERATION: step, METRIC: value, **({M.COMPLETED: 1} if completed else {})}


def test_stopped_trials_are_pruned_with_their_epochs_and_finished_ones_complete(tmp_path):
    s = searcher(tmp_path)
    for tid in ("full", "stopped", "broken"):
        assert set(s.suggest(tid)) == {"lr", "cell"}
    for step in (1, 2, 3):
        s.on_trial_result("full", result(step, 1.0 / step))
    s.on_trial_complete("full", result(4, 0.2, completed=True))
    s.on_trial_result("stopped", result(1, 5.0))
    # ASHA's STOP: Tune passes the stopping report only to on_trial_complete.
    s.on_trial_complete("stopped", result(2, 4.0))
    s.on_trial_complete("broken", error=True)

    trials = stored(tmp_path)
    assert trials["full"].state == TrialState.COMPLETE and trials["full"].value == pytest.approx(0.2)
    assert trials["full"].intermediate_values == pytest.approx({1: 1.0, 2: 0.5, 3: 1 / 3, 4: 0.2})
    assert trials["stopped"].state == TrialState.PRUNED
    assert trials["stopped"].intermediate_values == {1: 5.0, 2: 4.0}
    assert trials["stopped"].value == 4.0  # Optuna gives a pruned trial its last epoch's value
    assert trials["broken"].state == TrialState.FAIL


def test_concurrency_is_limited_by_the_searcher(tmp_path):
    s = searcher(tmp_path, max_concurrent=2)
    assert s.suggest("a") and s.suggest("b")
    assert s.suggest("c") is None
    s.on_trial_complete("a", result(1, 1.0, completed=True))
    assert s.suggest("c") is not None


def test_reconcile_makes_the_database_agree_with_tunes_trials(tmp_path):
    s = searcher(tmp_path)
    for tid in ("done", "done_unsaid", "running", "errored", "lost"):
        s.suggest(tid)
    s.on_trial_complete("done", result(3, 0.5, completed=True))
    s.on_trial_complete("errored", error=True)
    s.on_trial_result("running", result(1, 2.0))
    errored_params = stored(tmp_path)["errored"].params

    # The driver dies; a fresh searcher (as Tune unpickles it) meets Tune's restored trials:
    # "lost" was asked but never recorded; "done_unsaid" finished in Tune after the database last heard of it.
    restored = searcher(tmp_path)
    fixed = restored.reconcile({
        "done": osearch.TuneTrial("TERMINATED"),
        "done_unsaid": osearch.TuneTrial("TERMINATED", last_result=result(2, 3.0)),
        "running": osearch.TuneTrial("RUNNING"),
        "errored": osearch.TuneTrial("ERROR", params=errored_params),
    })
    assert fixed == {"lost": 1, "told": 1, "adopted": 1}
    study = optuna.load_study(study_name="s", storage=f"sqlite:///{tmp_path / 'optuna.db'}")
    by_state = {}
    for t in study.trials:
        by_state.setdefault(t.user_attrs[osearch.TUNE_ID], []).append(t.state)
    assert by_state == {"done": [TrialState.COMPLETE], "done_unsaid": [TrialState.PRUNED],
                        "running": [TrialState.RUNNING], "lost": [TrialState.FAIL],
                        # Tune retries the errored trial: a new Optuna trial with the same params.
                        "errored": [TrialState.FAIL, TrialState.RUNNING]}
    retried = [t for t in study.trials if t.user_attrs[osearch.TUNE_ID] == "errored"][-1]
    assert retried.params == errored_params
    assert restored.live == {"running", "errored"}

    # Finishing work continues where it was; the finished trial's late reports change nothing.
    restored.on_trial_result("done", result(4, 9.0))
    restored.on_trial_complete("done", result(4, 9.0, completed=True))
    restored.on_trial_result("running", result(2, 1.5))
    restored.on_trial_complete("running", result(3, 1.0, completed=True))
    restored.on_trial_complete("errored", result(3, 0.7, completed=True))
    trials = {tid: t for tid, t in stored(tmp_path).items()}
    assert trials["done"].value == 0.5 and trials["done"].intermediate_values == {3: 0.5}
    assert trials["running"].state == TrialState.COMPLETE
    assert trials["running"].intermediate_values == {1: 2.0, 2: 1.5, 3: 1.0}
    assert trials["errored"].state == TrialState.COMPLETE and trials["errored"].value == 0.7
    assert not [t for t in study.get_trials() if not t.state.is_finished()]


def test_fail_unfinished_closes_the_trials_of_a_dead_driver(tmp_path):
    s = searcher(tmp_path)
    s.suggest("a"), s.suggest("b")
    s.on_trial_complete("a", result(1, 1.0, completed=True))
    url = f"sqlite:///{tmp_path / 'optuna.db'}"
    assert osearch.fail_unfinished(url, "s") == 1
    assert {t: x.state for t, x in stored(tmp_path).items()} == {"a": TrialState.COMPLETE, "b": TrialState.FAIL}
    assert osearch.existing_trials(url, "s") == 2 and osearch.existing_trials(url, "other") == 0
    assert osearch.fail_unfinished(url, "other") == 0


def test_asha_rungs_are_rebuilt_from_the_database(tmp_path):
    s = searcher(tmp_path)
    for tid, values in {"a": [4.0, 3.0, 2.0, 1.0], "b": [5.0, 4.5], "c": [9.0]}.items():
        s.suggest(tid)
        for step, v in enumerate(values, 1):
            s.on_trial_result(tid, result(step, v))
    asha = osearch.ResumableASHA(s, time_attr=M.TRAINING_ITERATION, max_t=8, grace_period=1, reduction_factor=2)
    asha.set_search_properties(METRIC, "min")
    asha.on_trial_add(None, _Trial("new"))
    assert asha.rungs() == [{"a": -4.0, "b": -5.0, "c": -9.0}, {"a": -3.0, "b": -4.5}, {"a": -1.0}, {}]  # 1, 2, 4, 8
    # A newcomer worse than the rung's cutoff is stopped, as it would have been without the resume.
    assert asha.on_trial_result(None, _Trial("new"), result(1, 8.0)) == "STOP"
    asha.on_trial_add(None, _Trial("other"))
    assert asha.on_trial_result(None, _Trial("other"), result(1, 3.0)) == "CONTINUE"


class _Trial:
    def __init__(self, trial_id: str) -> None:
        self.trial_id = trial_id


def test_default_storage_is_beside_the_run(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert osearch.default_storage("/runs/q1", "q1") == "sqlite:////runs/q1/optuna.db"
    assert osearch.default_storage("s3://bucket/runs/q1", "q1") == f"sqlite:///{tmp_path}/optuna-q1.db"
    args = argparse.Namespace(optuna_storage="postgresql://me:secret@db/studies", name="q1")
    assert search.optuna_storage(args, "/runs/q1") == "postgresql://me:secret@db/studies"
    assert "secret" not in osearch.redacted(args.optuna_storage)


def test_param_importance_table_from_the_runs_database(tmp_path):
    from analysis import optuna_report

    run_dir = tmp_path / "q1"
    run_dir.mkdir()
    study = optuna.create_study(study_name="q1", storage=f"sqlite:///{run_dir / 'optuna.db'}",
                                sampler=optuna.samplers.RandomSampler(seed=0))
    # Only lr matters; cell does not; pruned trials are left out.
    study.optimize(lambda t: (t.suggest_float("lr", 0, 1) - 0.3) ** 2 + 0 * len(t.suggest_categorical("cell", ["a", "b"])),
                   n_trials=30)
    pruned = study.ask()
    pruned.suggest_float("lr", 0, 1), pruned.suggest_categorical("cell", ["a", "b"])
    pruned.report(9.0, 1)
    study.tell(pruned, state=TrialState.PRUNED)

    paths = optuna_report.write_param_importance(run_dir)
    assert sorted(p.name for p in paths) == ["param_importance.csv", "param_importance.md"]
    table = optuna_report.param_importance(optuna_report.load_study(run_dir))
    assert list(table.index) == ["lr", "cell"] and table.loc["lr", "importance"] > 0.9
    assert table.loc["lr", "best_value"] == pytest.approx(study.best_params["lr"])
    assert "30 COMPLETE, 1 PRUNED" in (run_dir / "tables" / "param_importance.md").read_text()
    assert optuna_report.write_param_importance(tmp_path) == []  # no study: a grid run


@pytest.mark.slow
def test_asha_stopped_trials_reach_optuna_as_pruned_in_a_real_run(tmp_path, ray_cluster):
    url, steps = f"sqlite:///{tmp_path / 'optuna.db'}", 6

    def toy(config):
        for step in range(1, steps + 1):
            tune.report({"loss": config["x"] / step, **({M.COMPLETED: 1} if step == steps else {})})

    study = optuna.create_study(study_name="toy", storage=url)
    for x in (1.0, 9.0, 0.5):  # the second is worse than the first at the first rung: ASHA stops it
        study.enqueue_trial({"x": x})
    s = osearch.DurableOptunaSearch(url, "toy", metric="loss", mode="min", max_concurrent=1)
    asha = osearch.ResumableASHA(s, time_attr=M.TRAINING_ITERATION, max_t=steps, grace_period=1, reduction_factor=2)
    tuner = tune.Tuner(toy, param_space={"x": tune.uniform(0.1, 10.0)}, tune_config=tune.TuneConfig(
        metric="loss", mode="min", num_samples=3, search_alg=osearch.DurableSearchGenerator(s), scheduler=asha),
        run_config=tune.RunConfig(storage_path=str(tmp_path), name="toy", verbose=0))
    results = tuner.fit()
    assert not results.errors

    trials = {t.params["x"]: t for t in optuna.load_study(study_name="toy", storage=url).trials}
    assert [trials[x].state for x in (1.0, 9.0, 0.5)] == [TrialState.COMPLETE, TrialState.PRUNED, TrialState.COMPLETE]
    assert trials[9.0].intermediate_values == {1: 9.0} and trials[9.0].value == 9.0
    assert trials[1.0].value == pytest.approx(1.0 / steps)
    assert trials[0.5].intermediate_values == pytest.approx({k: 0.5 / k for k in range(1, steps + 1)})
    # Ray's own OptunaSearch would have told the stopped trial COMPLETE with its first-epoch score.
    tune_ids = {r.metrics["trial_id"]: r.metrics for r in results}
    assert {t.user_attrs[osearch.TUNE_ID] for t in trials.values()} == set(tune_ids)


def test_tune_config_of_an_optuna_study_uses_the_run_database(tmp_path):
    from studies import q1

    parser = q1.STUDY.parser()
    grid = search.tune_config(parser.parse_args([]), str(tmp_path / "q1"), METRIC, "min", max_t=100, grace_period=10)
    assert grid.search_alg is None and grid.scheduler is None
    args = parser.parse_args(["--search", "optuna", "--num-samples", "7", "--max-concurrent", "2", "--name", "tpe"])
    tpe = search.tune_config(args, str(tmp_path / "tpe"), METRIC, "min", max_t=4, grace_period=10)
    assert tpe.num_samples == 7 and tpe.max_concurrent_trials is None  # the searcher limits concurrency
    assert isinstance(tpe.search_alg, osearch.DurableSearchGenerator)
    searcher = tpe.search_alg.searcher
    assert searcher.max_concurrent == 2 and searcher.url == f"sqlite:///{tmp_path / 'tpe' / 'optuna.db'}"
    assert isinstance(tpe.scheduler, osearch.ResumableASHA) and tpe.scheduler._max_t == 4
    assert tpe.scheduler.searcher is searcher
    args = parser.parse_args(["--search", "optuna", "--optuna-storage", "postgresql://db/x"])
    assert search.tune_config(args, "/r", METRIC, "min", max_t=4, grace_period=1).search_alg.searcher.url == \
        "postgresql://db/x"


def test_a_new_run_refuses_a_study_with_trials_and_a_resume_follows_the_database(tmp_path, monkeypatch, capsys):
    from studies import q1, runner

    run_dir = tmp_path / "q1"
    run_dir.mkdir()
    parser = q1.STUDY.parser()
    args = parser.parse_args(["--search", "optuna", "--storage-path", str(tmp_path)])
    assert runner.optuna_url(args, str(run_dir)) == f"sqlite:///{run_dir / 'optuna.db'}"
    searcher(run_dir, name="q1").suggest("a")  # a trial of an earlier run
    with pytest.raises(SystemExit):
        runner.optuna_url(args, str(run_dir))
    assert "already has trials: add --resume" in capsys.readouterr().err
    monkeypatch.setattr(osearch, "storage_override", None)
    resumed = parser.parse_args(["--search", "optuna", "--storage-path", str(tmp_path), "--resume"])
    assert runner.optuna_url(resumed, str(run_dir)) == osearch.storage_override == f"sqlite:///{run_dir / 'optuna.db'}"
    assert runner.optuna_url(parser.parse_args(["--search", "optuna", "--smoke-test"]), str(run_dir)) is None
