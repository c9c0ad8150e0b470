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

A run that added seeds while verdicts were open (``--seeds auto``) is read
the way it ran: each comparison is looked at after every seed, in seed
order, with the repeated interval of ``analysis.sequential`` in place of the
fixed-n one (alpha split over a claim's directional comparisons, Bonferroni),
and stops at the first look that settles it, or is open at the cap.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from analysis import measures, sequential, stats
from analysis.run import Run
from analysis.verdicts import CONTRADICTED, EQUIVALENT, INCONCLUSIVE, NOT_RUN, SIGN, SUPPORTED, rule
from trainables.common.paper import CHOSEN, Claim, Compare, Margin

__all__ = ["CONTRADICTED", "EQUIVALENT", "INCONCLUSIVE", "NOT_RUN", "SUPPORTED", "ClaimResult",
           "Comparison", "Stop", "evaluate", "sentence"]


@dataclass(frozen=True)
class Stop:
    """Where a comparison looked at seed by seed stopped: its verdict there, at ``n`` seeds."""

    verdict: str
    n: int
    design: sequential.Design
    split: int
    """Directional comparisons in the claim: each is tested at alpha / split."""

    @property
    def settled(self) -> bool:
        return self.verdict != INCONCLUSIVE


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

    stop: Stop | None = None
    """With seeds looked at one by one: where it stopped (the result and seeds are those up to there)."""

    @property
    def verdict(self) -> str:
        if self.stop:
            return self.stop.verdict
        r = self.result
        if r.n < 2 or math.isnan(r.ci_low):
            return INCONCLUSIVE
        significant = r.sign() if not math.isnan(self.p_holm) and self.p_holm < stats.ALPHA else 0
        return str(rule(self.expect, self.margin, r.ci_low, r.ci_high, significant))

    @property
    def seeds_needed(self) -> int | None:
        """Roughly how many seeds would settle this comparison (None when it is settled or no number would)."""
        r = self.result
        if self.verdict != INCONCLUSIVE or r.n < 2:
            return None if r.n >= 2 else stats.MIN_IDENTICAL
        sd = float(np.std(self.seeds["a"] - self.seeds["b"], ddof=1))
        wider = sequential.inflation(self.stop.design.cap, self.stop.split) if self.stop else 1.0
        return stats.seeds_needed(r.diff, sd * wider, self.margin)

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
        kind = "95% repeated CI" if self.stop else "95% CI"
        text += f" [{kind} {r.ci_low:+.4g}, {r.ci_high:+.4g}], margin ±{self.margin:.3g}, n={r.n} seeds"
        if self.stop:
            text += f" ({self.stop_words()})"
        if self.expect in SIGN and self.stop:
            text += f", directional test at 0.05/{self.stop.split}, paired t p={r.p_t:.3g} (one look)"
        elif self.expect in SIGN:
            text += f", paired t p={r.p_t:.3g} (Holm {self.p_holm:.3g}), Wilcoxon p={r.p_wilcoxon:.3g}"
        return text

    def stop_words(self) -> str:
        """Where a comparison looked at seed by seed stopped, in words."""
        s = self.stop
        if s is None:
            return ""
        if s.settled:
            return f"settled at {s.n} seeds"
        if s.n >= s.design.cap:
            need = self.seeds_needed
            return f"open at the cap of {s.design.cap} seeds" + (f": about {need} would settle it" if need else "")
        return f"open at {s.n} seeds"


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

    def seeds_words(self) -> str:
        """With seeds looked at one by one: the seeds the claim used and where it settled, or that it is open."""
        stops = [c.stop for c in self.comparisons if c.stop]
        if not stops or self.verdict == NOT_RUN:
            return ""
        used = max(s.n for s in stops)
        if all(s.settled for s in stops):
            return f"settled at {used} seeds"
        cap = stops[0].design.cap
        if used < cap:
            return f"open at {used} seeds"
        need = self.seeds_needed
        return f"open at the cap of {cap} seeds" + (f": about {need} would settle it" if need else "")


def evaluate(run: Run) -> list[ClaimResult]:
    """Every claim of the run's task, checked on the run's completed trials (seed by seed when the run was)."""
    design = sequential.Design.of(run.info)
    return [check(claim, run.task.paper.reference, compared(run), run.history, design) for claim in run.task.paper.claims]


def standing(run: Run, seeds: Mapping[str, int]) -> dict[str, tuple[int, bool]]:
    """How each named comparison (``Claim.comparison_key``) of a ``--seeds auto`` run stands on its first
    ``seeds[name]`` seeds: the seeds it read (where it stopped, when a look settled it) and whether one did.
    A comparison the run cannot form ("not run": e.g. a factor given on the command line) counts as settled."""
    design = sequential.Design.of(run.info)
    if design is None:
        raise ValueError(f"{run.path}: not a run that adds seeds while verdicts are open")
    trials, paper, out = compared(run), run.task.paper, {}
    for claim in paper.claims:
        for i, comp in enumerate(claim.compares):
            key = claim.comparison_key(i)
            if key not in seeds:
                continue
            try:
                stop = looked(claim, comp, paper.reference, trials, run.history, design, directional(claim),
                              limit=seeds[key]).stop
                out[key] = (stop.n, stop.settled)
            except measures.Missing:  # the run lacks what it compares (its arms finished): seeds will not help
                out[key] = (0, True)
    return out


def compared(run: Run) -> pd.DataFrame:
    """The run's completed trials as the comparisons read them (the selection metric, the replicate columns)."""
    trials = run.trials.assign(**{measures.SELECTION: run.trials.get(run.best_metric)})
    trials.attrs["mode"] = run.mode
    trials.attrs["replicate"] = [measures.C + k for k in run.task.replicate(0)]
    return trials


def directional(claim: Claim) -> int:
    """The claim's directional comparisons (alpha is split over them when seeds are looked at one by one)."""
    return max(1, sum(c.expect in SIGN for c in claim.compares))


def check(claim: Claim, reference, trials: pd.DataFrame, history: pd.DataFrame,
          design: sequential.Design | None = None) -> ClaimResult:
    """One claim's comparisons on ``trials``; "not run" (with the reason) when any cannot be formed."""
    out = ClaimResult(claim, margin_text=claim.margin.text)
    split = directional(claim)
    for comp in claim.compares:
        try:
            out.comparisons.append(compare(claim, comp, reference, trials, history) if design is None
                                   else looked(claim, comp, reference, trials, history, design, split))
        except measures.Missing as exc:
            out.missing = out.missing or f"needs {exc}"
    tested = [c for c in out.comparisons if c.expect in SIGN and c.stop is None]
    for comp, p in zip(tested, stats.holm(c.result.p_t for c in tested)):
        comp.p_holm = p
    return out


def compare(claim: Claim, comp: Compare, reference, trials: pd.DataFrame, history: pd.DataFrame) -> Comparison:
    per_seed, rows = pairs(claim, comp, reference, trials, history)
    return Comparison(label(comp, rows), comp.metric or claim.metric, comp.expect,
                      stats.paired(per_seed["a"], per_seed["b"]), margin_value(claim.margin, rows, per_seed),
                      seeds=per_seed)


def looked(claim: Claim, comp: Compare, reference, trials: pd.DataFrame, history: pd.DataFrame,
           design: sequential.Design, split: int, limit: int | None = None) -> Comparison:
    """``comp`` looked at after each seed, in seed order, from the design's first look to where it stopped.

    Look n reads seeds 0..n-1 only (a best-on-validation choice too is made on them); the seeds are read up to
    the first one missing, the cap, or ``limit``."""
    per_seed, rows = pairs(claim, comp, reference, trials, history)
    seeds = [s for i, s in enumerate(per_seed.index) if s == i][:min(design.cap, limit or design.cap)]
    steps = [at_seeds(claim, comp, reference, trials, history, per_seed, rows, seeds)] if len(
        seeds) < sequential.FIRST_LOOK else [
        at_seeds(claim, comp, reference, trials, history, per_seed, rows, seeds[:n])
        for n in range(sequential.FIRST_LOOK, len(seeds) + 1)]
    looks = [look(claim, comp, design, split, *step) for step in steps]
    at = int(sequential.stop(np.array([[v for v, *_ in looks]]), design.first)[0])
    verdict, low, high, margin = looks[at]
    ps, rs = steps[at]
    result = stats.paired(ps["a"], ps["b"])
    if result.n >= sequential.FIRST_LOOK:
        result = dataclasses.replace(result, ci_low=low, ci_high=high)
    return Comparison(label(comp, rs), comp.metric or claim.metric, comp.expect, result, margin, seeds=ps,
                      stop=Stop(verdict, len(ps), design, split))


def at_seeds(claim: Claim, comp: Compare, reference, trials: pd.DataFrame, history: pd.DataFrame,
             per_seed: pd.DataFrame, rows: pd.DataFrame, seeds: list) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The comparison's numbers on ``seeds`` only."""
    if (comp.measure or claim.measure) == CHOSEN:  # the choice itself is made on these seeds
        return pairs(claim, comp, reference, trials[trials[measures.SEED].isin(seeds)], history)
    return per_seed.loc[seeds], rows[rows[measures.SEED].isin(seeds)] if measures.SEED in rows else rows


def look(claim: Claim, comp: Compare, design: sequential.Design, split: int, per_seed: pd.DataFrame,
         rows: pd.DataFrame) -> tuple[str, float, float, float]:
    """(verdict, repeated interval, margin) at one look."""
    margin = margin_value(claim.margin, rows, per_seed)
    d = (per_seed["a"] - per_seed["b"]).to_numpy()
    if len(d) < sequential.FIRST_LOOK:
        return INCONCLUSIVE, math.nan, math.nan, margin
    verdict, wide = sequential.verdicts(d[None], comp.expect, margin, design.cap, split)
    return str(verdict[0, -1]), float(wide.low[0, -1]), float(wide.high[0, -1]), margin


def pairs(claim: Claim, comp: Compare, reference, trials: pd.DataFrame,
          history: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """``measures.pairs``, "not run" when no pair is found."""
    per_seed, rows = measures.pairs(claim, comp, reference, trials, history)
    if per_seed.empty:
        raise measures.Missing(f"trials of {comp.describe()} ({comp.factor} = {comp.a}"
                               + (f" and {comp.b})" if not comp.against else ")"))
    return per_seed, rows


def label(comp: Compare, rows: pd.DataFrame) -> str:
    text = comp.describe()
    if "chosen" in rows and len(rows) and rows["chosen"].iloc[0]:
        text = f"{text} ({rows['chosen'].iloc[0]})"
    return text


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
    seeds = result.seeds_words()
    if seeds:
        words += f"; {seeds}"
    elif verdict == INCONCLUSIVE:
        need = result.seeds_needed
        words += f"; about {need} seeds would settle it" if need else "; more seeds would not settle it"
    return f"{claim.text}: **{words}**; {effect}."


PAIRING = ("Each comparison pairs trials by seed (same seed, same data split), averages the other settings that "
           "vary within each seed, and gives one difference a seed: n is the number of seeds.")
RULE = (f"{PAIRING} Verdicts: equivalent when the 95% interval lies within ± the claim's margin; supported when it "
        "lies on the claimed side of zero and the Holm-corrected paired t-test is below 0.05; contradicted when both "
        "point the other way; inconclusive otherwise, with roughly the seeds that would settle it. Only completed "
        "trials count.")
SEQUENTIAL_RULE = (f"{PAIRING} Seeds were added while a verdict was open: each comparison was looked at after every "
                   "seed, in seed order, and stopped at the first look that settled it, so its interval is a {method}, "
                   "which keeps the error rates however often it was looked at. Verdicts: equivalent when that "
                   "interval lies within ± the claim's margin; supported when the interval at 0.05 split over the "
                   "claim's directional comparisons (Bonferroni) lies on the claimed side of zero; contradicted when "
                   "it lies on the other side; inconclusive otherwise, open at the cap with roughly the seeds that "
                   "would settle it. Only completed trials count.")


def method(results: list[ClaimResult]) -> str:
    """How the verdicts were reached: the rule, and the sequential method when seeds were looked at one by one."""
    stop = next((c.stop for r in results for c in r.comparisons if c.stop), None)
    return RULE if stop is None else SEQUENTIAL_RULE.format(method=stop.design.method)
