"""The live line's time left: each trial's seconds expected from its arm and its cost, laid out on the slots.

A run's arms can differ several-fold in cost (q2's batch 128 trains twice the
characters a round, the paper formulation scores a 100-character window per
validation character), so one mean duration for every trial is off by the mix.
Here a trial whose arm has finished takes that arm's mean; an arm not seen yet
takes its cost (``TrialConfig.work``: units proportional to seconds) at the seconds
per unit of the trials seen; and the trials still to start go, in the order
they start, to whichever slot frees first, as Tune places them.
"""

from __future__ import annotations

import heapq
from collections.abc import Hashable
from dataclasses import dataclass
from typing import Any

from studies.searchers.base import config_key


@dataclass(frozen=True)
class Running:
    """A running trial in this run: seconds since it started, epochs reported since then, epochs left; its arm
    (the config less its seed) and its cost."""

    elapsed: float
    epochs_run: int
    epochs_left: int | None
    arm: Hashable = None
    cost: float = 1.0
    fixed: bool = False
    """Its config fixes its length (no patience, no budget: ``TrialConfig.known_epochs``): its pace tells."""

    @property
    def paced(self) -> bool:
        return self.epochs_run > 0 and self.epochs_left is not None

    @property
    def projected(self) -> float:
        """Its whole duration at its pace so far over its planned epochs (``paced`` trials only)."""
        return self.elapsed / self.epochs_run * (self.epochs_run + self.epochs_left)


@dataclass(frozen=True)
class Trial:
    """A finished trial (its seconds, from its first epoch to its end in this run) or one still to start (None)."""

    arm: Hashable = None
    cost: float | None = 1.0
    """None: not known (a searched trial not proposed yet): it takes the typical cost of the trials seen."""
    seconds: float | None = None
    fixed: bool = False
    """As ``Running.fixed``."""


def uncosted(config: dict) -> Trial:
    """Every trial one arm of one cost: one mean duration for all."""
    return Trial()


class Expected:
    """Seconds a trial of an arm and cost is expected to take, from the finished trials of this run, or, before
    any finished, from the running trials' pace. Trials that stop early (patience, ASHA, a budget) make planned
    epochs a poor guide, so once trials have finished their durations are what counts; but a running trial of
    fixed length, of an arm none of whose trials finished, tells its arm's duration by its pace."""

    def __init__(self, running: list[Running], finished: list[Trial]):
        paced = [(r.arm, r.cost, r.projected) for r in running if r.paced and (r.fixed or not finished)]
        seen = [(t.arm, t.cost or 0.0, t.seconds) for t in finished] or paced
        self.finished = bool(finished)
        self.done_arms = {t.arm for t in finished}
        self.by_arm: dict[Hashable, list[float]] = {}
        for t in finished:
            self.by_arm.setdefault(t.arm, []).append(t.seconds)
        for arm, _, seconds in paced:  # (all of them before any finished)
            if arm not in self.done_arms:
                self.by_arm.setdefault(arm, []).append(seconds)
        units, seconds = sum(c for _, c, _ in seen), sum(s for _, _, s in seen)
        self.rate = seconds / units if units > 0 else None  # seconds a unit of cost
        self.typical = seconds / len(seen) if seen else None

    def __call__(self, arm: Hashable, cost: float | None) -> float | None:
        if arm in self.by_arm:
            return sum(self.by_arm[arm]) / len(self.by_arm[arm])
        if cost is None or self.rate is None:
            return self.typical
        return cost * self.rate


@dataclass(frozen=True)
class Costs:
    """A task's arm and cost of a trial, from the config Tune holds: the config less the fields a seed sets;
    ``TrialConfig.work`` (a config that does not build, its epochs)."""

    config: type
    seed_fields: frozenset[str]

    @classmethod
    def of(cls, task: Any) -> Costs:
        return cls(task.config, frozenset(task.replicate(0)))

    def arm(self, config: dict) -> str:
        return config_key({k: v for k, v in config.items() if k not in self.seed_fields})

    def trial(self, config: dict) -> Trial:
        """Its arm, cost and whether its length is fixed (a config that does not build: its epochs, not fixed)."""
        try:
            built = self.config(**config)
        except (TypeError, ValueError):
            return Trial(self.arm(config), float(config.get("epochs") or 1))
        return Trial(self.arm(config), float(built.work), fixed=built.known_epochs is not None)


def _left(r: Running, expected: float, finished: bool, arm_done: bool) -> float:
    """Seconds left of one running trial; one that has outlived its expected duration is given one more epoch
    at its own pace (or what its planned epochs leave), not zero. A trial of fixed length keeps its pace, and,
    once trials of its arm have finished, at least what is left of their mean (their end after the last
    epoch, a final test, is in it)."""
    pace_left = r.elapsed / r.epochs_run * r.epochs_left if r.paced else None
    if pace_left is not None and (r.fixed or not finished):
        return max(pace_left, expected - r.elapsed) if arm_done else pace_left
    if r.elapsed < expected or pace_left is None:
        return max(expected - r.elapsed, 0.0)
    return min(r.elapsed / r.epochs_run, pace_left)


def time_left(running: list[Running], finished: list[Trial], waiting: list[Trial], slots: int) -> float | None:
    """Seconds until the last trial ends, or None until something tells.

    ``waiting``: the trials still to start, in the order they start. Each
    running trial keeps what is left of its expected seconds (before any
    trial finished: its pace over its planned epochs); each waiting one
    takes the next slot to free, ``slots`` trials at a time.
    """
    expect = Expected(running, finished)
    left = []
    for r in running:
        seconds = expect(r.arm, r.cost)
        if seconds is None and not r.paced:
            return None
        left.append(_left(r, seconds or 0.0, expect.finished, r.arm in expect.done_arms))
    durations = [expect(t.arm, t.cost) for t in waiting]
    if None in durations:
        return None
    free = left + [0.0] * max(slots - len(left), 1 if not left else 0)  # when each slot frees
    heapq.heapify(free)
    for seconds in durations:
        heapq.heappush(free, heapq.heappop(free) + seconds)
    return max(free, default=0.0)
