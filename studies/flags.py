"""The command line every study shares; the study adds its data options and its task's config fields.

Each searcher adds the flags of its own (``studies/searchers``).
"""

from __future__ import annotations

import argparse
import json
import os
from typing import Any

from studies import cli, searchers
from studies.checks import fail
from trainables.common import tracking
from trainables.common.layout import AUTO_SEEDS

DEFAULT_STORAGE = "results"
# A cluster sets this on its nodes (cluster/*.yaml) so every study writes to shared storage.
STORAGE_ENV = "STUDY_STORAGE_PATH"
DEFAULT_SEEDS = 5


def seeds_value(text: str) -> int | str:
    if text == AUTO_SEEDS:
        return text
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number of seeds or {AUTO_SEEDS}, got {text!r}") from None


def parser(study: Any) -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=study.description, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_search_flags(p)
    add_resource_flags(p, study.cpus_per_trial)
    add_output_flags(p, study.name)
    tracking.add_flags(p)
    cli.add_dataclass_flags(p, study.options, "data and study options", defaults=True)
    option_names = tuple(f for f in study.options.__dataclass_fields__)
    config = cli.add_dataclass_flags(p, study.task.config, "trial config (a value given here is used by every "
                                     "trial, replacing that field's design or search space)", defaults=False,
                                     # A field the options declare too is set through the option's flag.
                                     skip=("fail_at_epoch", *option_names), aliases=study.aliases)
    config.add_argument("--set", dest="overrides", action="append", default=[], metavar="FIELD=VALUE",
                        help="set any trial config field for every trial (JSON value or text); repeatable")
    return p


def add_search_flags(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("search")
    found = searchers.available()
    g.add_argument("--search", choices=tuple(found), default="grid",
                   help="; ".join(f"{name}: {m.HELP}" for name, m in found.items()) + " (default: grid)")
    g.add_argument("--seeds", type=seeds_value, default=None, metavar="{K,auto}",
                   help="K: every arm of the design runs with seeds 0..K-1, paired across arms; auto: seeds are "
                        "added where a claim's verdict is open (--min-seeds to --max-seeds, repeated confidence "
                        f"intervals) (default: auto for a design whose claims it runs, else {DEFAULT_SEEDS})")
    g.add_argument("--num-samples", type=int, default=20, help="trials of --search optuna or random (default: 20)")
    g.add_argument("--smoke-test", action="store_true", help="a few tiny trials in seconds, to check the set-up")
    for module in found.values():
        module.add_flags(g)


def add_resource_flags(p: argparse.ArgumentParser, cpus: float = 1.0) -> None:
    g = p.add_argument_group("resources")
    g.add_argument("--cpus-per-trial", type=float, default=cpus,
                   help=f"CPUs reserved per trial; a fraction packs several small trials on a core (default: {cpus:g})")
    g.add_argument("--gpus-per-trial", type=float, default=0.0,
                   help="GPUs per trial; fractions (0.5) pack several trials on one GPU (default: 0)")
    g.add_argument("--max-concurrent", type=int, default=0, help="trials at once (default 0: as many as fit)")
    g.add_argument("--reuse-workers", action=argparse.BooleanOptionalAction, default=True,
                   help="run each new trial in a finished trial's worker process when their resources match, "
                        "instead of starting a process per trial (default: on)")
    g.add_argument("--address", default=None,
                   help="Ray cluster to join (default: RAY_ADDRESS if set, else a local Ray on this machine)")
    g.add_argument("--dashboard", action="store_true",
                   help="start Ray's dashboard with a local Ray, its address in the run's log (default: off; a "
                        "cluster keeps its own)")


def add_output_flags(p: argparse.ArgumentParser, default_name: str) -> None:
    g = p.add_argument_group("output")
    g.add_argument("--storage-path", default=os.environ.get(STORAGE_ENV, DEFAULT_STORAGE),
                   help=f"folder, shared file system or s3:// / gs:// URI for results and checkpoints "
                        f"(default: ${STORAGE_ENV} if set, else {DEFAULT_STORAGE})")
    g.add_argument("--name", default=default_name,
                   help=f"the name folder: each run gets its own folder STORAGE_PATH/NAME/RUN_ID, and "
                        "STORAGE_PATH/NAME/"
                        f"latest names the newest (default: {default_name})")
    g.add_argument("--resume", nargs="?", const="latest", default=None, metavar="RUN_ID",
                   help="continue an interrupted run of NAME (the newest, or RUN_ID): finished trials are kept")
    g.add_argument("--max-failures", type=int, default=0,
                   help="retries of a failed trial from its last checkpoint (default: 0)")
    g.add_argument("--verbose", action="store_true",
                   help="show Ray's and Tune's own output on the console (by default it goes to the run's log file)")


def check(args: argparse.Namespace) -> None:
    """Numbers and names that no study can run with, refused before anything starts."""
    from trainables.common import runs

    if args.cpus_per_trial <= 0:
        fail("--cpus-per-trial must be positive")
    if args.gpus_per_trial < 0:
        fail("--gpus-per-trial cannot be negative")
    if (args.seeds != AUTO_SEEDS and args.seeds is not None and args.seeds < 1) or args.num_samples < 1:
        fail("--seeds and --num-samples must be at least 1")
    if args.max_failures < 0 or args.max_concurrent < 0:
        fail("--max-failures and --max-concurrent cannot be negative")
    for value, what in ((args.name, "--name"), (args.resume if args.resume not in (None, "latest") else "x",
                                                 "--resume")):
        problem = runs.check_name(value, what)
        if problem:
            fail(problem)


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
