"""What every study shares: CLI flags, Ray start-up, running or resuming a Tuner.

A study module declares its search space and trainable; this module turns
the command line into ``TuneConfig``/``RunConfig`` and runs it, on a local
Ray sized to the machine or on the cluster named by ``--address`` or
``RAY_ADDRESS``.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ray import tune

from analysis import provenance
from studies import tracking

DEFAULT_STORAGE = "results"
# A cluster sets this on its nodes (cluster/*.yaml) so every study writes to object storage.
STORAGE_ENV = "STUDY_STORAGE_PATH"
STUDY_FILE = "study.json"


def base_parser(description: str, default_name: str) -> argparse.ArgumentParser:
    """Flags every study accepts; a study adds its own data and model flags."""
    p = argparse.ArgumentParser(description=description, formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    g = p.add_argument_group("search")
    g.add_argument("--search", choices=("grid", "optuna"), default="grid",
                   help="grid: the report's factorial grid; optuna: TPE search with ASHA early stopping")
    g.add_argument("--num-samples", type=int, default=20, help="trials for --search optuna")
    g.add_argument("--seeds", type=int, default=1, help="repeats of every grid point with seeds 0..K-1")
    g.add_argument("--smoke-test", action="store_true", help="a few tiny trials in seconds, to check the set-up")
    g = p.add_argument_group("resources")
    g.add_argument("--cpus-per-trial", type=float, default=1.0, help="CPUs reserved per trial")
    g.add_argument("--gpus-per-trial", type=float, default=0.0,
                   help="GPUs per trial; fractions (0.5) pack several trials on one GPU")
    g.add_argument("--max-concurrent", type=int, default=0, help="trials at once (0: as many as resources allow)")
    g.add_argument("--amp", action="store_true",
                   help="mixed precision (float16) on GPUs: faster, less memory; no effect on CPUs")
    g.add_argument("--set", dest="overrides", action="append", default=[], metavar="FIELD=VALUE",
                   help="set a trial config field for every trial (JSON value or text), e.g. checkpoint_every=1; "
                        "repeatable; searched fields keep their search space")
    g.add_argument("--address", default=None,
                   help="Ray cluster to join (default: RAY_ADDRESS if set, else a local Ray on this machine)")
    g = p.add_argument_group("output")
    g.add_argument("--storage-path", default=os.environ.get(STORAGE_ENV, DEFAULT_STORAGE),
                   help=f"folder, shared file system or s3:// / gs:// URI for results and checkpoints "
                        f"(default: ${STORAGE_ENV} if set, else {DEFAULT_STORAGE})")
    g.add_argument("--name", default=default_name, help="run name: results go to STORAGE_PATH/NAME")
    g.add_argument("--resume", action="store_true",
                   help="continue the interrupted run STORAGE_PATH/NAME: finished trials are kept")
    g.add_argument("--max-failures", type=int, default=0, help="retries of a failed trial from its last checkpoint")
    tracking.add_flags(p)
    return p


def fail(message: str) -> None:
    """One line on stderr and exit status 2: the CLI's answer to bad input."""
    print(f"error: {message}", file=sys.stderr)
    raise SystemExit(2)


def check_common_args(args: argparse.Namespace) -> None:
    if args.cpus_per_trial <= 0:
        fail("--cpus-per-trial must be positive")
    if args.gpus_per_trial < 0:
        fail("--gpus-per-trial cannot be negative")
    if args.seeds < 1 or args.num_samples < 1:
        fail("--seeds and --num-samples must be at least 1")


def storage_uri(path: str) -> str:
    """Absolute local path, or an object-store URI unchanged (Ray needs either)."""
    return path if "://" in path else str(Path(path).expanduser().resolve())


def run_dir(args: argparse.Namespace) -> str:
    return f"{storage_uri(args.storage_path).rstrip('/')}/{args.name}"


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
        ray.init(address="local", runtime_env={"env_vars": {"PYTHONPATH": project}},
                 include_dashboard=False, log_to_driver=True)
        return
    # A cluster has the project installed (cluster/*.yaml), or the job shipped it
    # (`ray job submit --working-dir .`): the job's runtime env is inherited.
    ray.init(address=address, log_to_driver=True)


def trial_options(args: argparse.Namespace) -> dict[str, Any]:
    """Per-trial fields from the CLI (--amp, --set); a study merges them into its
    fixed config and validates the result before any trial starts."""
    options: dict[str, Any] = {"amp": args.amp}
    for item in args.overrides:
        key, sep, raw = item.partition("=")
        if not sep or not key.strip():
            fail(f"--set {item!r}: expected FIELD=VALUE")
        try:
            options[key.strip()] = json.loads(raw)
        except json.JSONDecodeError:
            options[key.strip()] = raw
    return options


def tune_config(args: argparse.Namespace, metric: str, mode: str, max_t: int, grace_period: int) -> tune.TuneConfig:
    """Grid (and smoke test): every point once. Optuna: TPE proposals, ASHA stopping
    the weak trials after ``grace_period`` reports, ``--num-samples`` trials."""
    concurrent = args.max_concurrent or None
    # Each trial gets a fresh worker process. Reusing workers (reuse_actors)
    # cuts Ray's per-trial cost of short trials about tenfold, but with it
    # trials whose worker crashed failed again on retry and exhausted
    # --max-failures (benchmarks/RESULTS.md, q1): losing nothing comes first.
    if args.search != "optuna" or args.smoke_test:
        return tune.TuneConfig(max_concurrent_trials=concurrent)
    from ray.tune.schedulers import ASHAScheduler
    from ray.tune.search.optuna import OptunaSearch

    return tune.TuneConfig(
        metric=metric, mode=mode, num_samples=args.num_samples, search_alg=OptunaSearch(seed=0),
        max_concurrent_trials=concurrent,
        scheduler=ASHAScheduler(time_attr="training_iteration", max_t=max_t, grace_period=min(grace_period, max_t)),
    )


def resources(args: argparse.Namespace) -> dict[str, float]:
    return {"cpu": args.cpus_per_trial, "gpu": args.gpus_per_trial}


def run_study(
    args: argparse.Namespace,
    trainable: Callable[..., Any],
    param_space: dict[str, Any],
    tune_config: tune.TuneConfig,
    checkpoint_config: tune.CheckpointConfig | None = None,
    callbacks: list[Any] | None = None,
) -> tune.ResultGrid:
    """Fit (or, with --resume, restore and finish) the study's Tuner."""
    init_ray(args)
    # Tune snapshots the run's state at most every 10 s by default; after a crash
    # a stale snapshot can name a checkpoint that num_to_keep already deleted.
    # Snapshots are small, so take them often.
    os.environ.setdefault("TUNE_GLOBAL_CHECKPOINT_S", "2")
    trainable = tune.with_resources(trainable, resources(args))
    path = run_dir(args)
    provenance.start(path, args)
    wandb_callbacks, wandb_info = tracking.callbacks(args, path)
    if wandb_info:
        provenance.update(path, wandb=wandb_info)
    callbacks = [*(callbacks or []), *wandb_callbacks] or None
    if args.resume:
        if not tune.Tuner.can_restore(path):
            fail(f"--resume: no interrupted run at {path}")
        print(f"Resuming {path}")
        tuner = tune.Tuner.restore(path, trainable, resume_unfinished=True, resume_errored=True, param_space=param_space)
    else:
        run_config = tune.RunConfig(
            name=args.name,
            storage_path=storage_uri(args.storage_path),
            failure_config=tune.FailureConfig(max_failures=args.max_failures),
            checkpoint_config=checkpoint_config or tune.CheckpointConfig(num_to_keep=2),
            callbacks=callbacks,
        )
        tuner = tune.Tuner(trainable, param_space=param_space, tune_config=tune_config, run_config=run_config)
    results = tuner.fit()
    provenance.finish(path)
    return results


def write_study_file(path: str, info: dict[str, Any]) -> None:
    """Record which study made a run folder, so analysis can read it back alone."""
    if "://" in path:
        return
    Path(path).mkdir(parents=True, exist_ok=True)
    Path(path, STUDY_FILE).write_text(json.dumps(info, indent=2, default=str))
