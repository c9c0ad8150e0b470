"""The run side of a study: Ray start-up, running or resuming the Tuner, a console a person can read.

Ray's and Tune's own output goes to the run's log file (``--verbose`` brings
it back); the console shows the set-up, one live progress line, each failed
trial and a closing line (``studies.console``, ``studies.progress``).
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from ray import tune
from ray.tune.logger import JsonLoggerCallback

from studies import adapter, checks, console, eta, mirror, placement, resume
from studies.checks import fail
from studies.context import Context
from studies.progress import ProgressCallback
from studies.searchers import base
from studies.searchers import optuna as optuna_searcher
from trainables.common import provenance, storage, tracking, usage
from trainables.common.layout import AUTO_SEEDS, LOG_FILE, LOST_TRIALS, TRIAL_RESULTS
from trainables.common.task import trainable


def storage_uri(path: str) -> str:
    """Absolute local path, or an object-store URI unchanged (Ray needs either)."""
    return path if storage.is_uri(path) else str(Path(path).expanduser().resolve())


def init_ray(args: Any) -> bool:
    """Join the cluster given by --address / RAY_ADDRESS, else start a local Ray; whether this call started it."""
    import ray

    if ray.is_initialized():
        return False
    # Checkpointing every few epochs in many short trials trips Tune's warning
    # about frequent experiment snapshots; they are small, so it is noise here.
    os.environ.setdefault("TUNE_WARN_EXCESSIVE_EXPERIMENT_CHECKPOINT_SYNC_THRESHOLD_S", "0")
    # Tune's CSV and TensorBoard loggers write every report of every trial a second and third time (the
    # results format is built from result.json): the driver keeps its time for the trials.
    os.environ.setdefault("TUNE_DISABLE_AUTO_CALLBACK_LOGGERS", "1")
    adapter.usage_stats_off()
    address = args.address or os.environ.get("RAY_ADDRESS")
    if not address:
        # "local", not None: None would join any `ray start` cluster that happens
        # to run on this machine (someone else's); say "auto" to mean that.
        project = str(Path(__file__).resolve().parents[1])
        # Workers must import trainables/ and studies/: ship the project's path.
        # Ray starts workers ahead of the trials; the hook has each import torch and
        # pandas then, so a trial's fresh worker is ready when the trial is placed.
        env = {"env_vars": {"PYTHONPATH": project}, "worker_process_setup_hook": "trainables.common.runtime.preload"}
        ray.init(address="local", runtime_env=env, include_dashboard=args.dashboard, log_to_driver=True)
        return True
    # A cluster has the project installed (cluster/*.yaml), or the job shipped it
    # (`ray job submit --working-dir .`): the job's runtime env is inherited.
    ray.init(address=address, log_to_driver=True)
    return True


def optuna_url(ctx: Context) -> str:
    """The Optuna database of an Optuna run, checked before Ray starts: a new run refuses a study with trials
    (in a shared database; the default one is new with its run folder)."""
    url = ctx.args.optuna_storage or optuna_searcher.default_storage(ctx.run_dir)
    if not ctx.args.optuna_storage or ctx.resuming:
        return url
    try:
        found = optuna_searcher.stored_trials(url, ctx.optuna_study)[1]
    except Exception as exc:  # noqa: BLE001 -- a driver missing, a server down, a bad URL: all one line
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        fail(f"--optuna-storage {optuna_searcher.redacted(url)}: cannot open the database ({reason})")
    if found:
        fail(f"the Optuna study {ctx.optuna_study!r} in {optuna_searcher.redacted(url)} already has trials: "
             "add --resume to continue that run, or give another --name")
    return url


def log_path(ctx: Context) -> str:
    """Where Ray's output goes: the run folder's log, or for object storage its copy in the current directory
    (``studies.mirror`` pushes it into the run folder)."""
    return str(mirror.local_path(ctx.run_dir, LOG_FILE))


def short_dirname(trial: Any) -> str:
    """``train_stock_<trial id>``: trial folders named by id, not by every config value."""
    return f"{trial.trainable_name}_{trial.trial_id}"


def run(ctx: Context, plan: base.Plan, data: Any) -> None:
    """Fit (or, with --resume, restore and finish) the study's Tuner, with a readable console; an object-store
    run's local files (its log, its SQLite database) fetched first on resume and pushed at the end, however it
    ends."""
    if ctx.resuming:
        mirror.fetch(ctx.run_dir)
    try:
        with environment_restored():
            _run(ctx, plan, data)
    finally:
        mirror.push(ctx.run_dir)


@contextlib.contextmanager
def environment_restored() -> Iterator[None]:
    """The variables a run sets for Ray and Tune (read as they start: usage stats, Tune's loggers, trials kept
    pending) last as long as the run: a process that runs a study and then a Tuner of its own gets Tune's
    defaults back (its result.json among them)."""
    saved = dict(os.environ)
    try:
        yield
    finally:
        os.environ.clear()
        os.environ.update(saved)


def _run(ctx: Context, plan: base.Plan, data: Any) -> None:
    args = ctx.args
    fn = tune.with_parameters(trainable(ctx.task), data=data)
    fn = tune.with_resources(fn, {"cpu": args.cpus_per_trial, "gpu": args.gpus_per_trial})
    started_s = time.monotonic()
    with console.capture(log_path(ctx), args.verbose) as con:
        started = init_ray(args)
        import ray

        free = ray.available_resources()
        waiting = checks.cluster_wait_note(args, free)
        for note in (checks.shared_note(args, ray.cluster_resources(), free), waiting):
            if note:
                con.line(note)
        slots = placement.trial_slots(args, ray.cluster_resources(), placement.cluster_config())
        adapter.set_max_pending_trials(slots)
        adapter.keep_placed_workers()
        provenance.start(ctx.run_dir, args, ctx.options, resumed=ctx.resuming)
        if ctx.optuna_url:
            provenance.update(ctx.run_dir, optuna_storage=optuna_searcher.redacted(ctx.optuna_url),
                              optuna_study=ctx.optuna_study)
        callbacks, wandb_info = tracking.callbacks(args, ctx.run_dir, adapter.wandb_callback_type)
        if wandb_info:
            provenance.update(ctx.run_dir, wandb=wandb_info)
        callbacks += [JsonLoggerCallback(), resume.SnapshotGuard(ctx.run_dir),
                      ProgressCallback(con, plan.total, ctx.metric, ctx.mode,
                                       seeds=plan.manifest.get("seeds") == AUTO_SEEDS,
                                       autoscaling=slots if waiting else None,
                                       costs=eta.Costs.of(ctx.task).trial, planned=plan.planned),
                      placement.GpuFallbackNote(con)]
        if storage.is_uri(ctx.run_dir):
            callbacks.append(mirror.Pusher(ctx.run_dir))
        tuner = restored(ctx, fn, plan, callbacks, con) if ctx.resuming else None
        if tuner is None:
            tuner = new_tuner(ctx, fn, plan, callbacks)
        tuner.fit()
        if ctx.resuming:
            for note in set_aside_lost_trials(ctx.run_dir):
                con.line(f"note: {note}")
        provenance.finish(ctx.run_dir, usage=run_usage(ctx, time.monotonic() - started_s))
        if started:  # its workers' last lines reach the log, not the console the report prints on
            ray.shutdown()


def trial_slots(args: Any, resources: dict[str, float]) -> int:
    """Trials the cluster's resources (as they are now) let run at once."""
    return usage.slots(resources.get("CPU", 0.0), args.cpus_per_trial, args.max_concurrent,
                       resources.get("GPU", 0.0), args.gpus_per_trial)


def run_usage(ctx: Context, wall_s: float) -> dict[str, Any]:
    """What the run's trials cost (``trainables.common.usage``); a resumed run's wall adds up over its starts."""
    import ray

    resources = ray.cluster_resources()
    earlier = ((provenance.read(ctx.run_dir).get("usage") or {}).get("wall_s") or 0.0) if ctx.resuming else 0.0
    cores = resources.get("CPU", 0.0)
    return usage.measure(ctx.run_dir, cores, trial_slots(ctx.args, resources), earlier + wall_s).as_dict()


def tune_verbosity(args: Any) -> int:
    """Tune's own progress tables and result lines (its default verbosity, 1) only with --verbose (0: none): the
    live line, the closing line and the run's files say what they say, without the driver formatting them."""
    return 1 if args.verbose else 0


def new_tuner(ctx: Context, fn: Any, plan: base.Plan, callbacks: list) -> tune.Tuner:
    name_dir, run_id = ctx.run_dir.rsplit("/", 1) if storage.is_uri(ctx.run_dir) else os.path.split(ctx.run_dir)
    run_config = tune.RunConfig(
        name=run_id, storage_path=name_dir,
        failure_config=tune.FailureConfig(max_failures=ctx.args.max_failures),
        # The latest checkpoint resumes a trial; the loop keeps the best epoch's weights inside it.
        checkpoint_config=tune.CheckpointConfig(num_to_keep=1),
        callbacks=callbacks, verbose=tune_verbosity(ctx.args),
    )
    tune_config = dataclasses.replace(plan.tune_config, trial_dirname_creator=short_dirname,
                                      reuse_actors=ctx.args.reuse_workers)
    return tune.Tuner(fn, param_space=plan.space, tune_config=tune_config, run_config=run_config)


def restored(ctx: Context, fn: Any, plan: base.Plan, callbacks: list, con: console.Console) -> tune.Tuner | None:
    """The run's Tuner restored after the state it left was mended (``studies.resume``); None to start anew."""
    try:
        mended = resume.prepare(ctx.run_dir)
    except resume.ResumeError as exc:
        con.close()
        fail(str(exc))
    for note in mended.notes:
        con.line(f"note: {note}")
    if mended.start_over or not tune.Tuner.can_restore(ctx.run_dir):
        con.line(f"--resume: nothing saved yet in {ctx.run_dir}; starting the run")
        if ctx.optuna_url:
            optuna_searcher.fail_unfinished(ctx.optuna_url, ctx.optuna_study)
        return None
    con.line(f"Resuming {ctx.run_dir}")
    tuner = tune.Tuner.restore(ctx.run_dir, fn, resume_unfinished=True, resume_errored=True, param_space=plan.space)
    # This start's callbacks (its console, its tracking), not the pickled ones of the first start.
    adapter.restored_run_config(tuner).callbacks = callbacks
    adapter.restored_run_config(tuner).verbose = tune_verbosity(ctx.args)
    tune_config = adapter.restored_tune_config(tuner)
    tune_config.reuse_actors = ctx.args.reuse_workers  # this start's choice, as its callbacks
    searcher = getattr(tune_config.search_alg, "searcher", None)
    if ctx.optuna_url and hasattr(searcher, "use_storage"):
        searcher.use_storage(ctx.optuna_url)  # the database as this start names it: the folder may have moved
    if hasattr(searcher, "use_evaluator"):
        searcher.use_evaluator(ctx.evaluate)  # this start's evaluator: a function is never pickled with the Tuner
    return tuner


def set_aside_lost_trials(path: str) -> list[str]:
    """Move trial folders that Tune's final state does not list into ``lost_trials/``; notes of what moved.

    A driver killed between starting a trial and saving its state leaves that
    trial's folder behind; the resumed run proposes a new trial in its place,
    and analysis (which reads every trial folder) must not count both. Local
    run folders only: in an object store they stay where they are.
    """
    if storage.is_uri(path):
        return []
    snapshot = adapter.read_snapshot(path)
    if snapshot is None:
        return []
    known = {t.relative_dir for t in snapshot.trials}
    moved = []
    for folder in sorted(Path(path).glob(f"*/{TRIAL_RESULTS}")):
        folder = folder.parent
        if folder.name not in known and folder.name != LOST_TRIALS:
            target = Path(path, LOST_TRIALS, folder.name)
            target.parent.mkdir(exist_ok=True)
            folder.rename(target)
            moved.append(folder.name)
    return [f"{len(moved)} trial folder(s) that Tune never recorded moved to {LOST_TRIALS}/"] if moved else []
