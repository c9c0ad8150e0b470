"""The paper's design and conclusions of a task, declared as data: reference setting, factors, claims.

Each task package declares one ``Paper`` (in its ``paper.py``): the
reference setting, the factors the paper varied and their levels, and its
conclusions as ``Claim`` objects. From it come

- the study's designs: ``paper`` (the reference per block plus one factor
  changed at a time, the arms the claims compare) and ``factorial`` (every
  combination); the study runs them (``studies/``);
- the claims' verdicts and the report's tables, computed by ``analysis/``.

Nothing here imports Ray, pandas or analysis: the same declaration serves the
run side and the reading side.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

LOWER, HIGHER, SAME, NOT_LOWER = "lower", "higher", "same", "not lower"
EXPECTATIONS = (LOWER, HIGHER, SAME, NOT_LOWER)


@dataclass(frozen=True)
class Margin:
    """The smallest difference that matters, declared before any data.

    ``share`` of the mean of metric ``of`` over the compared trials (e.g. 1%
    of the persistence forecast's test MAPE); with ``relative``, of the mean
    of what is compared (e.g. 5% of the time per epoch); else an absolute
    value in the compared measure's units.
    """

    share: float
    text: str
    """How the report states it, e.g. "1% of the persistence forecast's test MAPE"."""
    of: str | None = None
    relative: bool = False


@dataclass(frozen=True)
class Compare:
    """One paired comparison: the measure at ``factor == a`` minus at ``factor == b``, one pair a seed.

    Both sides hold the other factors at the reference setting, plus ``at``
    (e.g. one cell). Settings named in ``over`` vary within the comparison
    and are averaged within each seed (e.g. the three cells when optimizers
    are compared). ``against``: compare the ``a`` arm with a baseline metric
    reported by the same trials instead (``factor`` and ``b`` unused).
    """

    factor: str
    a: Any
    b: Any = None
    expect: str = LOWER
    at: Mapping[str, Any] = field(default_factory=dict)
    over: tuple[str, ...] = ()
    against: str | None = None
    label: str = ""
    metric: str | None = None
    """This comparison's metric, when not the claim's."""
    measure: str | None = None
    """This comparison's measure, when not the claim's."""
    work: str | None = None
    """With the ``AT_EQUAL`` measure: the metric counting the work done (time, characters, updates)."""
    margin: Margin | None = None
    """This comparison's margin, when not the claim's (e.g. one taken from the period its metric covers)."""

    def __post_init__(self) -> None:
        if self.expect not in EXPECTATIONS:
            raise ValueError(f"expect: {self.expect!r} is not one of {', '.join(EXPECTATIONS)}")

    def describe(self) -> str:
        if self.label:
            return self.label
        where = ", ".join(f"{k}={v}" for k, v in self.at.items())
        what = f"{self.a} − {self.against}" if self.against else f"{self.a} − {self.b}"
        return f"{where}: {what}" if where else what


# How a claim measures each trial. FINAL: the metric's final value (test metrics with the best epoch's
# weights); PER_EPOCH: the metric divided by the epochs run (time per epoch, fair when trials stop early);
# CURVE: the metric's mean over the epochs both trials of a pair ran (learning speed, fair likewise);
# AT_EQUAL: the metric at the last report within the work both trials of a pair did, counted by ``work``;
# CHOSEN: the setting best on validation against the baseline ``against`` (the reader's question).
FINAL, PER_EPOCH, CURVE, AT_EQUAL, CHOSEN = "final", "per epoch", "curve", "at equal", "chosen"


@dataclass(frozen=True)
class Claim:
    """One conclusion of the paper (or a question of ours, ``paper=False``), with how it is checked."""

    key: str
    text: str
    metric: str
    compares: tuple[Compare, ...]
    margin: Margin
    measure: str = FINAL
    note: str = ""
    paper: bool = True
    """False: not a conclusion of the paper, a question the study adds (e.g. the formulation)."""

    def arms(self, reference: Mapping[str, Any]) -> list[dict[str, Any]]:
        """The settings this claim's comparisons read, each over the reference (``over`` fields left free)."""
        return [arm for c in self.compares for arm in (self.reads(c, reference) or [])]

    def reads(self, compare: Compare, reference: Mapping[str, Any]) -> list[dict[str, Any]] | None:
        """The settings one comparison reads (``over`` fields left free); None when it reads whichever arms
        there are (a best-on-validation choice)."""
        if (compare.measure or self.measure) == CHOSEN:
            return None
        base = {**reference, **compare.at}
        out = []
        for value in [compare.a] if compare.against else [compare.a, compare.b]:
            arm = {**base, compare.factor: value}
            for name in compare.over:
                arm.pop(name, None)
            out.append(arm)
        return out

    def comparison_key(self, index: int) -> str:
        """The name of comparison ``index`` of this claim, shared by the run side and analysis."""
        return f"{self.key}/{index}"


@dataclass(frozen=True)
class Paper:
    """A task's paper design: the reference, the factors varied one at a time around it, the claims."""

    reference: Mapping[str, Any]
    """Each factor's reference level (the setting the paper varied around)."""
    factors: Mapping[str, tuple[Any, ...]]
    """Every factor's levels, the reference level among them."""
    claims: tuple[Claim, ...]
    blocks: tuple[str, ...] = ()
    """Factors whose every level gets its own reference arm (q1: the cell): the others vary per block."""
    settings: Mapping[str, Any] = field(default_factory=dict)
    """Config values every arm of the paper's designs shares (e.g. the paper's model), beyond the defaults."""
    level_settings: Mapping[tuple[str, Any], Mapping[str, Any]] = field(default_factory=dict)
    """Config values an arm takes with one factor's level: (factor, level) -> values (q1's paper formulation
    trains the paper's fixed epochs, since it improves until the last ones)."""
    columns: Mapping[str, Callable[[Mapping[str, Any]], Any]] = field(default_factory=dict)
    """Derived settings computed from a trial's config (e.g. q3's model family), usable as factors."""

    def __post_init__(self) -> None:
        for name, level in self.reference.items():
            if name in self.factors and level not in self.factors[name]:
                raise ValueError(f"reference {name}={level!r} is not one of its levels {self.factors[name]}")

    def block_levels(self) -> list[dict[str, Any]]:
        return [dict(zip(self.blocks, combo)) for combo in itertools.product(*(self.factors[b] for b in self.blocks))]

    def one_at_a_time(self) -> list[dict[str, Any]]:
        """The reference in every block, then each other level of each factor, one factor at a time."""
        arms = []
        for block in self.block_levels():
            base = {**self.reference, **block}
            arms.append(base)
            for name, levels in self.factors.items():
                if name in self.blocks:
                    continue
                arms += [{**base, name: level} for level in levels if level != self.reference[name]]
        return arms

    def settings_of(self, arm: Mapping[str, Any]) -> dict[str, Any]:
        """The config values ``arm`` runs with beyond its factors: the shared ones, then its levels' own."""
        out = dict(self.settings)
        for (name, level), values in self.level_settings.items():
            if arm.get(name) == level:
                out.update(values)
        return out

    def factorial(self) -> list[dict[str, Any]]:
        names = list(self.factors)
        return [dict(zip(names, combo)) for combo in itertools.product(*self.factors.values())]

    def claim(self, key: str) -> Claim:
        return next(c for c in self.claims if c.key == key)
