"""The paper's conclusions checked on a run: one verdict a claim, from comparisons paired by seed.

A claim (``trainables.common.paper.Claim``, declared in the task's
``paper.py``) is one or more comparisons; each is measured as ``analysis.measures``
says, one difference a seed, with a 95% t-interval. Each claim family declared
its margin, the smallest difference that matters, before any data. A comparison is

- **equivalent** when the whole interval lies within ±margin (two one-sided
  tests at 2.5% each, so the same 95% interval decides);
- **supported** when the interval lies on the claimed side of zero and the
  Holm-corrected paired t-test (within the claim) is below 0.05;
- **contradicted** when both point the other way;
- **inconclusive** otherwise, with roughly the seeds that would settle it
  (from the observed spread).

A claim that two settings are the same (``same``) is supported by
equivalence and contradicted by an interval wholly outside the margin; a
claim that a setting is not better (``not lower``) is supported unless the
interval shows an improvement beyond the margin. A claim is contradicted when
any comparison is, inconclusive when any is open, equivalent when the rest
are equivalent or supported with at least one equivalent, supported when all
are; "not run" when the run has none of the trials it compares. Only
completed trials count (``analysis.run``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from analysis import measures, stats
from analysis.run import Run
from trainables.common.paper import HIGHER, LOWER, NOT_LOWER, SAME, Claim, Compare, Margin

SUPPORTED, CONTRADICTED, EQUIVALENT, INCONCLUSIVE, NOT_RUN = (
    "supported", "contradicted", "equivalent", "inconclusive", "not run")
SIGN = {LOWER: -1, HIGHER: 1}


@dataclass
class Comparison:
    """One comparison's numbers and verdict."""

    label: str
    metric: str
    expect: str
    result: stats.Paired
    margin: float
    p_holm: float = math.nan
    seeds: pd.DataFrame = field(default_factory=pd.DataFrame)
    """One row a seed: the seed's means of a and b."""

    @property
    def within_margin(self) -> bool:
        r = self.result
        return r.n >= 2 and not math.isnan(r.ci_low) and -self.margin <= r.ci_low and r.ci_high <= self.margin

    @property
    def verdict(self) -> str:
        r = self.result
        if r.n < 2 or math.isnan(r.ci_low):
            return INCONCLUSIVE
        if self.expect == SAME:
            if self.within_margin:
                return SUPPORTED
            return CONTRADICTED if r.ci_low > self.margin or r.ci_high < -self.margin else INCONCLUSIVE
        if self.expect == NOT_LOWER:
            if r.ci_low > -self.margin:
                return SUPPORTED
            return CONTRADICTED if r.ci_high < -self.margin else INCONCLUSIVE
        if self.within_margin:
            return EQUIVALENT
        significant = not math.isnan(self.p_holm) and self.p_holm < stats.ALPHA
        if significant and r.sign() == SIGN[self.expect]:
            return SUPPORTED
        if significant and r.sign() == -SIGN[self.expect]:
            return CONTRADICTED
        return INCONCLUSIVE

    @property
    def seeds_needed(self) -> int | None:
        """Roughly how many seeds would settle this comparison (None when it is settled or no number would)."""
        r = self.result
        if self.verdict != INCONCLUSIVE or r.n < 2:
            return None if r.n >= 2 else stats.MIN_IDENTICAL
        sd = float(np.std(self.seeds["a"] - self.seeds["b"], ddof=1))
        return stats.seeds_needed(r.diff, sd, self.margin)

    def evidence(self) -> str:
        """The comparison in words: means, difference, interval, margin, tests."""
        r = self.result
        if r.n == 0:
            return f"{self.label}: no matched pairs"
        text = f"{self.label}: {r.mean_a:.4g} vs {r.mean_b:.4g}, difference {r.diff:+.4g}"
        if r.n < 2:
            return text + f" (n={r.n} seed: too few seeds for an interval)"
        if math.isnan(r.ci_low):
            return text + f" (n={r.n} seeds, identical differences: too few seeds to tell)"
        text += f" [95% CI {r.ci_low:+.4g}, {r.ci_high:+.4g}], margin ±{self.margin:.3g}, n={r.n} seeds"
        if self.expect in SIGN:
            text += f", paired t p={r.p_t:.3g} (Holm {self.p_holm:.3g}), Wilcoxon p={r.p_wilcoxon:.3g}"
        return text


@dataclass
class ClaimResult:
    claim: Claim
    comparisons: list[Comparison] = field(default_factory=list)
    missing: str = ""
    margin_text: str = ""

    @property
    def verdict(self) -> str:
        if self.missing or not self.comparisons:
            return NOT_RUN
        verdicts = [c.verdict for c in self.comparisons]
        if CONTRADICTED in verdicts:
            return CONTRADICTED
        if INCONCLUSIVE in verdicts:
            return INCONCLUSIVE
        return EQUIVALENT if EQUIVALENT in verdicts else SUPPORTED

    @property
    def seeds_needed(self) -> int | None:
        needed = [c.seeds_needed for c in self.comparisons if c.verdict == INCONCLUSIVE]
        return None if not needed or None in needed else max(needed)


def evaluate(run: Run) -> list[ClaimResult]:
    """Every claim of the run's task, checked on the run's completed trials."""
    paper = run.task.paper
    trials = run.trials.assign(**{measures.SELECTION: run.trials.get(run.best_metric)})
    trials.attrs["mode"] = run.mode
    trials.attrs["replicate"] = [measures.C + k for k in run.task.replicate(0)]
    return [check(claim, paper.reference, trials, run.history) for claim in paper.claims]


def check(claim: Claim, reference, trials: pd.DataFrame, history: pd.DataFrame) -> ClaimResult:
    """One claim's comparisons on ``trials``; "not run" (with the reason) when any cannot be formed."""
    out = ClaimResult(claim, margin_text=claim.margin.text)
    for comp in claim.compares:
        try:
            out.comparisons.append(compare(claim, comp, reference, trials, history))
        except measures.Missing as exc:
            out.missing = out.missing or f"needs {exc}"
    tested = [c for c in out.comparisons if c.expect in SIGN]
    for comp, p in zip(tested, stats.holm(c.result.p_t for c in tested)):
        comp.p_holm = p
    return out


def compare(claim: Claim, comp: Compare, reference, trials: pd.DataFrame, history: pd.DataFrame) -> Comparison:
    per_seed, rows = measures.pairs(claim, comp, reference, trials, history)
    if per_seed.empty:
        raise measures.Missing(f"trials of {comp.describe()} ({comp.factor} = {comp.a}"
                               + (f" and {comp.b})" if not comp.against else ")"))
    label = comp.describe()
    if "chosen" in rows and len(rows) and rows["chosen"].iloc[0]:
        label = f"{label} ({rows['chosen'].iloc[0]})"
    return Comparison(label, comp.metric or claim.metric, comp.expect, stats.paired(per_seed["a"], per_seed["b"]),
                      margin_value(claim.margin, rows, per_seed), seeds=per_seed)


def margin_value(margin: Margin, rows: pd.DataFrame, per_seed: pd.DataFrame) -> float:
    """The declared margin in the compared measure's units, on these trials."""
    if margin.of:
        if margin.of not in rows:
            raise measures.Missing(margin.of)
        return margin.share * float(rows[margin.of].mean())
    if margin.relative:
        return margin.share * float((per_seed["a"].abs().mean() + per_seed["b"].abs().mean()) / 2)
    return margin.share


def sentence(result: ClaimResult) -> str:
    """The verdict in words, with the effect and interval of the comparison that decided it."""
    claim, verdict = result.claim, result.verdict
    if verdict == NOT_RUN:
        return f"{claim.text}: not run ({result.missing or 'no trials to compare'})."
    deciding = next((c for c in result.comparisons if c.verdict == verdict), result.comparisons[0])
    r = deciding.result
    interval = "" if math.isnan(r.ci_low) else f" [{r.ci_low:+.3g}, {r.ci_high:+.3g}]"
    effect = f"{deciding.label}: {r.diff:+.3g}{interval} (n={r.n})"
    words = {SUPPORTED: "supported", CONTRADICTED: "contradicted",
             EQUIVALENT: f"no difference larger than {claim.margin.text} (±{deciding.margin:.3g})",
             INCONCLUSIVE: "inconclusive"}[verdict]
    if verdict == INCONCLUSIVE:
        need = result.seeds_needed
        words += f"; about {need} seeds would settle it" if need else "; more seeds would not settle it"
    return f"{claim.text}: **{words}**; {effect}."


RULE = ("Each comparison pairs trials by seed (same seed, same data split), averages the other settings that vary "
        "within each seed, and gives one difference a seed: n is the number of seeds. Verdicts: equivalent when the "
        "95% interval lies within ± the claim's margin; supported when it lies on the claimed side of zero and the "
        "Holm-corrected paired t-test is below 0.05; contradicted when both point the other way; inconclusive "
        "otherwise, with roughly the seeds that would settle it. Only completed trials count.")
