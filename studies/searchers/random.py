"""``--search random``: random search over the study's space (Tune's samplers, seeded), ASHA stopping weak trials.

What Ray Tune users reach for first: ``--num-samples`` configs drawn from the
same space the Optuna search uses, fixed before Ray starts (so a resumed run
proposes exactly the same ones, each once), compared at ASHA's rungs.
"""

from __future__ import annotations

import argparse
from typing import Any

import numpy as np
from ray.tune.search.sample import Function

from studies.context import Context
from studies.searchers import base
from studies.searchers.spaces import checked_configs, split_space

NAME = "random"
HELP = "random search over the study's search space (seeded), ASHA stopping weak trials"


def add_flags(group: argparse._ArgumentGroup) -> None:
    group.add_argument("--search-seed", type=int, default=0, help="seed of --search random's draws (default: 0)")


def draw(fixed: dict[str, Any], domains: dict[str, Any], n: int, seed: int) -> list[dict[str, Any]]:
    """``n`` configs drawn from ``domains`` (fields computed from others last), reproducibly."""
    state = np.random.RandomState(seed)
    sampled = {k: d for k, d in domains.items() if not isinstance(d, Function)}
    derived = {k: d for k, d in domains.items() if isinstance(d, Function)}
    out = []
    for _ in range(n):
        values = {**fixed, **{k: d.sample(random_state=state) for k, d in sampled.items()}}
        out.append({**values, **{k: f.func(values) for k, f in derived.items()}})
    return out


def plan(ctx: Context) -> base.Plan:
    fixed, domains = split_space(ctx.declared_space())
    checked = checked_configs(ctx, fixed, domains)
    values = draw(fixed, domains, ctx.args.num_samples, ctx.args.search_seed)
    scheduler = base.asha(ctx.run_dir, max(c.epochs for c in checked), ctx.study.grace_period)
    return base.list_plan(ctx, values, f"random search + ASHA: {len(values)} trials (seed {ctx.args.search_seed})",
                          scheduler=scheduler, manifest={"search_seed": ctx.args.search_seed})
