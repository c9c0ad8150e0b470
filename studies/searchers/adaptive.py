"""``--seeds auto``: the design's arms, each comparison given seeds while its verdict is open.

Every arm starts with ``--min-seeds`` seeds. Once a comparison's arms have
finished all the seeds it asked for, it is looked at (by the evaluator the
study's entry point hands in: this side never reads verdicts itself); if its
verdict is still open it asks for the next seed on every arm it reads (a
best-on-validation choice reads every arm), up to ``--max-seeds``. Arms shared
by several comparisons run each seed once; a comparison waiting for its
trials holds up no other; no seed starts before a comparison asks for it, and
``--max-trials`` caps the trials started. Comparison k's look at n seeds reads
seeds 0..n-1 only, so the decisions are the same however the trials were timed.

The searcher's memory is the trials Tune holds: on ``--resume`` it rebuilds
which (arm, seed) each trial is and which finished, and looks again.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ray import tune
from ray.tune.search import Searcher

from studies.searchers import base, grid
from studies.searchers.spaces import unique
from trainables.common import metrics as M
from trainables.common.layout import AUTO_SEEDS

NAME = "adaptive"
HELP = "the design (--design) with seeds added where a claim's verdict is open (what --seeds auto runs)"
MIN_SEEDS, MAX_SEEDS = 3, 20
BEHIND_S = 30.0  # how long a look may find fewer finished seeds on disk than Tune reported before it counts


def add_flags(group: argparse._ArgumentGroup) -> None:
    group.add_argument("--min-seeds", type=int, default=MIN_SEEDS,
                       help=f"--seeds auto: the seeds every arm starts with (default: {MIN_SEEDS})")
    group.add_argument("--max-seeds", type=int, default=MAX_SEEDS,
                       help=f"--seeds auto: the most seeds a comparison gets (default: {MAX_SEEDS})")
    group.add_argument("--max-trials", type=int, default=0,
                       help="--seeds auto: a compute budget: no trial starts past this many (default: 0, none)")


@dataclass(frozen=True)
class Watch:
    """One comparison of a claim as the run side sees it: its name and the arms it reads."""

    key: str
    arms: tuple[int, ...]


def watches(paper: Any, levels: list[dict[str, Any]], arm_of: list[int]) -> list[Watch]:
    """Each claim's comparisons that read arms of this design; ``arm_of``: design arm -> trial arm."""
    out = []
    for claim in paper.claims:
        for i, compare in enumerate(claim.compares):
            reads = claim.reads(compare, paper.reference)
            found = {arm_of[j] for j, level in enumerate(levels)
                     if reads is None or any(all(level.get(k, v) == v for k, v in r.items()) for r in reads)}
            if found:
                out.append(Watch(claim.comparison_key(i), tuple(sorted(found))))
    return out


class SeedSearcher(base.AssigningSearcher):
    """Proposes (arm, seed) trials as the comparisons ask for them; limits concurrency itself."""

    def __init__(self, configs: dict[tuple[int, int], dict[str, Any]], watched: list[Watch], first: int, cap: int,
                 metric: str, mode: str, max_trials: int = 0, max_concurrent: int = 0) -> None:
        super().__init__(metric=metric, mode=mode)
        self.configs, self.watched, self.first, self.cap = configs, watched, first, cap
        self.max_trials, self.max_concurrent = max_trials, max_concurrent
        self.evaluate: Any = None  # handed in at each start (use_evaluator); never pickled
        self.reset()

    def reset(self) -> None:
        self.assigned: dict[str, tuple[int, int]] = {}  # Tune trial id -> (arm, seed)
        self.live: set[str] = set()
        self.done: set[tuple[int, int]] = set()
        self.wanted = {w.key: self.first for w in self.watched}  # seeds each comparison asked for
        self.looked: dict[str, int] = {}  # seeds each comparison's last look read
        self.settled: set[str] = set()
        self.behind: dict[str, float] = {}  # comparison -> when a look first read fewer seeds than finished

    def use_evaluator(self, evaluate: Any) -> None:
        self.evaluate = evaluate

    def __getstate__(self) -> dict[str, Any]:
        return {**self.__dict__, "evaluate": None}

    def suggest(self, trial_id: str) -> dict | str | None:
        if trial_id in self.assigned:
            return dict(self.configs[self.assigned[trial_id]])
        if self.max_concurrent and len(self.live) >= self.max_concurrent:
            return None
        chosen = self.next_trial()
        if chosen is None:
            self.look()
            chosen = self.next_trial()
        if chosen is None:
            return Searcher.FINISHED if not self.live and not self.due() else None
        self.assigned[trial_id] = chosen
        self.live.add(trial_id)
        return dict(self.configs[chosen])

    def on_trial_complete(self, trial_id: str, result: dict | None = None, error: bool = False) -> None:
        self.live.discard(trial_id)
        if not error and result and result.get(M.COMPLETED) == 1 and trial_id in self.assigned:
            self.done.add(self.assigned[trial_id])

    def requested(self) -> list[tuple[int, int]]:
        """Every (arm, seed) some comparison asked for, seed by seed."""
        seeds: dict[int, int] = {}
        for w in self.watched:
            for arm in w.arms:
                seeds[arm] = max(seeds.get(arm, 0), self.wanted[w.key])
        return [(arm, seed) for seed in range(self.cap) for arm in sorted(seeds) if seed < seeds[arm]]

    def next_trial(self) -> tuple[int, int] | None:
        taken = set(self.assigned.values())
        if self.max_trials and len(taken) >= self.max_trials:
            return None
        return next((t for t in self.requested() if t not in taken), None)

    def complete(self, watch: Watch) -> int:
        """Seeds 0..n-1 finished on every arm the comparison reads: n."""
        n = 0
        while n < self.cap and all((arm, n) in self.done for arm in watch.arms):
            n += 1
        return n

    def due(self) -> dict[str, int]:
        """Open comparisons whose arms finished the seeds they asked for and that have not been looked at there."""
        out = {}
        for w in self.watched:
            n = self.complete(w)
            if w.key not in self.settled and n >= self.wanted[w.key] and n > self.looked.get(w.key, 0):
                out[w.key] = n
        return out

    def look(self) -> None:
        """Ask the evaluator how the due comparisons stand; each still open asks for its next seed."""
        due = self.due()
        if not due or self.evaluate is None:
            return
        now = time.monotonic()
        for key, (read, settled) in self.evaluate(due).items():
            if key not in due:
                continue
            if not settled and read < due[key] and now - self.behind.setdefault(key, now) < BEHIND_S:
                continue  # the results on disk are behind Tune's: look again at the next call
            self.behind.pop(key, None)
            read = due[key]  # (a seed the comparison cannot use, e.g. a missing value, counts as read)
            self.looked[key] = read
            if settled:
                self.settled.add(key)
            else:
                self.wanted[key] = min(read + 1, self.cap)

    def reconcile(self, trials: Mapping[str, base.TuneTrial]) -> dict[str, int]:
        """Which (arm, seed) Tune's trials hold and which finished; the looks are taken again from the results."""
        index = {base.config_key(c): key for key, c in self.configs.items()}
        self.reset()
        unknown = 0
        for tid, trial in trials.items():
            key = index.get(base.config_key(trial.params))
            if key is None:
                unknown += 1
                continue
            self.assigned[tid] = key
            if trial.finished and trial.last_result.get(M.COMPLETED) == 1:
                self.done.add(key)
            elif not trial.finished:
                self.live.add(tid)
        # What each comparison asked for is not kept: the next look replays it from the finished trials (a look
        # at n seeds stops where the uninterrupted run's looks up to n did).
        return {"unknown": unknown} if unknown else {}


def plan(ctx: Any) -> base.Plan:
    from trainables.common.config import differing, to_dict

    args = ctx.args
    levels, values, what = grid.arm_values(ctx)
    replicate = ctx.study.task.replicate
    arms = unique(values)
    # Within each seed the arms that train every epoch come first, as in the grid: their looks come early and
    # the run does not end with them alone.
    firsts = ctx.build_configs([{**arm, **replicate(0)} for arm in arms])
    arms = [arms[firsts.index(c)] for c in base.longest_first(firsts)]
    arm_of = [arms.index(v) for v in values]
    keys = [(arm, seed) for seed in range(args.max_seeds) for arm in range(len(arms))]
    built = ctx.build_configs([{**arms[arm], **replicate(seed)} for arm, seed in keys])
    full = [to_dict(c) for c in built]
    varying = differing(full)
    watched = watches(ctx.study.task.paper, levels, arm_of)
    searcher = SeedSearcher({k: {v: c[v] for v in varying} for k, c in zip(keys, full)}, watched, args.min_seeds,
                            args.max_seeds, ctx.metric, ctx.mode, args.max_trials, args.max_concurrent)
    searcher.use_evaluator(ctx.evaluate)
    config = tune.TuneConfig(metric=ctx.metric, mode=ctx.mode, num_samples=len(keys),
                             search_alg=base.DurableSearchGenerator(searcher))
    common = {k: v for k, v in full[0].items() if k not in varying}
    describe = (f"{what}: {len(arms)} arm(s), {args.min_seeds} seed(s) each, then a seed more wherever a "
                f"comparison is open, up to {args.max_seeds} ({len(watched)} comparisons)")
    record = {"design": args.design, "seeds": AUTO_SEEDS, "min_seeds": args.min_seeds, "max_seeds": args.max_seeds,
              "max_trials": args.max_trials, "arms": len(arms)}
    return base.Plan(common, built, config, len(arms) * args.min_seeds, describe, record=record, searcher=searcher)
