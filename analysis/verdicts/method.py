"""How the verdicts were reached, in words (the report's method paragraph), and all the claims together.

The line on all the claims together is Holm's step-down over the claims (Holm, *Scand. J. Statist.* 6,
1979): claim c is tested at level 1/j of its own by its comparisons' repeated intervals at the stop with every
split times j, j = 1..m over the m claims run; a claim's repeated p-value is then at most its own level / J_c,
J_c the largest j at which it still holds, and the step-down on those is Holm's. Repeated intervals hold at
any stop, so the claims counted hold together with a family-wise error of at most 5%.
"""

from __future__ import annotations

import dataclasses

from analysis.verdicts import sequential
from analysis.verdicts.claims import EQUIVALENT, NOT_RUN, SUPPORTED, ClaimResult

PAIRING = ("Each comparison pairs trials by seed (same seed, same data split), averages the other settings that "
           "vary within each seed, and gives one difference a seed: n is the number of seeds.")
RULE = (f"{PAIRING} Verdicts: equivalent when the 95% interval lies within ± the claim's margin; supported when it "
        "lies on the claimed side of zero and the Holm-corrected paired t-test is below 0.05; contradicted when both "
        "point the other way; inconclusive otherwise, with roughly the seeds that would settle it. Only completed "
        "trials count.")
SEQUENTIAL_RULE = (
    f"{PAIRING} Seeds were added while a verdict was open: each comparison was looked at after every seed, in seed "
    "order, and stopped at the first look that settled it, so its intervals are each a {method}, which keeps the "
    "error rates however often it was looked at. Verdicts: equivalent when the 90% interval lies within ± the "
    "margin (two one-sided tests at 5% a side, Schuirmann 1987); supported when the 95% interval lies on the "
    "claimed side of zero, or for \"not lower\" above −margin (2.5% a side: a claim holds only when all its "
    "comparisons do, an intersection–union test, Berger 1982); contradicted when the interval at 2.5% split over "
    "the claim's comparisons (Bonferroni over all of them, \"not lower\" and \"same\" too, since any one contradicts "
    "the claim) lies on the other side; inconclusive otherwise, open at the cap with roughly the seeds that would "
    "settle it in a new run (a resumed run keeps its cap: the intervals were built for it before the data). A "
    "best-on-validation comparison chooses its arm on the seeds looked at, and its intervals are Bonferroni over "
    "the arms it chose among: they hold for every arm against the baseline at once, so for the one chosen. The "
    "verdicts are about the mean difference over seeds, and their error rates hold for roughly Gaussian seeds "
    "(strongly skewed ones, or seeds that now and then blow up, can break them). Only completed trials count.")


def method(results: list[ClaimResult]) -> str:
    """How the verdicts were reached: the rule, and the sequential method and the claims together when seeds
    were looked at one by one."""
    stop = next((c.stop for r in results for c in r.comparisons if c.stop), None)
    if stop is None:
        return RULE
    return SEQUENTIAL_RULE.format(method=stop.schedule.method) + " " + together(results)


def holds(result: ClaimResult, j: int) -> bool:
    """Whether the claim still holds (supported or equivalent) with its comparisons' levels 1/j as strict."""
    if result.verdict not in (SUPPORTED, EQUIVALENT):
        return False
    for comp in result.comparisons:
        s = comp.stop
        levels = dataclasses.replace(s.levels, equal=s.levels.equal * j, claim=s.levels.claim * j)
        d = (comp.seeds["a"] - comp.seeds["b"]).to_numpy()
        verdict, _ = sequential.decide(*sequential.moments(d[None], s.schedule.cap), comp.expect, comp.margin,
                                       s.schedule.cap, levels)
        if verdict[0, -1] not in (SUPPORTED, EQUIVALENT):
            return False
    return True


def holm_count(results: list[ClaimResult]) -> int:
    """How many claims hold by Holm's step-down over the claims run."""
    m = len(results)
    strictest = sorted((max((j for j in range(1, m + 1) if holds(r, j)), default=0) for r in results), reverse=True)
    count = 0
    for rank, j in enumerate(strictest):
        if j < m - rank:
            break
        count += 1
    return count


def together(results: list[ClaimResult]) -> str:
    """One line on all the claims together (those run, seeds looked at one by one)."""
    run = [r for r in results if r.verdict != NOT_RUN and all(c.stop for c in r.comparisons)]
    if not run:
        return ""
    held = sum(r.verdict in (SUPPORTED, EQUIVALENT) for r in run)
    return (f"All {len(run)} claims run together: {holm_count(run)} of the {held} that hold one by one still hold "
            "by Holm's step-down over the claims (Holm 1979), so the chance that any claim counted there does not "
            "hold is at most 5% (family-wise).")
