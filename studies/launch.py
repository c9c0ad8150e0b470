"""Running a declared study from its command line: checks, plan, data, trials, then the report.

The one place that joins the run side (``studies.runner`` and the
searchers) and the reading side (``analysis``): the run side never imports
analysis, analysis never imports studies. Analysis is called at a run's end
(the report) and, with ``--seeds auto``, by the evaluator handed to the
searcher (how the comparisons stand) and for the looks its intervals cover. Everything a study can check is
checked before Ray starts: numbers and names, the machine's resources, the
storage, every arm's config, the data against every arm.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import warnings
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

from studies import checks, cli, flags, runner, searchers
from studies.checks import fail
from studies.context import Context
from studies.searchers import adaptive, grid
from studies.searchers.base import Plan
from studies.study import Study
from trainables.common import provenance, runs, storage
from trainables.common.config import ConfigError
from trainables.common.errors import DataError
from trainables.common.layout import AUTO_SEEDS, STUDY_FILE

T = TypeVar("T")


def main(study: Study, argv: list[str] | None = None) -> str:
    """Parse, check, run, report; the run folder."""
    ctx, plan = prepare(study, argv)
    options = ctx.options
    data = _checked(lambda: _with_notes(lambda: study.load(options, plan.configs)))
    task_notes = study.task.notes(plan.configs) if study.task.notes else []
    for note in (*ctx.notes, *task_notes):
        print(f"note: {note}")
    print(f"{study.name}: {study.describe(data)}")
    print(f"{plan.describe}; run folder {ctx.run_dir}")
    write_study_file(ctx, plan, data)
    runner.run(ctx, plan, data)
    provenance.update(ctx.run_dir, data_loaded_sha256=provenance.fingerprint(data))
    from analysis.report.build import finish_run  # the study's one call into analysis, at its end

    finish_run(ctx.run_dir)
    return ctx.run_dir


def prepare(study: Study, argv: list[str] | None = None) -> tuple[Context, Plan]:
    """Everything before the data: the command line checked, the run's context and the searcher's plan
    (every arm's config built and validated). Nothing is written."""
    args = flags.parser(study).parse_args(argv)
    flags.check(args)
    problem = (checks.resources(args) or checks.cluster_placeholders(args)
               or checks.writable(runner.storage_uri(args.storage_path)))
    if problem:
        fail(problem)
    options = _checked(lambda: cli.build(args, study.options))
    if args.smoke_test and study.smoke_options:
        options = _checked(lambda: _smoke_options(options, study.smoke_options))
    search = seeds(study, args)
    ctx = context(study, args, options)
    if search == adaptive.NAME:
        if ctx.resuming:
            same_cap(ctx)
        ctx.evaluate = evaluator(ctx.run_dir)
    return ctx, searchers.available()[search].plan(ctx)


def seeds(study: Study, args: argparse.Namespace) -> str:
    """The searcher that runs, with ``--seeds`` settled: auto (seeds added where a verdict is open) by default
    for the paper and factorial designs of a study with claims, else a number. The smoke test is its own small
    design."""
    if args.smoke_test:
        return grid.NAME
    has_claims = args.search in (grid.NAME, adaptive.NAME) and bool(study.task.paper.claims)
    if args.seeds is None:
        args.seeds = AUTO_SEEDS if has_claims and args.design != "reference" else flags.DEFAULT_SEEDS
    if args.search == adaptive.NAME or (args.search == grid.NAME and args.seeds == AUTO_SEEDS):
        from analysis.verdicts import sequential  # the looks the repeated intervals are tabulated for

        if not has_claims:
            fail("--seeds auto adds seeds where a claim is open: this study declares no claims")
        if not sequential.FIRST_LOOK <= args.min_seeds <= args.max_seeds <= sequential.LARGEST_CAP:
            fail(f"--min-seeds and --max-seeds: need {sequential.FIRST_LOOK} <= min <= max <= "
                 f"{sequential.LARGEST_CAP} (the looks the repeated intervals are tabulated for)")
        if args.max_trials < 0:
            fail("--max-trials cannot be negative")
        args.seeds = AUTO_SEEDS
        return adaptive.NAME
    if args.seeds == AUTO_SEEDS:
        fail(f"--seeds auto runs the paper's design; --search {args.search} takes a number of seeds")
    return args.search


def same_cap(ctx: Context) -> None:
    """A resumed ``--seeds auto`` run keeps its cap or lowers it: its repeated intervals were built for the cap
    study.json records, fixed before the data, and hold at any stop up to it but not past it."""
    info = json.loads(storage.read_text(storage.join(ctx.run_dir, STUDY_FILE)) or "{}")
    cap = info.get("max_seeds")
    if info.get("seeds") == AUTO_SEEDS and cap is not None and ctx.args.max_seeds > int(cap):
        fail(f"--max-seeds {ctx.args.max_seeds}: this run's repeated intervals were built for its cap of {cap} "
             f"seeds, fixed before the data, and a higher cap now would void every verdict; resume with "
             f"--max-seeds {cap} or less, or start a new run (--name) with the higher cap")


def evaluator(run_dir: str) -> Callable[[Mapping[str, int]], dict[str, tuple[int, bool]]]:
    """How a ``--seeds auto`` run's comparisons stand, read from its trials so far (``analysis.verdicts.claims``)."""

    from analysis.runs.read import read_run
    from analysis.verdicts import claims

    def evaluate(limits: Mapping[str, int]) -> dict[str, tuple[int, bool]]:
        return claims.standing(read_run(run_dir), limits)

    return evaluate


def context(study: Study, args: argparse.Namespace, options: Any) -> Context:
    """The run's context: a new run folder, or the one ``--resume`` continues."""
    name_dir = storage.join(runner.storage_uri(args.storage_path), args.name)
    run_id, resuming = None, False
    if args.resume:
        run_id = runs.latest_id(name_dir) if args.resume == "latest" else args.resume
        if run_id and runs.is_run(storage.join(name_dir, run_id)):
            resuming = True
        elif args.resume != "latest":
            fail(f"--resume {args.resume}: no run {args.resume} under {name_dir}")
        else:
            print(f"note: --resume: no run of {args.name} under {name_dir} yet; starting one")
    run_id = run_id if resuming else runs.new_run_id(name_dir)
    chosen = {**{k: v for k, v in cli.chosen(args, study.task.config).items()
                 if k not in study.options.__dataclass_fields__}, **flags.overrides(args)}
    ctx = Context(study, args, options, chosen, storage.join(name_dir, run_id), run_id, resuming)
    if args.search == "optuna" and not args.smoke_test:
        ctx.optuna_url = runner.optuna_url(ctx)
    return ctx


def write_study_file(ctx: Context, plan: Plan, data: Any) -> None:
    """study.json: which study, task, search and data made the run, so analysis can read it back alone."""
    study = ctx.study
    path = storage.join(ctx.run_dir, STUDY_FILE)
    info = json.loads(storage.read_text(path) or "{}") if ctx.resuming else {}
    info = info or {"study": study.name, "task": study.task.module, "run": ctx.run_id, "name": ctx.args.name,
                    "argv": sys.argv, "search": "smoke" if ctx.args.smoke_test else ctx.args.search,
                    "metric": study.task.metric, "mode": study.task.mode, "trials": plan.total,
                    **plan.manifest, **study.manifest(ctx.options, data)}
    storage.write_text(path, json.dumps(info, indent=2, default=str))
    for name, text in study.files(data).items():
        storage.write_text(storage.join(ctx.run_dir, name), text)
    if not ctx.resuming:
        runs.set_latest(storage.join(runner.storage_uri(ctx.args.storage_path), ctx.args.name), ctx.run_id)


def _smoke_options(options: Any, smoke: dict[str, Any]) -> Any:
    """``options`` with the smoke test's values wherever an option still has its default."""
    defaults = {f.name: f.default for f in dataclasses.fields(options)}
    return dataclasses.replace(options, **{k: v for k, v in smoke.items() if getattr(options, k) == defaults[k]})


def _checked(fn: Callable[[], T]) -> T:
    """``fn()``, with bad input (a DataError) turned into the CLI's one-line error; other errors are bugs."""
    try:
        return fn()
    except (DataError, ConfigError) as exc:
        fail(str(exc))


def _with_notes(fn: Callable[[], T]) -> T:
    """``fn()``, its warnings printed as one-line notes (e.g. rows dropped from the data)."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        out = fn()
    for w in caught:
        if not issubclass(w.category, (DeprecationWarning, FutureWarning)):
            print(f"note: {w.message}")
    return out
