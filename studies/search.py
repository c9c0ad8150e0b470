"""Grid and Optuna searches: Tune's param space, its TuneConfig, and every arm's config up front."""

from __future__ import annotations

import argparse
import itertools
from typing import Any

from ray import tune
from ray.tune.search.sample import Categorical, Domain, Float, Function, Integer

from trainables.common import metrics as M


def domains(factors: dict[str, Any]) -> dict[str, Any]:
    """Lists become grid searches; tune domains stay as they are."""
    return {k: tune.grid_search(list(v)) if isinstance(v, (list, tuple)) else v for k, v in factors.items()}


def arm_configs(config_cls: type, fixed: dict[str, Any], factors: dict[str, Any]) -> list[Any]:
    """Every arm's config, built (so validated) before Ray starts.

    A grid yields every combination of its lists. A searched field is
    checked at each category, or at both ends of its range, so a search
    space that can propose a bad value is refused now rather than by a trial
    hours later. Fields computed from others (``tune.sample_from``) are
    computed per combination.
    """
    grid = {k: list(v) for k, v in factors.items() if isinstance(v, (list, tuple))}
    searched = {k: _extremes(v) for k, v in factors.items() if isinstance(v, Domain) and not isinstance(v, Function)}
    derived = {k: v for k, v in factors.items() if isinstance(v, Function)}
    configs, seen = [], set()
    for combo in itertools.product(*grid.values()) if grid else [()]:
        base = {**fixed, **dict(zip(grid, combo))}
        variants = [base] + [{**base, k: x} for k, xs in searched.items() for x in xs]
        for values in variants:
            values = {**{k: xs[0] for k, xs in searched.items()}, **values}
            values.update({k: f.func(values) for k, f in derived.items()})
            key = repr(sorted(values.items()))
            if key not in seen:
                seen.add(key)
                configs.append(config_cls(**values))
    return configs


def _extremes(domain: Domain) -> list[Any]:
    if isinstance(domain, Categorical):
        return list(domain.categories)
    if isinstance(domain, (Float, Integer)):
        high = domain.upper - 1 if isinstance(domain, Integer) else domain.upper
        return [domain.lower, high]
    return []


def tune_config(args: argparse.Namespace, run_dir: str, metric: str, mode: str, max_t: int,
                grace_period: int) -> tune.TuneConfig:
    """Grid (and smoke test): every point once. Optuna: TPE proposals, ASHA stopping
    the weak trials after ``grace_period`` epochs, ``--num-samples`` trials."""
    concurrent = args.max_concurrent or None
    # Each trial gets a fresh worker process. Reusing workers (reuse_actors)
    # cuts Ray's per-trial cost of short trials about tenfold, but with it
    # trials whose worker crashed failed again on retry and exhausted
    # --max-failures (benchmarks/RESULTS.md, q1): losing nothing comes first.
    if args.search != "optuna" or args.smoke_test:
        return tune.TuneConfig(max_concurrent_trials=concurrent)
    from studies.optuna_search import DurableOptunaSearch, DurableSearchGenerator, ResumableASHA

    # The searcher limits concurrency itself: Tune's ConcurrencyLimiter keeps its own
    # list of live trials, which a resume from a stale snapshot gets wrong.
    searcher = DurableOptunaSearch(optuna_storage(args, run_dir), study_name=args.name, metric=metric, mode=mode,
                                   seed=0, max_concurrent=args.max_concurrent)
    return tune.TuneConfig(
        metric=metric, mode=mode, num_samples=args.num_samples, search_alg=DurableSearchGenerator(searcher),
        scheduler=ResumableASHA(searcher, time_attr=M.EPOCH, max_t=max_t,
                                grace_period=min(grace_period, max_t)),
    )


def optuna_storage(args: argparse.Namespace, run_dir: str) -> str:
    """``--optuna-storage``, else SQLite beside the run (``optuna.db`` in a local run folder)."""
    from studies.optuna_search import default_storage

    return getattr(args, "optuna_storage", None) or default_storage(run_dir, args.name)
