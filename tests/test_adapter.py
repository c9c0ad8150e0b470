"""Contract tests: each private Ray or Optuna member the adapter (studies/adapter.py) relies on, by name.

When a Ray or Optuna release moves one of them, the test named after it fails,
instead of exactly-once resume breaking quietly in a user's run.
"""

from __future__ import annotations

import inspect

import pytest


def test_ray_TuneController_CKPT_FILE_TMPL():
    from studies import adapter

    assert adapter.state_file_pattern() == "experiment_state-*.json"


def test_ray_tuner_internal__TUNER_PKL():
    from studies import adapter

    assert adapter.tuner_file() == "tuner.pkl"


def test_ray_SearchGenerator_Searcher_BasicVariantGenerator_CKPT_FILE_TMPL():
    from studies import adapter

    assert adapter.restored_file_patterns() == ("tuner.pkl", "experiment_state-*.json", "search_gen_state-*.json",
                                                "searcher-state-*.pkl", "basic-variant-state-*.json")


def test_ray_CheckpointManager__latest_checkpoint_result_and__checkpoint_results():
    from ray.train._internal.checkpoint_manager import _CheckpointManager

    manager = _CheckpointManager(None)
    assert manager._latest_checkpoint_result is None and manager._checkpoint_results == []
    assert manager.latest_checkpoint_result is None  # the public view of the same field


def test_ray_session__TrainingResult():
    from ray.train._internal.session import _TrainingResult

    assert list(inspect.signature(_TrainingResult).parameters) == ["checkpoint", "metrics"]


def test_ray_StorageContext_current_checkpoint_index():
    from ray.train._internal.storage import StorageContext

    assert "current_checkpoint_index" in inspect.signature(StorageContext).parameters


@pytest.mark.parametrize("member", ["from_json_state", "restore_run_metadata", "get_json_state",
                                    "invalidate_json_state", "relative_logdir", "evaluated_params"])
def test_ray_Trial_snapshot_members(member):
    from ray.tune.experiment.trial import Trial

    if member in ("relative_logdir", "evaluated_params"):
        assert member in inspect.signature(Trial).parameters or member in Trial.__init__.__code__.co_names
    else:
        assert callable(getattr(Trial, member))


def test_ray_TrainingRunMetadata_invalidate_cache_and_checkpoint_manager():
    from ray.tune.trainable.metadata import _TrainingRunMetadata

    meta = _TrainingRunMetadata()
    assert hasattr(meta, "checkpoint_manager") and callable(meta.invalidate_cache)


def test_ray_tune_controller__get_max_pending_trials_reads_TUNE_MAX_PENDING_TRIALS_PG(monkeypatch):
    from ray.tune.execution.tune_controller import _get_max_pending_trials
    from ray.tune.search import SearchGenerator

    from studies import adapter
    from studies.searchers.base import ListSearcher

    monkeypatch.setenv(adapter.MAX_PENDING_TRIALS_ENV, "auto")  # put back after the test
    generator = SearchGenerator(ListSearcher([{"seed": 0}], "val/loss", "min"))
    assert _get_max_pending_trials(generator) == 1  # Ray's own choice for such a searcher: what the setting fixes
    adapter.set_max_pending_trials(6)
    assert _get_max_pending_trials(generator) == 6


def test_ray_WandbLoggerCallback__logger_actor_cls_and__WandbLoggingActor__wandb():
    pytest.importorskip("wandb")
    import wandb
    from ray.air.integrations.wandb import WandbLoggerCallback, _WandbLoggingActor

    from studies import adapter

    assert WandbLoggerCallback._logger_actor_cls is _WandbLoggingActor
    assert "self._wandb = wandb" in inspect.getsource(_WandbLoggingActor.__init__)
    assert callable(_WandbLoggingActor.run) and callable(wandb.teardown)
    actor = adapter.wandb_callback_type()._logger_actor_cls
    assert actor.__mro__[1] is _WandbLoggingActor and actor.run is not _WandbLoggingActor.run


def test_ray_TuneController__maybe_reuse_cached_actor_and_the_members_it_reads():
    from ray.air.execution._internal.actor_manager import RayActorManager
    from ray.tune import tune as tune_module
    from ray.tune.execution.tune_controller import TuneController

    assert "runner = TuneController(" in inspect.getsource(tune_module.run)  # the name keep_placed_workers replaces
    source = inspect.getsource(TuneController._maybe_reuse_cached_actor)
    assert "self._remove_actor(tracked_actor=original_actor)" in source  # what a placed trial is kept from
    init = inspect.getsource(TuneController.__init__)
    for member in ("self._trial_to_actor", "self._resetting_trials", "self._actor_manager"):
        assert member in init, member
    assert callable(RayActorManager.is_actor_started)


class StubManager:
    def __init__(self, started: set) -> None:
        self.started = started

    def is_actor_started(self, actor) -> bool:
        return actor in self.started


@pytest.mark.parametrize(("started", "reused"), [(set(), True), ({"its worker"}, False)])
def test_a_waiting_trial_keeps_a_worker_that_has_its_slot(monkeypatch, started, reused):
    from ray.tune import tune as tune_module
    from ray.tune.execution.tune_controller import TuneController

    from studies import adapter

    monkeypatch.setattr(tune_module, "TuneController", TuneController)
    monkeypatch.setattr(TuneController, "_maybe_reuse_cached_actor", lambda self, trial: True)  # Ray's: reuse
    adapter.keep_placed_workers()
    adapter.keep_placed_workers()  # once is enough: the second call changes nothing
    controller_type = tune_module.TuneController
    assert controller_type.__mro__[1] is TuneController
    controller = controller_type.__new__(controller_type)
    controller._trial_to_actor, controller._resetting_trials = {"trial": "its worker"}, set()
    controller._actor_manager = StubManager(started)
    assert controller._maybe_reuse_cached_actor("trial") is reused
    assert controller._maybe_reuse_cached_actor("a trial without a worker") is True


def test_ray_usage_lib_reads_RAY_USAGE_STATS_ENABLED(monkeypatch):
    from ray._common.usage import usage_constants, usage_lib

    from studies import adapter

    assert usage_constants.USAGE_STATS_ENABLED_ENV_VAR == adapter.USAGE_STATS_ENV
    monkeypatch.delenv(adapter.USAGE_STATS_ENV, raising=False)  # put back after the test
    adapter.usage_stats_off()
    assert usage_lib.usage_stats_enabled() is False
    monkeypatch.setenv(adapter.USAGE_STATS_ENV, "1")  # someone who asked for it keeps it
    adapter.usage_stats_off()
    assert usage_lib.usage_stats_enabled() is True
