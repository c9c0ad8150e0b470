"""Every use of a private Ray Tune member, each behind one named function.

Resuming a run exactly once needs a few things Ray keeps to itself: how an
experiment snapshot names a trial's checkpoint, and the checkpoint counter a
trial continues from. They are reached here and nowhere else, and
``tests/test_adapter.py`` has a contract test per member that fails with the
member's name when a Ray release moves it (pyproject pins Ray's minor release
for that reason).
"""

from __future__ import annotations

import fnmatch
import json
import os
import posixpath
from dataclasses import dataclass
from typing import Any

from trainables.common import storage


def state_file_pattern() -> str:
    """Glob of Tune's experiment snapshot files (``TuneController.CKPT_FILE_TMPL``)."""
    from ray.tune.execution.tune_controller import TuneController

    return TuneController.CKPT_FILE_TMPL.format("*")


def tuner_file() -> str:
    """The name of the Tuner's own state file, written once as a run starts (``tuner_internal._TUNER_PKL``)."""
    from ray.tune.impl.tuner_internal import _TUNER_PKL

    return _TUNER_PKL


def restored_file_patterns() -> tuple[str, ...]:
    """Globs of every state file Tune reads back on restore: the Tuner's, the experiment snapshot, and the
    searcher's (``CKPT_FILE_TMPL`` of ``SearchGenerator``, ``Searcher`` and ``BasicVariantGenerator``)."""
    from ray.tune.search import BasicVariantGenerator, Searcher, SearchGenerator

    searchers = (SearchGenerator, Searcher, BasicVariantGenerator)
    return (tuner_file(), state_file_pattern(), *(cls.CKPT_FILE_TMPL.format("*") for cls in searchers))


def newest_state_file(run_dir: str) -> str | None:
    """The snapshot Tune restores from: the newest by name (names carry the session's start time)."""
    found = fnmatch.filter(storage.list_names(run_dir), state_file_pattern())
    return storage.join(run_dir, max(found)) if found else None


@dataclass
class SnapshotTrial:
    """One trial of a snapshot, as Ray restores it (``Trial.from_json_state``, ``restore_run_metadata``)."""

    trial: Any

    @property
    def trial_id(self) -> str:
        return self.trial.trial_id

    @property
    def status(self) -> str:
        return self.trial.status

    @property
    def relative_dir(self) -> str:
        return self.trial.relative_logdir

    @property
    def params(self) -> dict[str, Any]:
        return dict(self.trial.evaluated_params or {})

    @property
    def last_result(self) -> dict[str, Any]:
        return dict(self.trial.run_metadata.last_result or {})

    @property
    def checkpoint_name(self) -> str | None:
        """The folder name of the checkpoint a resume starts from (None: the trial starts over)."""
        latest = self.trial.run_metadata.checkpoint_manager.latest_checkpoint_result
        return posixpath.basename(latest.checkpoint.path.rstrip("/")) if latest and latest.checkpoint else None

    def point_at(self, name: str | None, metrics: dict[str, Any]) -> None:
        """Resume from checkpoint folder ``name`` of the trial (None: start over).

        Private: ``_CheckpointManager._latest_checkpoint_result`` and
        ``._checkpoint_results``, ``ray.train._internal.session._TrainingResult``.
        The path keeps the trial folder the snapshot recorded; Ray rewrites
        that prefix itself when the run folder has moved.
        """
        from ray.train._internal.session import _TrainingResult
        from ray.tune import Checkpoint

        manager = self.trial.run_metadata.checkpoint_manager
        if name is None:
            manager._latest_checkpoint_result, manager._checkpoint_results = None, []
        else:
            path = posixpath.join(self.trial.storage.trial_fs_path, name)
            result = _TrainingResult(Checkpoint(path, filesystem=self.trial.storage.storage_filesystem), metrics)
            manager._latest_checkpoint_result, manager._checkpoint_results = result, [result]
        self._changed()

    @property
    def checkpoint_index(self) -> int:
        """The counter naming the trial's next checkpoint folder (``StorageContext.current_checkpoint_index``)."""
        return self.trial.storage.current_checkpoint_index

    def set_checkpoint_index(self, index: int) -> None:
        """Name the trial's next checkpoint folder after ``index``, so it never overwrites one on storage."""
        self.trial.storage.current_checkpoint_index = index
        self._changed()

    def _changed(self) -> None:
        self.trial.invalidate_json_state()
        self.trial.run_metadata.invalidate_cache()

    def json_state(self) -> list[str]:
        """The trial as the snapshot stores it; read as a stub (no trainable needed), written as a real trial."""
        self.trial.stub = False
        try:
            return list(self.trial.get_json_state())
        finally:
            self.trial.stub = True


@dataclass
class Snapshot:
    """A Tune experiment snapshot (``experiment_state-*.json``), read and written back whole."""

    path: str
    state: dict[str, Any]
    trials: list[SnapshotTrial]

    def write(self) -> None:
        """Write the snapshot back where it was read (atomically on local storage)."""
        self.state["trial_data"] = [t.json_state() for t in self.trials]
        storage.write_text(self.path, json.dumps(self.state))


def read_snapshot(run_dir: str) -> Snapshot | None:
    """The newest snapshot of ``run_dir`` with its trials; None when there is none.

    Raises ``ValueError`` when the file is not a complete snapshot.
    """
    from ray.tune.experiment.trial import Trial

    path = newest_state_file(run_dir)
    if path is None:
        return None
    state = json.loads(storage.read_text(path) or "")
    trials = []
    for trial_json, meta_json in state["trial_data"]:
        trial = Trial.from_json_state(trial_json, stub=True)
        trial.restore_run_metadata(meta_json)
        trials.append(SnapshotTrial(trial))
    return Snapshot(path, state, trials)


def set_generator_count(generator: Any, count: int) -> None:
    """Set how many trials a ``SearchGenerator`` has made, and that it may make more (``_counter``, ``_finished``)."""
    generator._counter = count
    generator._finished = False


def asha_rungs(scheduler: Any) -> list[tuple[int, dict[str, float]]]:
    """Every bracket's rungs of an ASHA scheduler: (milestone, trial id -> signed value), as it keeps them
    (``AsyncHyperBandScheduler._brackets``, ``_Bracket._rungs``)."""
    return [rung for bracket in scheduler._brackets for rung in bracket._rungs]


def asha_sign(scheduler: Any) -> float:
    """+1 when ASHA keeps lower values as better, -1 otherwise (``AsyncHyperBandScheduler._metric_op``)."""
    return scheduler._metric_op


def restored_tune_config(tuner: Any) -> Any:
    """The ``TuneConfig`` a restored ``Tuner`` unpickled from tuner.pkl (``Tuner._local_tuner._tune_config``):
    its searcher is the object that continues, so state it needs now (a database URL) is handed to it here."""
    return tuner._local_tuner._tune_config


def restored_run_config(tuner: Any) -> Any:
    """The ``RunConfig`` a restored ``Tuner`` unpickled (``Tuner._local_tuner._run_config``): its callbacks
    are the ones of the first start, replaced by this start's (console, tracking) before the run continues."""
    return tuner._local_tuner._run_config


def optuna_trial_id(trial: Any) -> int:
    """The storage's id of an Optuna ``FrozenTrial`` (``FrozenTrial._trial_id``), which the storage API takes."""
    return trial._trial_id


USAGE_STATS_ENV = "RAY_USAGE_STATS_ENABLED"


def usage_stats_off() -> None:
    """Ray sends no usage report for the Ray this process starts (``RAY_USAGE_STATS_ENABLED`` = 0, read by
    ``ray._common.usage.usage_lib`` as Ray starts), unless the environment says otherwise: the study uses none
    of it, and on two cores its reporter's start and thread take time from the trials."""
    os.environ.setdefault(USAGE_STATS_ENV, "0")


MAX_PENDING_TRIALS_ENV = "TUNE_MAX_PENDING_TRIALS_PG"


def set_max_pending_trials(n: int) -> None:
    """Let Tune keep ``n`` trials waiting for a worker at once (``TUNE_MAX_PENDING_TRIALS_PG``, read by
    ``tune_controller._get_max_pending_trials`` when ``Tuner.fit`` builds its controller).

    Ray's default for a searcher of its own kind (the design's list, Optuna) is one: trials then start one
    after another, so a run of short trials never fills its slots; with reused workers the one waiting trial
    takes the first worker that frees up, and only one trial runs at all.
    """
    os.environ[MAX_PENDING_TRIALS_ENV] = str(max(1, n))


def keep_placed_workers() -> None:
    """With reused workers, let a trial keep the worker Ray is already starting for it.

    When a trial ends and its worker is kept for reuse, Tune gives that worker to a waiting trial
    (``TuneController._maybe_reuse_cached_actor``) and removes the worker the waiting trial had, even one whose
    slot was already taken and whose process is starting. On a cluster that is a slot on another node: with
    trials of seconds a node's workers are removed before any starts, and the node never trains. Here a waiting
    trial whose worker has its slot (``RayActorManager.is_actor_started``; ``_trial_to_actor``,
    ``_resetting_trials``, ``_actor_manager``) keeps it, and the freed worker takes another waiting trial.
    ``tune.run`` builds its controller from ``ray.tune.tune.TuneController``, replaced here by a subclass.
    """
    from ray.tune import tune as tune_module
    from ray.tune.execution.tune_controller import TuneController

    class PlacedWorkersKept(TuneController):
        def _maybe_reuse_cached_actor(self, trial: Any) -> bool:
            own = self._trial_to_actor.get(trial)
            if own is not None and trial not in self._resetting_trials and self._actor_manager.is_actor_started(own):
                return False
            return super()._maybe_reuse_cached_actor(trial)

    if tune_module.TuneController is TuneController:
        tune_module.TuneController = PlacedWorkersKept


def wandb_callback_type() -> type:
    """Ray's ``WandbLoggerCallback`` whose logging actor (``_logger_actor_cls``, a ``_WandbLoggingActor``) waits,
    once its trial's run is finished, until wandb's service has written the run to the end of its file
    (``wandb.teardown()``): Ray kills the actor as soon as ``finish()`` returns, and the service may still be
    writing then, which would leave the trial's ``.wandb`` file without its records."""
    from ray.air.integrations.wandb import WandbLoggerCallback, _WandbLoggingActor

    class WrittenToTheEnd(_WandbLoggingActor):
        def run(self) -> None:
            super().run()
            self._wandb.teardown()

    return type(WandbLoggerCallback.__name__, (WandbLoggerCallback,), {"_logger_actor_cls": WrittenToTheEnd})
