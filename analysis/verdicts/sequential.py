"""Repeated confidence intervals for paired differences looked at after every seed.

A comparison run with ``--seeds auto`` is looked at after each seed, from
``FIRST_LOOK`` seeds to the run's cap of ``max_seeds``, and stops once it is
settled. A plain 95% t-interval at every look would call differences that are
not there far more often than 5%; here each look uses a repeated confidence
interval (Jennison & Turnbull, *Group Sequential Methods with Applications to
Clinical Trials*, 2000, ch. 9), whose coverage holds at every look at once:

    mean ± c_n · sd / sqrt(n),   n = FIRST_LOOK .. max_seeds.

The critical values c_n spend the error rate over the looks with the
Lan–DeMets Pocock-type function alpha(t) = alpha · ln(1 + (e − 1) t), t = n / max_seeds
(Lan & DeMets, Biometrika 70, 1983; Kim & DeMets 1987): about evenly over the looks, so a large
difference settles at the first seeds, at the price of a somewhat wider interval at the cap. It
replaced O'Brien–Fleming-type spending, which spent almost nothing before ten seeds: the q1 study's
formulation claim (differences of hundreds of margins, trials of 100 epochs) then ran 7 and 8 seeds
where 4 to 5 settle it, with the power at the cap still above 90% (benchmarks/RESULTS.md). With unknown variance the
statistic is a t-statistic whose path over n does not depend on sigma for
Gaussian differences, so the c_n are computed once by seeded Monte Carlo
(``table``) and shipped in ``CRITICAL_FILE``. Looks skipped (a comparison that
jumps from n to n + 2 seeds) only make the procedure more conservative.

Each interval has the two-sided error ``WIDEST / split`` (``ALPHA / split`` a side); ``verdicts`` reads three:

- equivalence by two one-sided tests at ``ALPHA`` a side (Schuirmann 1987): the 90% interval (split 1);
- "supported" at ALPHA / 2 = 2.5% on the claimed side (split 2): a claim holds only when all its
  comparisons do, an intersection–union test (Berger 1982) that needs no correction;
- "contradicted" at 2.5% over every comparison of the claim (split 2 k, Bonferroni over its k
  comparisons, each of which can end contradicted), since any one contradicts the claim.

A best-on-validation comparison's intervals are Bonferroni over the ``candidates`` arms it chose among
(each split times their number): they hold for every arm against the baseline at every look at once, so
for whichever arm the choice made on those seeds picked. A split between the tabulated ones takes the next
larger (conservative); one past them, each look at the t quantile of the error spent since the last
(Bonferroni over the looks, conservative).
"""

from __future__ import annotations

import csv
import math
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
from scipy import stats

from analysis.verdicts.rule import EQUIVALENT, INCONCLUSIVE, rule
from analysis.verdicts.stats import ALPHA
from trainables.common.layout import AUTO_SEEDS
from trainables.common.paper import SAME

FIRST_LOOK = 3  # the first seed count looked at: --min-seeds is at least this
LARGEST_CAP = 40  # the largest --max-seeds tabulated
WIDEST = 2 * ALPHA  # two-sided error of the widest interval: the 90% one of equivalence at ALPHA a side
SPLITS = (*range(1, 9), 10, 12, 14, 16, 18, 20, 24, 28, 32, 36, 42, 48, 54, 64, 72, 90, 108, 126, 144)
"""WIDEST / split tabulated: a claim of up to 4 comparisons times Holm's 7 claims, or 18 arms chosen among."""
PATHS = 500_000  # Monte Carlo paths behind the shipped table
TABLE_SEED = 28
MIN_CROSSINGS = 50  # below this many simulated crossings a look takes the marginal t quantile (conservative)
CRITICAL_FILE = Path(__file__).with_name("sequential_critical.csv")
METHOD = ("repeated confidence interval (Jennison & Turnbull 2000) with Lan–DeMets Pocock-type "
          "alpha spending over looks at {first} to {cap} seeds (critical values of the t-statistic by Monte Carlo)")


def spent(t, alpha: float = ALPHA):
    """Lan–DeMets Pocock-type spending: the two-sided error spent by information fraction ``t``."""
    return alpha * np.log1p((math.e - 1) * np.asarray(t, dtype=float))


def t_paths(paths: int, last: int, seed: int) -> np.ndarray:
    """|t-statistic| of Gaussian paths at n = FIRST_LOOK..last (one row a path), mean zero."""
    rng = np.random.default_rng(seed)
    out = np.empty((paths, last - FIRST_LOOK + 1), dtype=np.float32)
    s1, s2 = np.zeros(paths), np.zeros(paths)
    for n in range(1, last + 1):
        x = rng.standard_normal(paths)
        s1 += x
        s2 += x * x
        if n >= FIRST_LOOK:
            mean = s1 / n
            sd = np.sqrt(np.maximum(s2 - n * mean * mean, 0) / (n - 1))
            out[:, n - FIRST_LOOK] = np.abs(mean) * math.sqrt(n) / sd
    return out


def boundary(abs_t: np.ndarray, cap: int, alpha: float) -> list[float]:
    """Critical values c_n, n = FIRST_LOOK..cap: at each look the paths not yet crossed that cross now
    are the error spent between the previous look and this one."""
    paths = len(abs_t)
    alive = np.ones(paths, dtype=bool)
    before, out = 0.0, []
    for n in range(FIRST_LOOK, cap + 1):
        total = float(spent(n / cap, alpha))
        step, before = total - before, total
        column = abs_t[:, n - FIRST_LOOK]
        count = round(step * paths)
        if count < MIN_CROSSINGS:
            c = float(stats.t.ppf(1 - step / 2, n - 1))  # too rare to simulate: the look alone, so conservative
        else:
            values = column[alive]
            c = float(np.partition(values, len(values) - count)[len(values) - count])
        alive &= column < c
        out.append(c)
    return out


def table(paths: int = PATHS, seed: int = TABLE_SEED, caps=range(FIRST_LOOK, LARGEST_CAP + 1),
          splits=SPLITS) -> dict[tuple[int, int], list[float]]:
    """(cap, split) -> critical values at n = FIRST_LOOK..cap for two-sided error WIDEST / split, all from one
    set of simulated paths."""
    caps = list(caps)
    abs_t = t_paths(paths, max(caps), seed)
    return {(cap, k): boundary(abs_t, cap, WIDEST / k) for cap in caps for k in splits}


def write_table(path: Path = CRITICAL_FILE, **kwargs: Any) -> None:
    """Regenerate the shipped table: ``python -m analysis.verdicts.sequential`` (a few minutes)."""
    with open(path, "w", newline="") as fh:
        out = csv.writer(fh)
        out.writerow(["max_seeds", "split", "n", "critical"])
        for (cap, k), values in table(**kwargs).items():
            out.writerows([cap, k, n, f"{c:.6g}"] for n, c in enumerate(values, FIRST_LOOK))


@lru_cache(maxsize=1)
def shipped() -> dict[tuple[int, int], np.ndarray]:
    found: dict[tuple[int, int], list[float]] = {}
    with open(CRITICAL_FILE, newline="") as fh:
        for row in csv.DictReader(fh):
            found.setdefault((int(row["max_seeds"]), int(row["split"])), []).append(float(row["critical"]))
    return {key: np.array(values) for key, values in found.items()}


def critical(cap: int, split: float = 2) -> np.ndarray:
    """c_n for n = FIRST_LOOK..cap, for two-sided error WIDEST / ``split`` (2: the 95% interval)."""
    if not FIRST_LOOK <= cap <= LARGEST_CAP:
        raise ValueError(f"max seeds {cap}: the sequential table covers {FIRST_LOOK} to {LARGEST_CAP}")
    tabulated = next((k for k in SPLITS if k >= split), None)
    if tabulated is not None:
        return shipped()[(cap, tabulated)]
    n = np.arange(FIRST_LOOK, cap + 1)
    steps = np.diff(spent(np.concatenate([[0.0], n / cap]), WIDEST / split))
    return stats.t.ppf(1 - steps / 2, n - 1)


@dataclass(frozen=True)
class Looks:
    """Every look's interval of many sequences at once: arrays (sequence, look), look j at n = FIRST_LOOK + j."""

    n: np.ndarray
    mean: np.ndarray
    sd: np.ndarray
    low: np.ndarray
    high: np.ndarray


def moments(d: np.ndarray, cap: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(n, mean, sd) of each row of ``d`` (differences in seed order, the last axis) at
    n = FIRST_LOOK..min(len(row), cap);
    identical differences (no spread) have sd 0, as in ``stats.paired``."""
    d = np.atleast_2d(np.asarray(d, dtype=float))
    last = d.shape[-1]
    n = np.arange(1, last + 1)
    mean = np.cumsum(d, axis=-1) / n
    sq = np.cumsum(d * d, axis=-1)
    with np.errstate(invalid="ignore", divide="ignore"):
        sd = np.sqrt(np.maximum(sq - n * mean * mean, 0) / (n - 1))
    sd = np.where(sd <= 1e-12 * np.maximum(1.0, np.abs(mean)), 0.0, sd)
    keep = slice(FIRST_LOOK - 1, min(last, cap))
    return n[keep], mean[..., keep], sd[..., keep]


def interval(n: np.ndarray, mean: np.ndarray, sd: np.ndarray, cap: int, split: float) -> Looks:
    """The repeated interval of two-sided error WIDEST / ``split`` at each look."""
    half = critical(cap, split)[: n.size] * sd / np.sqrt(n)
    return Looks(n, mean, sd, mean - half, mean + half)


def looks(d: np.ndarray, cap: int, split: float = 2) -> Looks:
    """Repeated intervals of each row of ``d`` (differences in seed order) at n = FIRST_LOOK..len(row)."""
    return interval(*moments(d, cap), cap, split)


def first_settled(open_: np.ndarray) -> np.ndarray:
    """Per row of ``open_`` (sequence, look: True while the verdict is open), the index of the first look
    that settled it, or the last look when none did."""
    settled = ~open_
    return np.where(settled.any(axis=1), settled.argmax(axis=1), open_.shape[1] - 1)


def inflation(cap: int, split: float = 2) -> float:
    """How much wider the interval at the cap is than the fixed-n one (for "about M seeds would settle it")."""
    return float(critical(cap, split)[-1] / stats.t.ppf(1 - WIDEST / (2 * split), cap - 1))


@dataclass(frozen=True)
class LookSchedule:
    """A run's looks: every comparison from ``first`` seeds on, one look a seed, up to ``cap``."""

    first: int
    cap: int

    @classmethod
    def of(cls, info: dict[str, Any]) -> LookSchedule | None:
        """The look schedule study.json records, or None for a fixed number of seeds."""
        if info.get("seeds") != AUTO_SEEDS:
            return None
        return cls(int(info["min_seeds"]), int(info["max_seeds"]))

    @property
    def method(self) -> str:
        return METHOD.format(first=self.first, cap=self.cap)


@dataclass(frozen=True)
class Levels:
    """The splits of a comparison's three intervals (see the module's docstring)."""

    equal: float
    claim: float
    against: float

    @classmethod
    def of(cls, split: int = 1, candidates: int = 1) -> Levels:
        """For a claim of ``split`` comparisons, chosen among ``candidates`` arms (1: none chosen)."""
        return cls(candidates, 2 * candidates, 2 * split * candidates)


def decide(n: np.ndarray, mean: np.ndarray, sd: np.ndarray, expect: str, margin, cap: int,
           levels: Levels) -> tuple[np.ndarray, dict[str, Looks]]:
    """The verdict at every look from the looks' moments, and the three intervals it read."""
    wide = {name: interval(n, mean, sd, cap, getattr(levels, name)) for name in ("equal", "claim", "against")}
    bounds = {name: (w.low, w.high) for name, w in wide.items()}
    return rule(expect, margin, bounds["equal"], bounds["claim"], bounds["against"]), wide


def verdicts(d: np.ndarray, expect: str, margin, cap: int, split: int = 1,
             candidates: int = 1) -> tuple[np.ndarray, dict[str, Looks]]:
    """The verdict of each row of ``d`` (differences in seed order) at every look, and the intervals it read.

    ``margin``: one value, or one a look (n = FIRST_LOOK..); ``split``: the comparisons in the claim;
    ``candidates``: the arms a best-on-validation choice chose among."""
    return decide(*moments(d, cap), expect, margin, cap, Levels.of(split, candidates))


def shown(expect: str, verdict: str) -> str:
    """Which interval the report shows with a verdict: the one that decided it (equivalence: the 90% one)."""
    return "equal" if expect == SAME or verdict == EQUIVALENT else "claim"


def stop(verdict: np.ndarray, first: int) -> np.ndarray:
    """Per row of ``verdict`` (sequence, look), the look it stops at: the first from ``first`` seeds on
    that settles it, else the last."""
    skip = min(first - FIRST_LOOK, verdict.shape[1] - 1)
    return skip + first_settled(verdict[:, skip:] == INCONCLUSIVE)


def procedure(d: np.ndarray, expect: str, margin, schedule: LookSchedule, split: int = 1,
              candidates: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """The whole sequential procedure on each row of ``d``: the verdict where it stopped, and that look's n."""
    verdict, wide = verdicts(d, expect, margin, schedule.cap, split, candidates)
    at = stop(verdict, schedule.first)
    return verdict[np.arange(len(verdict)), at], wide["claim"].n[at]


if __name__ == "__main__":
    write_table()
    print(f"wrote {CRITICAL_FILE}")
