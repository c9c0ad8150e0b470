"""The run side of a study: shared flags, Ray start-up, running or resuming the Tuner, provenance."""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ray import tune

from studies import adapter, optuna_search, provenance, resume, search, tracking
from trainables.common import storage
from trainables.common.layout import LOST_TRIALS

DEFAULT_STORAGE = "results"
# A cluster sets this on its nodes (cluster/*.yaml) so every study writes to shared storage.
STORAGE_ENV = "STUDY_STORAGE_PATH"
# Likewise for the Optuna database that many studies and nodes share (docs/cluster.md).
OPTUNA_STORAGE_ENV = "STUDY_OPTUNA_STORAGE"


def base_parser(description: str, default_name: str) -> argparse.ArgumentParser:
    """Flags every study accepts; the study adds its options and its task's config fields."""
    p = argparse.ArgumentParser(description=description, formatter_class=argparse.RawDescriptionHelpFormatter)
    g = p.add_argument_group("search")
    g.add_argument("--search", choices=("grid", "optuna"), default="grid",
                   help="grid: the paper's factorial grid; optuna: TPE search with ASHA early stopping (default: grid)")
    g.add_argument("--num-samples", type=int, default=20, help="trials for --search optuna (default: 20)")
    g.add_argument("--seeds", type=int, default=1, help="repeats of every grid point with seeds 0..K-1 (default: 1)")
    g.add_argument("--smoke-test", action="store_true", help="a few tiny trials in seconds, to check the set-up")
    g.add_argument("--optuna-storage", default=os.environ.get(OPTUNA_STORAGE_ENV), metavar="URL",
                   help="database of the Optuna study, any SQLAlchemy URL, e.g. postgresql+psycopg2://user@host/db "
                        f"(default: ${OPTUNA_STORAGE_ENV} if set, else sqlite:///RUN_DIR/optuna.db; for an s3:// "
                        "or gs:// run, optuna-NAME.db in the current directory); the study is named after --name")
    g = p.add_argument_group("resources")
    g.add_argument("--cpus-per-trial", type=float, default=1.0, help="CPUs reserved per trial (default: 1)")
    g.add_argument("--gpus-per-trial", type=float, default=0.0,
                   help="GPUs per trial; fractions (0.5) pack several trials on one GPU (default: 0)")
    g.add_argument("--max-concurrent", type=int, default=0, help="trials at once (default 0: as many as fit)")
    g.add_argument("--set", dest="overrides", action="append", default=[], metavar="FIELD=VALUE",
                   help="set any trial config field for every trial (JSON value or text); repeatable")
    g.add_argument("--address", default=None,
                   help="Ray cluster to join (default: RAY_ADDRESS if set, else a local Ray on this machine)")
    g = p.add_argument_group("output")
    g.add_argument("--storage-path", default=os.environ.get(STORAGE_ENV, DEFAULT_STORAGE),
                   help=f"folder, shared file system or s3:// / gs:// URI for results and checkpoints "
                        f"(default: ${STORAGE_ENV} if set, else {DEFAULT_STORAGE})")
    g.add_argument("--name", default=default_name, help=f"run name: results go to STORAGE_PATH/NAME (default: {default_name})")
    g.add_argument("--resume", action="store_true",
                   help="continue the interrupted run STORAGE_PATH/NAME: finished trials are kept")
    g.add_argument("--max-failures", type=int, default=0,
                   help="retries of a failed trial from its last checkpoint (default: 0)")
    tracking.add_flags(p)
    return p


def fail(message: str) -> None:
    """One line on stderr and exit status 2: the CLI's answer to bad input."""
    print(f"error: {message}", file=sys.stderr)
    raise SystemExit(2)


def check_args(args: argparse.Namespace) -> None:
    if args.cpus_per_trial <= 0:
        fail("--cpus-per-trial must be positive")
    if args.gpus_per_trial < 0:
        fail("--gpus-per-trial cannot be negative")
    if args.seeds < 1 or args.num_samples < 1:
        fail("--seeds and --num-samples must be at least 1")
    if args.max_failures < 0 or args.max_concurrent < 0:
        fail("--max-failures and --max-concurrent cannot be negative")


def overrides(args: argparse.Namespace) -> dict[str, Any]:
    """``--set FIELD=VALUE`` pairs, values parsed as JSON where they are JSON."""
    out: dict[str, Any] = {}
    for item in args.overrides:
        key, sep, raw = item.partition("=")
        if not sep or not key.strip():
            fail(f"--set {item!r}: expected FIELD=VALUE")
        try:
            out[key.strip()] = json.loads(raw)
        except json.JSONDecodeError:
            out[key.strip()] = raw
    return out


def storage_uri(path: str) -> str:
    """Absolute local path, or an object-store URI unchanged (Ray needs either)."""
    return path if storage.is_uri(path) else str(Path(path).expanduser().resolve())


def run_dir(args: argparse.Namespace) -> str:
    return storage.join(storage_uri(args.storage_path), args.name)


def init_ray(args: argparse.Namespace) -> None:
    """Join the cluster given by --address / RAY_ADDRESS, else start a local Ray."""
    import ray

    if ray.is_initialized():
        return
    # Checkpointing every few epochs in many short trials trips Tune's warning
    # about frequent experiment snapshots; they are small, so it is noise here.
    os.environ.setdefault("TUNE_WARN_EXCESSIVE_EXPERIMENT_CHECKPOINT_SYNC_THRESHOLD_S", "0")
    address = args.address or os.environ.get("RAY_ADDRESS")
    if not address:
        # "local", not None: None would join any `ray start` cluster that happens
        # to run on this machine (someone else's); say "auto" to mean that.
        project = str(Path(__file__).resolve().parents[1])
        # Workers must import trainables/ and studies/: ship the project's path.
        # Ray starts workers ahead of the trials; the hook has each import torch and
        # pandas then, so a trial's fresh worker is ready when the trial is placed.
        env = {"env_vars": {"PYTHONPATH": project}, "worker_process_setup_hook": "trainables.common.runtime.preload"}
        ray.init(address="local", runtime_env=env, include_dashboard=False, log_to_driver=True)
        return
    # A cluster has the project installed (cluster/*.yaml), or the job shipped it
    # (`ray job submit --working-dir .`): the job's runtime env is inherited.
    ray.init(address=address, log_to_driver=True)


def optuna_url(args: argparse.Namespace, path: str) -> str | None:
    """The Optuna database of an Optuna run (None for a grid), checked before Ray starts.

    A new run refuses a study that already has trials (``--resume`` continues
    it). On resume, the restored searcher opens this URL rather than the one
    it was pickled with, so a moved run folder or a new --optuna-storage is
    followed.
    """
    if args.search != "optuna" or args.smoke_test:
        return None
    url = search.optuna_storage(args, path)
    if not args.resume and optuna_search.existing_trials(url, args.name):
        fail(f"the Optuna study {args.name!r} in {optuna_search.redacted(url)} already has trials: "
             f"add --resume to continue that run, or give another --name")
    optuna_search.storage_override = url if args.resume else None
    return url


def run(args: argparse.Namespace, fn: Callable[..., Any], space: dict[str, Any],
        tune_config: tune.TuneConfig) -> tune.ResultGrid:
    """Fit (or, with --resume, restore and finish) the study's Tuner."""
    path = run_dir(args)
    url = optuna_url(args, path)
    init_ray(args)
    # Tune snapshots the run's state at most every 10 s by default; after a crash
    # a stale snapshot can name a checkpoint that num_to_keep already deleted.
    # Snapshots are small, so take them often.
    os.environ.setdefault("TUNE_GLOBAL_CHECKPOINT_S", "2")
    fn = tune.with_resources(fn, {"cpu": args.cpus_per_trial, "gpu": args.gpus_per_trial})
    provenance.start(path, args)
    if url:
        provenance.update(path, optuna_storage=optuna_search.redacted(url), optuna_study=args.name)
    callbacks, wandb_info = tracking.callbacks(args, path)
    callbacks.append(resume.SnapshotGuard(path))
    if wandb_info:
        provenance.update(path, wandb=wandb_info)
    if args.resume and restorable(path):
        print(f"Resuming {path}")
        tuner = tune.Tuner.restore(path, fn, resume_unfinished=True, resume_errored=True, param_space=space)
    else:
        if args.resume:  # killed before Tune saved anything: nothing was finished, start from the beginning
            print(f"--resume: nothing saved yet at {path}; starting the run")
            if url:
                optuna_search.fail_unfinished(url, args.name)
        run_config = tune.RunConfig(
            name=args.name, storage_path=storage_uri(args.storage_path),
            failure_config=tune.FailureConfig(max_failures=args.max_failures),
            # The latest checkpoint resumes a trial; the loop keeps the best epoch's weights inside it.
            checkpoint_config=tune.CheckpointConfig(num_to_keep=1),
            callbacks=callbacks or None,
        )
        tuner = tune.Tuner(fn, param_space=space, tune_config=tune_config, run_config=run_config)
    results = tuner.fit()
    if args.resume:
        set_aside_lost_trials(path)
    provenance.finish(path)
    return results


def restorable(path: str) -> bool:
    """Mend what a killed driver left (``studies.resume``); whether Tune has a run to restore."""
    try:
        notes = resume.prepare(path)
    except resume.ResumeError as exc:
        fail(str(exc))
    for note in notes:
        if note != "fresh":
            print(f"note: {note}")
    return notes != ["fresh"] and tune.Tuner.can_restore(path)


def set_aside_lost_trials(path: str) -> list[str]:
    """Move trial folders that Tune's final state does not list into ``lost_trials/``.

    A driver killed between starting a trial and saving its state leaves that
    trial's folder behind; the resumed run proposes a new trial in its place,
    and analysis (which reads every ``*/result.json``) must not count both.
    Local run folders only: in an object store they stay where they are.
    """
    if storage.is_uri(path):
        return []
    snapshot = adapter.read_snapshot(path)
    if snapshot is None:
        return []
    known = {t.relative_dir for t in snapshot.trials}
    moved = []
    for result in sorted(Path(path).glob("*/result.json")):
        folder = result.parent
        if folder.name not in known and folder.name != LOST_TRIALS:
            target = Path(path, LOST_TRIALS, folder.name)
            target.parent.mkdir(exist_ok=True)
            folder.rename(target)
            moved.append(folder.name)
    if moved:
        print(f"note: {len(moved)} trial folder(s) that Tune never recorded moved to {LOST_TRIALS}/")
    return moved
