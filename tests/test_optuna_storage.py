"""The Optuna study in a database: PRUNED vs COMPLETE, reconciliation with Tune on resume, ASHA's rungs."""

from __future__ import annotations

import json

import optuna
import pytest
from optuna.trial import TrialState
from ray import tune

from studies import adapter
from studies.searchers import base
from studies.searchers import optuna as osearch
from trainables.common import metrics as M

METRIC = "val/loss"
SPACE = {"lr": tune.loguniform(1e-4, 1e-1), "cell": tune.choice(["rnn", "gru"])}


def searcher(tmp_path, max_concurrent=0, name="s") -> osearch.OptunaSearcher:
    return osearch.OptunaSearcher(SPACE, f"sqlite:///{tmp_path / 'optuna.db'}", study_name=name, metric=METRIC,
                                  mode="min", seed=0, max_concurrent=max_concurrent)


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
        "done": base.TuneTrial("TERMINATED"),
        "done_unsaid": base.TuneTrial("TERMINATED", last_result=result(2, 3.0)),
        "running": base.TuneTrial("RUNNING"),
        "errored": base.TuneTrial("ERROR", params=errored_params),
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
    assert len(osearch.stored_trials(url, "s")[1]) == 2 and osearch.stored_trials(url, "other")[1] == []
    assert osearch.fail_unfinished(url, "other") == 0


def test_asha_rungs_are_rebuilt_from_the_trials_results(tmp_path):
    for tid, values in {"a": [4.0, 3.0, 2.0, 1.0], "b": [5.0, 4.5], "c": [9.0]}.items():
        folder = tmp_path / f"train_{tid}"
        folder.mkdir()
        rows = [{"trial_id": tid, M.EPOCH: step, METRIC: v} for step, v in enumerate(values, 1)]
        (folder / "result.json").write_text("\n".join(json.dumps(r) for r in rows) + "\n{\"cut short")
    asha = base.ResumableASHA(str(tmp_path), time_attr=M.EPOCH, max_t=8, grace_period=1, reduction_factor=2)
    asha.set_search_properties(METRIC, "min")
    asha.on_trial_add(None, _Trial("new"))
    rungs = [dict(recorded) for _, recorded in reversed(adapter.asha_rungs(asha))]  # lowest milestone first
    assert rungs == [{"a": -4.0, "b": -5.0, "c": -9.0}, {"a": -3.0, "b": -4.5}, {"a": -1.0}, {}]  # 1, 2, 4, 8
    # A newcomer worse than the rung's cutoff is stopped, as it would have been without the resume.
    assert asha.on_trial_result(None, _Trial("new"), {M.EPOCH: 1, METRIC: 8.0}) == "STOP"
    asha.on_trial_add(None, _Trial("other"))
    assert asha.on_trial_result(None, _Trial("other"), {M.EPOCH: 1, METRIC: 3.0}) == "CONTINUE"


class _Trial:
    def __init__(self, trial_id: str) -> None:
        self.trial_id = trial_id


def test_default_storage_is_beside_the_run(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert osearch.default_storage("/runs/q1/r1") == "sqlite:////runs/q1/r1/optuna.db"
    assert osearch.default_storage("s3://bucket/runs/q1/r1") == f"sqlite:///{tmp_path}/q1-r1.optuna.db"
    assert "secret" not in osearch.redacted("postgresql://me:secret@db/studies")


def test_param_importance_table_from_the_runs_database(tmp_path):
    from analysis.report import search_importance

    run_dir = tmp_path / "q1"
    run_dir.mkdir()
    study = optuna.create_study(study_name="q1", storage=f"sqlite:///{run_dir / 'optuna.db'}",
                                sampler=optuna.samplers.RandomSampler(seed=0))
    # Only lr matters; cell does not; pruned trials are left out.
    study.optimize(lambda t: (t.suggest_float("lr", 0, 1) - 0.3) ** 2
                   + 0 * len(t.suggest_categorical("cell", ["a", "b"])),
                   n_trials=30)
    pruned = study.ask()
    pruned.suggest_float("lr", 0, 1), pruned.suggest_categorical("cell", ["a", "b"])
    pruned.report(9.0, 1)
    study.tell(pruned, state=TrialState.PRUNED)

    (block,) = search_importance.entries(run_dir)
    assert block.stem == "param_importance" and list(block.table.index) == ["lr", "cell"]
    assert block.table.loc["lr", "importance"] > 0.9
    assert block.table.loc["lr", "best_value"] == pytest.approx(study.best_params["lr"])
    assert "30 COMPLETE, 1 PRUNED" in block.text
    assert search_importance.entries(tmp_path) == []  # no study: a grid run


@pytest.mark.slow
def test_asha_stopped_trials_reach_optuna_as_pruned_in_a_real_run(tmp_path, ray_cluster):
    url, steps = f"sqlite:///{tmp_path / 'optuna.db'}", 6

    def toy(config):
        for step in range(1, steps + 1):
            tune.report({"loss": config["x"] / step, M.EPOCH: step, **({M.COMPLETED: 1} if step == steps else {})})

    study = optuna.create_study(study_name="toy", storage=url)
    for x in (1.0, 9.0, 0.5):  # the second is worse than the first at the first rung: ASHA stops it
        study.enqueue_trial({"x": x})
    s = osearch.OptunaSearcher({"x": tune.uniform(0.1, 10.0)}, url, "toy", metric="loss", mode="min", max_concurrent=1)
    asha = base.ResumableASHA(str(tmp_path / "toy"), time_attr=M.EPOCH, max_t=steps, grace_period=1,
                              reduction_factor=2)
    tuner = tune.Tuner(toy, tune_config=tune.TuneConfig(
        metric="loss", mode="min", num_samples=3, search_alg=base.DurableSearchGenerator(s), scheduler=asha),
        run_config=tune.RunConfig(storage_path=str(tmp_path), name="toy", verbose=0))
    results = tuner.fit()
    assert not results.errors

    trials = {t.params["x"]: t for t in optuna.load_study(study_name="toy", storage=url).trials}
    assert [trials[x].state for x in (1.0, 9.0, 0.5)] == [TrialState.COMPLETE, TrialState.PRUNED, TrialState.COMPLETE]
    assert trials[9.0].intermediate_values == {1: 9.0} and trials[9.0].value == 9.0
    assert trials[1.0].value == pytest.approx(1.0 / steps)
    assert trials[0.5].intermediate_values == pytest.approx({k: 0.5 / k for k in range(1, steps + 1)})
    tune_ids = {r.metrics["trial_id"]: r.metrics for r in results}
    assert {t.user_attrs[osearch.TUNE_ID] for t in trials.values()} == set(tune_ids)


def test_the_optuna_plan_uses_the_run_database_and_limits_concurrency_itself(tmp_path):
    from studies import launch, q1

    ctx, plan = launch.prepare(q1.STUDY, ["--search", "optuna", "--num-samples", "7", "--max-concurrent", "2",
                                          "--storage-path", str(tmp_path)])
    config = plan.tune_config
    assert config.num_samples == 7 and config.max_concurrent_trials is None  # the searcher limits concurrency
    assert isinstance(config.search_alg, base.DurableSearchGenerator)
    searcher = config.search_alg.searcher
    assert searcher.max_concurrent == 2 and searcher.url == f"sqlite:///{ctx.run_dir}/optuna.db"
    assert searcher.study_name == f"q1/{ctx.run_id}"
    assert isinstance(config.scheduler, base.ResumableASHA) and config.scheduler._max_t == 100
    shared = f"sqlite:///{tmp_path / 'shared.db'}"
    _, plan = launch.prepare(q1.STUDY, ["--search", "optuna", "--optuna-storage", shared,
                                        "--storage-path", str(tmp_path)])
    assert plan.tune_config.search_alg.searcher.url == shared


def test_a_database_that_cannot_be_opened_is_one_line(tmp_path, capsys):
    from studies import launch, q1

    with pytest.raises(SystemExit):
        launch.prepare(q1.STUDY, ["--search", "optuna", "--optuna-storage", "nosuchdialect://me:pw@db/x",
                                  "--storage-path", str(tmp_path)])
    err = capsys.readouterr().err
    assert err.startswith("error: --optuna-storage nosuchdialect://me:***@db/x: cannot open the database")
    assert err.count("\n") == 1 and "pw" not in err


def test_a_new_run_refuses_a_shared_study_that_has_trials(tmp_path, capsys, monkeypatch):
    from studies import launch, q1

    url = f"sqlite:///{tmp_path / 'shared.db'}"
    monkeypatch.setattr("trainables.common.runs.new_run_id", lambda name_dir, now=None: "r1")
    searcher = osearch.OptunaSearcher(SPACE, url, "q1/r1", METRIC, "min")
    searcher.suggest("a")  # a trial of an earlier run with the same name and id
    with pytest.raises(SystemExit):
        launch.prepare(q1.STUDY, ["--search", "optuna", "--optuna-storage", url, "--storage-path", str(tmp_path)])
    assert "already has trials: add --resume" in capsys.readouterr().err


def test_the_random_search_draws_the_same_configs_every_time(tmp_path):
    from studies import launch, q1

    argv = ["--search", "random", "--num-samples", "5", "--storage-path", str(tmp_path)]
    _, plan = launch.prepare(q1.STUDY, argv)
    first = plan.searcher.configs
    again = launch.prepare(q1.STUDY, argv)[1].searcher.configs
    other = launch.prepare(q1.STUDY, argv + ["--search-seed", "1"])[1].searcher.configs
    assert len(first) == 5 and first == again and first != other
    assert plan.space["split_window"] == 60 and all(1e-4 <= c["lr"] <= 1e-2 for c in first)
