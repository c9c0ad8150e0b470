"""The one trial loop: restore, then epochs of train, validate, record, checkpoint.

Every task supplies a ``Trainer`` (Ray-free: its model, optimizer and data)
and every caller a ``Session`` (where each epoch's metrics are recorded and
checkpoints go; Ray Tune calls handing them over ``tune.report``):
``RaySession`` inside a Ray Tune trial, ``LocalSession`` in benchmarks and
tests. The loop is the only place that decides when to checkpoint, what a
checkpoint holds, which epoch is best, when to stop early, and which weights
the test part sees, so these rules are the same for every task.

A resumed trial ends exactly where an uninterrupted one would: the
checkpoint carries the trainer's state (model, optimizer, schedule, gradient
scaler, data position, shuffling generator, hidden state), every global
random generator, and the best-epoch bookkeeping, the training seconds a
budget (``TrialConfig.budget_s``) has spent among them.
"""

from __future__ import annotations

import math
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import torch

from trainables.common import checkpoint, faults, runtime
from trainables.common import metrics as M
from trainables.common.config import TrialConfig, to_dict


class Trainer(Protocol):
    """What a task gives the loop. ``model`` and ``device`` are attributes."""

    model: torch.nn.Module
    device: torch.device

    def train_epoch(self) -> dict[str, float]:
        """One epoch of training; its metrics (``train/...``)."""

    def validate(self) -> dict[str, float]:
        """Metrics on the validation part (``val/...``), the selection metric among them."""

    def test(self) -> tuple[dict[str, float], dict[str, str]]:
        """Final metrics (``test/...``, baselines) and artifact files (name -> text)."""

    def state_dict(self) -> dict[str, Any]:
        """Everything besides the global RNGs that a resumed trial needs."""

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Put back ``state_dict()``; tensors arrive on ``self.device`` (see ``checkpoint.move_to``)."""


class Session(Protocol):
    """Where a trial's epochs go: ``record`` takes an epoch's metrics and, when given, a checkpoint's state."""

    def restore(self) -> dict[str, Any] | None: ...
    def record(self, metrics: dict[str, Any], state: dict[str, Any] | None, files: dict[str, str] | None) -> None: ...
    def before_epoch(self, cfg: TrialConfig, epoch: int) -> None: ...


class RaySession:
    """Records and checkpoints through Ray Tune (``tune.report``, ``tune.get_checkpoint``).

    Every epoch it records also names the GPUs Ray gave the trial (``metrics.GPU_IDS``), beside the node Ray adds.
    """

    def __init__(self) -> None:
        import ray

        self.placement = {M.GPU_IDS: ",".join(str(i) for i in ray.get_gpu_ids())}

    def restore(self) -> dict[str, Any] | None:
        from ray import tune

        ckpt = tune.get_checkpoint()
        if ckpt is None:
            return None
        # The study mends snapshots that name a checkpoint that is gone before it resumes
        # (studies/resume.py), so the checkpoint Tune hands over is always complete.
        with ckpt.as_directory() as directory:
            return checkpoint.load_state(directory)

    def record(self, metrics, state=None, files=None) -> None:
        from ray import tune

        metrics = {**metrics, **self.placement}
        if state is None:
            tune.report(metrics)
            return
        with tempfile.TemporaryDirectory(prefix="ckpt-") as tmp:
            write_checkpoint(tmp, state, files)
            tune.report(metrics, checkpoint=tune.Checkpoint.from_directory(tmp))

    def before_epoch(self, cfg: TrialConfig, epoch: int) -> None:
        from ray import tune

        # The trial's folder on storage, not ``get_trial_dir()``: Ray 2.60 names another local folder there once
        # a worker is reused (``FunctionTrainable.reset_config``), so a retry would miss the marker and crash again.
        storage = tune.get_context().get_storage()
        faults.maybe_crash(cfg.fail_at_epoch, epoch, storage.storage_filesystem, storage.trial_fs_path)


@dataclass
class LocalSession:
    """Ray-free: each epoch's metrics kept in memory (``records``), the latest checkpoint in ``directory``.

    ``fail_at_epoch`` raises ``InjectedFault`` once, so a test can resume
    from the same directory.
    """

    directory: str | Path | None = None
    records: list[dict[str, Any]] = field(default_factory=list)

    def __post_init__(self) -> None:
        if self.directory is None:
            self.directory = tempfile.mkdtemp(prefix="trial-")
        Path(self.directory).mkdir(parents=True, exist_ok=True)

    def restore(self) -> dict[str, Any] | None:
        if not (Path(self.directory) / checkpoint.STATE_FILE).exists():
            return None
        return checkpoint.load_state(self.directory)

    def record(self, metrics, state=None, files=None) -> None:
        self.records.append(dict(metrics))
        if state is not None:
            write_checkpoint(self.directory, state, files)

    def before_epoch(self, cfg: TrialConfig, epoch: int) -> None:
        marker = Path(self.directory) / faults.MARKER
        if cfg.fail_at_epoch == epoch and not marker.exists():
            marker.write_text(str(epoch))
            raise faults.InjectedFault(f"injected fault at epoch {epoch}")


def write_checkpoint(directory: str | Path, state: dict[str, Any], files: dict[str, str] | None) -> None:
    for name, text in (files or {}).items():
        Path(directory, name).write_text(text)
    checkpoint.save_state(directory, state)  # last: a folder with state.pt is complete


def clock() -> float:
    """Seconds on the training clock (monotonic).

    The loop and the trainers that schedule over a budget read time only
    here, so a test can put a fake clock in its place instead of sleeping.
    """
    return time.perf_counter()


def cpu_clock() -> float:
    """CPU seconds this process has spent, all its threads together: what a trial costs the machine."""
    return time.process_time()


@dataclass
class Progress:
    """The loop's own bookkeeping, checkpointed with the trainer."""

    epoch: int = 0
    elapsed_s: float = 0.0  # training and validation
    train_s: float = 0.0  # inside train_epoch only: what a budget spends
    cpu_s: float = 0.0  # the process's CPU time in the loop (lost work of a crashed worker not counted)
    best_epoch: int = 0
    best_value: float = math.nan
    best_model: dict[str, Any] | None = None
    stale: int = 0  # epochs since the best one
    final: dict[str, Any] | None = None  # the final record, once the test part is scored

    def update(self, epoch: int, value: float, mode: str, model: torch.nn.Module) -> None:
        better = value < self.best_value if mode == "min" else value > self.best_value
        if math.isfinite(value) and (self.best_epoch == 0 or better):
            self.best_epoch, self.best_value, self.stale = epoch, value, 0
            self.best_model = checkpoint.cpu_copy(model.state_dict())
        else:
            self.stale += 1

    def state(self) -> dict[str, Any]:
        return dict(vars(self))

    def out_of_budget(self, cfg: TrialConfig) -> bool:
        return cfg.budget_s > 0 and self.train_s >= cfg.budget_s


def run_trial(trainer: Trainer, cfg: TrialConfig, session: Session, metric: str, mode: str,
              check: Callable[[dict[str, Any], bool], None] | None = None) -> dict[str, Any]:
    """Train ``trainer`` for ``cfg.epochs`` (or until ``cfg.patience`` or ``cfg.budget_s`` runs out); the final record.

    The test part is scored once, at the end, with the weights of the best
    validation epoch (by ``metric``), so test numbers never choose anything.
    ``check(metrics, final)`` sees every record before it leaves (the task's
    metric schema: an unknown or missing name fails the trial, naming it).
    """
    progress = Progress()
    saved = session.restore()
    if saved is not None:
        trainer.load_state_dict(checkpoint.move_to(saved["trainer"], trainer.device))
        runtime.set_rng_state(saved["rng"])
        progress = Progress(**saved["progress"])
    if progress.final is not None:
        # Resumed from the final checkpoint (the driver died before it recorded the end):
        # the trial is done, and says so again rather than training on.
        session.record(progress.final, None, None)
        return progress.final
    metrics: dict[str, Any] = {}
    cpu_start = cpu_clock() - progress.cpu_s
    for epoch in range(progress.epoch + 1, cfg.epochs + 1):
        session.before_epoch(cfg, epoch)
        started = clock()
        metrics = {M.EPOCH: epoch, M.DEVICE: trainer.device.type, **trainer.train_epoch()}
        train_s = clock() - started
        metrics.update(trainer.validate())
        epoch_s = clock() - started
        progress.epoch, progress.elapsed_s = epoch, progress.elapsed_s + epoch_s
        progress.train_s += train_s
        progress.cpu_s = cpu_clock() - cpu_start
        progress.update(epoch, float(metrics[metric]), mode, trainer.model)
        metrics.update({M.TIME_EPOCH: epoch_s, M.TIME_TOTAL: progress.elapsed_s, M.TIME_TRAIN: progress.train_s,
                        M.TIME_CPU: progress.cpu_s, M.BEST_EPOCH: progress.best_epoch})
        done = (epoch == cfg.epochs or (cfg.patience > 0 and progress.stale >= cfg.patience)
                or progress.out_of_budget(cfg))
        files = None
        if done:
            test_metrics, files = finish(trainer, progress)
            metrics.update(test_metrics)
            metrics[M.TIME_CPU] = progress.cpu_s = cpu_clock() - cpu_start  # the test part's too
            progress.final = dict(metrics)
        if check is not None:
            check(metrics, done)
        if done or epoch % cfg.checkpoint_every == 0:
            session.record(metrics, {"trainer": trainer.state_dict(), "rng": runtime.rng_state(),
                                     "progress": progress.state(), "config": to_dict(cfg)}, files)
        else:
            session.record(metrics, None, None)
        if done:
            break
    return metrics


def finish(trainer: Trainer, progress: Progress) -> tuple[dict[str, Any], dict[str, str]]:
    """(test metrics, the trainer's test files) with the best epoch's weights, then the last weights put back
    (for the checkpoint)."""
    last = checkpoint.cpu_copy(trainer.model.state_dict())
    if progress.best_model is not None:
        trainer.model.load_state_dict(progress.best_model)
    test_metrics, files = trainer.test()
    trainer.model.load_state_dict(last)
    return {**test_metrics, M.COMPLETED: 1}, files
