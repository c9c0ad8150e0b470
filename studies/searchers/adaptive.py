"""``--seeds auto``: the design's arms, each comparison given seeds while its verdict is open.

Every arm starts with ``--min-seeds`` seeds. Once a comparison's arms have
finished all the seeds it asked for, it is looked at (by the evaluator the
study's entry point hands in: this side never reads verdicts itself); if its
verdict is still open it asks for the next seed on every arm it reads (a
best-on-validation choice reads every arm), up to ``--max-seeds``. Arms shared
by several comparisons run each seed once; a comparison waiting for its
trials holds up no other, and ``--max-trials`` caps the trials started.
Comparison k's look at n seeds reads seeds 0..n-1 only, so the decisions are
the same however the trials were timed.

Seeds run ahead (``--run-ahead``, the default): a slot that would idle while
asked-for trials still run takes the next seed of an open comparison (seed
n+1, n+2, ... past what it asked for, the open comparisons in turn). A seed
that ran ahead is read only once its comparison asks for it; when no open
comparison reads its arm any more, ``RunAheadScheduler`` stops it at its next
report, and so is the one furthest ahead when an asked-for seed wants its slot
(its (arm, seed) may run again later). Asked-for seeds are proposed, and
placed, before any that runs ahead.

The searcher's memory is the trials Tune holds: on ``--resume`` it rebuilds
which (arm, seed) each trial is and which finished, and looks again.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from ray import tune
from ray.tune.experiment import Trial
from ray.tune.schedulers import FIFOScheduler, TrialScheduler
from ray.tune.search import Searcher

from studies.context import Context
from studies.searchers import base, grid
from studies.searchers.spaces import unique
from trainables.common import metrics as M
from trainables.common import usage
from trainables.common.layout import AUTO_SEEDS

NAME = "adaptive"
HELP = "the design (--design) with seeds added where a claim's verdict is open (what --seeds auto runs)"
MIN_SEEDS, MAX_SEEDS = 3, 20
BEHIND_S = 30.0  # how long a look may find fewer finished seeds on disk than Tune reported before it counts
SLOTS_EVERY_S = 10.0  # how often the free slots are counted again (a cluster grows and shrinks)


def add_flags(group: argparse._ArgumentGroup) -> None:
    group.add_argument("--min-seeds", type=int, default=MIN_SEEDS,
                       help=f"--seeds auto: the seeds every arm starts with (default: {MIN_SEEDS})")
    group.add_argument("--max-seeds", type=int, default=MAX_SEEDS,
                       help=f"--seeds auto: the most seeds a comparison gets (default: {MAX_SEEDS})")
    group.add_argument("--max-trials", type=int, default=0,
                       help="--seeds auto: a compute budget: no trial starts past this many (default: 0, none)")
    group.add_argument("--run-ahead", action=argparse.BooleanOptionalAction, default=True,
                       help="--seeds auto: a slot that would idle trains the next seed of an open comparison, read "
                            "only once the comparison asks for it (default: on; off with --max-trials)")


@dataclass(frozen=True)
class Watch:
    """One comparison of a claim as the run side sees it: its name and the arms it reads."""

    key: str
    arms: tuple[int, ...]


def watches(paper: Any, levels: list[dict[str, Any]], arm_of: list[int]) -> list[Watch]:
    """Each claim's comparisons whose every side is an arm of this design (``levels``: as run, the command line's
    choices applied); ``arm_of``: design arm -> trial arm. One it cannot form is left to the report ("not run")."""
    out = []
    for claim in paper.claims:
        for i, compare in enumerate(claim.compares):
            reads = claim.reads(compare, paper.reference)
            sides = [{arm_of[j] for j, level in enumerate(levels)
                      if all(level.get(k, v) == v for k, v in r.items())} for r in reads or [{}]]
            if all(sides):
                out.append(Watch(claim.comparison_key(i), tuple(sorted(set().union(*sides)))))
    return out


@dataclass(frozen=True)
class ClusterSlots:
    """Trials Ray's resources let run at once, as they are now."""

    cpus_per_trial: float
    gpus_per_trial: float
    max_concurrent: int

    def __call__(self) -> int:
        import ray

        have = ray.cluster_resources()
        return usage.slots(have.get("CPU", 0.0), self.cpus_per_trial, self.max_concurrent, have.get("GPU", 0.0),
                           self.gpus_per_trial)


class SeedSearcher(base.AssigningSearcher):
    """Proposes (arm, seed) trials as the comparisons ask for them, then into free ``slots()`` the seeds ahead of
    them; limits concurrency itself."""

    def __init__(self, configs: dict[tuple[int, int], dict[str, Any]], watched: list[Watch], first: int, cap: int,
                 metric: str, mode: str, max_trials: int = 0, max_concurrent: int = 0,
                 slots: Callable[[], int] | None = None) -> None:
        super().__init__(metric=metric, mode=mode)
        self.configs, self.watched, self.first, self.cap = configs, watched, first, cap
        self.max_trials, self.max_concurrent = max_trials, max_concurrent
        self.slots = slots  # None: no seed runs ahead
        self.counted: tuple[float, int] = (-SLOTS_EVERY_S, 0)  # (when, slots) of the last count
        self.evaluate: Any = None  # handed in at each start (use_evaluator); never pickled
        self.reset()

    def reset(self) -> None:
        self.assigned: dict[str, tuple[int, int]] = {}  # Tune trial id -> (arm, seed)
        self.live: set[str] = set()
        self.released: set[str] = set()  # trials stopped while running ahead: their (arm, seed) may run again
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
            chosen = self.ahead()
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
        taken = self.taken()
        if self.max_trials and len(taken) >= self.max_trials:
            return None
        return next((t for t in self.requested() if t not in taken), None)

    def open(self) -> list[Watch]:
        return [w for w in self.watched if w.key not in self.settled and self.wanted[w.key] < self.cap]

    def ahead(self) -> tuple[int, int] | None:
        """The next seed to run ahead, when a slot would idle while asked-for trials run: the nearest seed past
        what each open comparison asked for, the open comparisons in turn."""
        if self.slots is None or self.max_trials or len(self.live) >= self.free_slots():
            return None
        asked = set(self.requested())
        if not any(self.assigned[t] in asked for t in self.live):
            return None  # nothing asked for is running: the run is ending (or waits for a look)
        taken = self.taken()
        for step in range(self.cap):
            for w in self.open():
                seed = self.wanted[w.key] + step
                chosen = next(((arm, seed) for arm in w.arms if seed < self.cap and (arm, seed) not in taken), None)
                if chosen is not None:
                    return chosen
        return None

    def free_slots(self) -> int:
        now = time.monotonic()
        if not 0 <= now - self.counted[0] < SLOTS_EVERY_S:  # (a resumed driver's clock starts elsewhere)
            self.counted = (now, self.slots())
        return self.counted[1]

    def asked(self, trial_id: str) -> bool:
        """Whether a comparison asked for the trial's seed (False: it runs ahead, or is not this searcher's)."""
        return self.assigned.get(trial_id) in set(self.requested())

    def stops(self, trial_id: str) -> bool:
        """Whether a seed that runs ahead stops at this report (then its (arm, seed) is free to run again): when no
        open comparison reads its arm any more, or when asked-for seeds want its slot (the seed furthest ahead,
        the latest started of those, gives way first)."""
        key = self.assigned.get(trial_id)
        asked = set(self.requested())
        if key is None or key in asked or trial_id in self.released:
            return False
        ahead = [t for t in self.assigned if t in self.live - self.released and self.assigned[t] not in asked]
        taken = self.taken()
        wanting = sum(self.assigned[t] in asked for t in self.live) + sum(k not in taken for k in asked)
        unread = not any(key[0] in w.arms for w in self.open())
        crowded = len(ahead) > self.free_slots() - wanting and trial_id == max(
            ahead, key=lambda t: (self.assigned[t][1], list(self.assigned).index(t)))
        if unread or crowded:
            self.released.add(trial_id)
        return unread or crowded

    def taken(self) -> set[tuple[int, int]]:
        return {key for tid, key in self.assigned.items() if tid not in self.released}

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
            elif trial.finished:  # ended unfinished: stopped while running ahead (nothing else stops them)
                self.released.add(tid)
            elif not trial.finished:
                self.live.add(tid)
        # What each comparison asked for is not kept: the next look replays it from the finished trials (a look
        # at n seeds stops where the uninterrupted run's looks up to n did).
        return {"unknown": unknown} if unknown else {}


class RunAheadScheduler(FIFOScheduler):
    """Tune's FIFO scheduling, asked-for trials placed first, and a seed that runs ahead stopped at its next
    report once nothing will read it or an asked-for seed wants its slot (``SeedSearcher.stops``)."""

    def on_trial_result(self, tune_controller: Any, trial: Any, result: dict) -> str:
        searcher = seed_searcher(tune_controller)
        return TrialScheduler.STOP if searcher and searcher.stops(trial.trial_id) else TrialScheduler.CONTINUE

    def choose_trial_to_run(self, tune_controller: Any) -> Any:
        searcher = seed_searcher(tune_controller)
        pending = [t for t in tune_controller.get_trials() if t.status == Trial.PENDING]
        first = next((t for t in pending if searcher is None or searcher.asked(t.trial_id)), None)
        return first or super().choose_trial_to_run(tune_controller)


def seed_searcher(tune_controller: Any) -> SeedSearcher | None:
    """The run's SeedSearcher, from the search algorithm Tune hands its scheduler (the one that runs, also after a
    resume restored it)."""
    searcher = getattr(tune_controller.search_alg, "searcher", None)
    return searcher if isinstance(searcher, SeedSearcher) else None


def plan(ctx: Context) -> base.Plan:
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
    run = [{**level, **{k: v for k, v in ctx.chosen.items() if k in level}} for level in levels]
    watched = watches(ctx.study.task.paper, run, arm_of)
    # A budget counts the trials started: seeds run ahead would spend it on trials no comparison asked for.
    ahead = args.run_ahead and not args.max_trials
    slots = ClusterSlots(args.cpus_per_trial, args.gpus_per_trial, args.max_concurrent) if ahead else None
    searcher = SeedSearcher({k: {v: c[v] for v in varying} for k, c in zip(keys, full)}, watched, args.min_seeds,
                            args.max_seeds, ctx.metric, ctx.mode, args.max_trials, args.max_concurrent, slots)
    searcher.use_evaluator(ctx.evaluate)
    config = tune.TuneConfig(metric=ctx.metric, mode=ctx.mode, num_samples=len(keys),
                             search_alg=base.DurableSearchGenerator(searcher),
                             scheduler=RunAheadScheduler() if ahead else None)
    common = {k: v for k, v in full[0].items() if k not in varying}
    describe = (f"{what}: {len(arms)} arm(s), {args.min_seeds} seed(s) each, then a seed more wherever a "
                f"comparison is open, up to {args.max_seeds} ({len(watched)} comparisons)"
                + ("; free slots run seeds ahead" if ahead else ""))
    manifest = {"design": args.design, "seeds": AUTO_SEEDS, "min_seeds": args.min_seeds, "max_seeds": args.max_seeds,
              "max_trials": args.max_trials, "arms": len(arms), "run_ahead": ahead}
    first = len(arms) * args.min_seeds  # the first seeds: what later ones cost is not known before the looks
    return base.Plan(common, built, config, first, describe, manifest=manifest, searcher=searcher,
                     planned=full[:first])
