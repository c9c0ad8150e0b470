"""``--search grid``: the paper's own design (default) or the full factorial, repeated over seeds.

``--design paper`` runs the reference setting in every block (q1: every cell)
plus one factor changed at a time, exactly the arms the paper's sections and
claims compare; ``--design factorial`` runs every combination of the factors'
levels (tables of every combination, interactions); ``--design reference``
runs the reference setting alone (a setting confirmed over seeds). Each arm runs once per
seed (``--seeds``), seeds paired across arms. Configs are served in order,
the trials that train every epoch first (the longest first), then the rest
seed by seed, by a searcher that never proposes one twice across resumes.
"""

from __future__ import annotations

import argparse
from typing import Any

from studies.context import Context
from studies.searchers import base
from studies.searchers.spaces import product, unique

NAME = "grid"
HELP = "the paper's design (--design) repeated over --seeds; the default"
DESIGNS = {"paper": "the reference per block plus one factor changed at a time (the arms the claims compare)",
           "factorial": "every combination of the factors' levels",
           "reference": "the reference per block alone (a setting confirmed over seeds)"}


def add_flags(group: argparse._ArgumentGroup) -> None:
    group.add_argument("--design", choices=tuple(DESIGNS), default="paper",
                       help="; ".join(f"{k}: {v}" for k, v in DESIGNS.items()) + " (default: paper)")


def design_arms(ctx: Context) -> tuple[list[dict[str, Any]], str]:
    """The design's arms as factor levels (seed not yet set), and how to describe them."""
    if ctx.args.smoke_test:
        declared = ctx.smoke()
        if isinstance(declared, list):  # the arms themselves
            return [dict(a) for a in declared], "smoke test"
        lists = {k: list(v) for k, v in declared.items() if isinstance(v, (list, tuple))}
        fixed = {k: v for k, v in declared.items() if k not in lists}
        return [{**fixed, **arm} for arm in product(lists)], "smoke test"
    paper = ctx.study.task.paper
    arms = {"paper": paper.one_at_a_time, "factorial": paper.factorial,
            "reference": lambda: [{**paper.reference, **block} for block in paper.block_levels()]}[ctx.args.design]()
    return arms, f"{ctx.args.design} design"


def settle(ctx: Any, arm: dict[str, Any]) -> dict[str, Any]:
    """An arm's config values: its levels' settings, then the study's mapping of the arm."""
    if ctx.args.smoke_test:
        return arm
    return {**ctx.study.task.paper.settings_of(arm), **ctx.study.arm(arm, ctx.options)}


def arm_values(ctx: Context) -> tuple[list[dict[str, Any]], list[dict[str, Any]], str]:
    """The design's arms as factor levels, each arm's config values (seed not set) with the command line's
    choices applied, and how to describe them."""
    arms, what = design_arms(ctx)
    settled = [settle(ctx, arm) for arm in arms]
    replaced = sorted(k for k in ctx.chosen
                      if any(len({repr(a.get(k)) for a in group}) > 1 for group in (arms, settled)))
    if replaced:
        ctx.notes.append(f"{', '.join(replaced)} given on the command line: one value for every trial")
    # A factor given on the command line is every arm's level, so that level's settings follow it.
    values = [{**settle(ctx, {**arm, **{k: v for k, v in ctx.chosen.items() if k in arm}}), **ctx.chosen}
              for arm in arms]
    return arms, values, what


def configs(ctx: Context) -> tuple[list[dict[str, Any]], str]:
    """Every trial's config values, seed by seed, with the command line's choices applied."""
    _, values, what = arm_values(ctx)
    arms = unique(values)
    seeds = [0] if ctx.args.smoke_test else range(ctx.args.seeds)
    replicate = ctx.study.task.replicate
    out = [{**arm, **replicate(seed)} for seed in seeds for arm in arms]
    n_seeds = len(seeds)
    return unique(out), f"{what}: {len(arms)} arm(s) x {n_seeds} seed(s) = {len(arms) * n_seeds} trials"


def plan(ctx: Context) -> base.Plan:
    values, describe = configs(ctx)
    manifest = {"design": "smoke" if ctx.args.smoke_test else ctx.args.design,
              "seeds": 1 if ctx.args.smoke_test else ctx.args.seeds}
    return base.list_plan(ctx, values, describe, manifest=manifest, order=base.longest_first)
