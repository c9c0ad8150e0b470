"""The paper's conclusions checked on a run: one verdict a claim, from comparisons paired by seed.

A claim (``trainables.common.paper.Claim``, declared in the task's
``paper.py``) is one or more comparisons; each is measured as ``analysis.verdicts.pairing``
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
completed trials count (``analysis.runs.read``).

A run that added seeds while verdicts were open (``--seeds auto``) is read
the way it ran: each comparison is looked at after every seed, in seed
order, with the repeated intervals of ``analysis.verdicts.sequential`` in place of the
fixed-n one (equivalence at 5% a side, supported at 2.5%, contradicted at 2.5%
split over all the claim's comparisons, a best-on-validation arm's Bonferroni
over the arms it was chosen among), and stops at the first look that settles it,
or is open at the cap. ``analysis.verdicts.method`` words it and adds Holm's
step-down over all the claims together.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from analysis.runs.read import Run
from analysis.verdicts import pairing, sequential, stats
from analysis.verdicts.rule import CONTRADICTED, EQUIVALENT, INCONCLUSIVE, NOT_RUN, SIGN, SUPPORTED, rule
from trainables.common.layout import SEED_COLUMN
from trainables.common.paper import CHOSEN, Claim, Compare

__all__ = ["CONTRADICTED", "EQUIVALENT", "INCONCLUSIVE", "NOT_RUN", "SUPPORTED", "ClaimResult",
           "Comparison", "Stop", "evaluate", "sentence"]


@dataclass(frozen=True)
class Stop:
    """Where a comparison looked at seed by seed stopped: its verdict there, at ``n`` seeds."""

    verdict: str
    n: int
    schedule: sequential.LookSchedule
    split: int
    """Comparisons in the claim, each of which can end contradicted: "contradicted" is at 2.5% / split."""
    candidates: int = 1
    """A best-on-validation comparison: the arms it chose among (its intervals are Bonferroni over them)."""

    @property
    def levels(self) -> sequential.Levels:
        return sequential.Levels.of(self.split, self.candidates)

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
    read: frozenset = frozenset()
    """With seeds looked at one by one: the trial ids the verdict read (a seed run ahead of its look is not)."""

    @property
    def verdict(self) -> str:
        if self.stop:
            return self.stop.verdict
        r = self.result
        if r.n < 2 or math.isnan(r.ci_low):
            return INCONCLUSIVE
        interval = (r.ci_low, r.ci_high)
        passed = self.expect not in SIGN or (not math.isnan(self.p_holm) and self.p_holm < stats.ALPHA)
        tested = interval if passed else (math.nan, math.nan)
        return str(rule(self.expect, self.margin, interval, tested, tested))

    @property
    def seeds_needed(self) -> int | None:
        """Roughly how many seeds would settle this comparison (None when it is settled or no number would)."""
        r = self.result
        if self.verdict != INCONCLUSIVE or r.n < 2:
            return None if r.n >= 2 else stats.MIN_IDENTICAL
        sd = float(np.std(self.seeds["a"] - self.seeds["b"], ddof=1))
        wider = sequential.inflation(self.stop.schedule.cap, self.stop.levels.claim) if self.stop else 1.0
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
        kind = self.interval_words() if self.stop else "95% CI"
        text += f" [{kind} {r.ci_low:+.4g}, {r.ci_high:+.4g}], margin ±{self.margin:.3g}, n={r.n} seeds"
        if self.stop:
            text += f" ({self.stop_words()}; {self.levels_words()})"
        elif self.expect in SIGN:
            text += f", paired t p={r.p_t:.3g} (Holm {self.p_holm:.3g}), Wilcoxon p={r.p_wilcoxon:.3g}"
        return text

    def interval_words(self) -> str:
        """The repeated interval shown: the one that decided the verdict."""
        equal = sequential.shown(self.expect, self.verdict) == "equal"
        text = "90% repeated CI" if equal else "95% repeated CI"
        k = self.stop.candidates if self.stop else 1
        return text + (f", simultaneous over the {k} arms chosen among" if k > 1 else "")

    def levels_words(self) -> str:
        """The levels the verdicts were tested at, in words."""
        s = self.stop
        if s is None:
            return ""
        per = (f"; the arm was chosen on validation on seeds 0–{s.n - 1} among {s.candidates} arms, and each "
               f"interval is Bonferroni over them, so it holds for whichever was chosen" if s.candidates > 1 else "")
        return (f"equivalence at 5% a side, supported at 2.5%, contradicted at 2.5%/{s.split} one side{per}"
                if s.split > 1 else f"equivalence at 5% a side, supported and contradicted at 2.5% one side{per}")

    def stop_words(self) -> str:
        """Where a comparison looked at seed by seed stopped, in words."""
        s = self.stop
        if s is None:
            return ""
        if s.settled:
            return f"settled at {s.n} seeds"
        if s.n >= s.schedule.cap:
            need = self.seeds_needed
            return f"open at the cap of {s.schedule.cap} seeds" + (f": about {need} would settle it{NEW_RUN}"
                                                                  if need else "")
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
        cap = stops[0].schedule.cap
        if used < cap:
            return f"open at {used} seeds"
        need = self.seeds_needed
        return f"open at the cap of {cap} seeds" + (f": about {need} would settle it{NEW_RUN}" if need else "")


NEW_RUN = " in a new run (a run's cap is fixed before its data)"


def evaluate(run: Run) -> list[ClaimResult]:
    """Every claim of the run's task, checked on the run's completed trials (seed by seed when the run was)."""
    schedule = sequential.LookSchedule.of(run.info)
    return [check(claim, run.task.paper.reference, compared(run), run.history, schedule)
            for claim in run.task.paper.claims]


def standing(run: Run, seeds: Mapping[str, int]) -> dict[str, tuple[int, bool]]:
    """How each named comparison (``Claim.comparison_key``) of a ``--seeds auto`` run stands on its first
    ``seeds[name]`` seeds: the seeds it read (where it stopped, when a look settled it) and whether one did.
    A comparison the run cannot form yet (a trial's curve not on disk, a side without trials) is open at 0 seeds:
    it waits and is looked at again, never settled for good (the run side watches only comparisons its arms form)."""
    schedule = sequential.LookSchedule.of(run.info)
    if schedule is None:
        raise ValueError(f"{run.path}: not a run that adds seeds while verdicts are open")
    trials, paper, out = compared(run), run.task.paper, {}
    for claim in paper.claims:
        for i, comp in enumerate(claim.compares):
            key = claim.comparison_key(i)
            if key not in seeds:
                continue
            try:
                stop = looked(claim, comp, paper.reference, trials, run.history, schedule, split(claim),
                              limit=seeds[key]).stop
                out[key] = (stop.n, stop.settled)
            except pairing.Missing:
                out[key] = (0, False)
    return out


def compared(run: Run) -> pd.DataFrame:
    """The run's completed trials as the comparisons read them (the selection metric, the replicate columns)."""
    trials = run.trials.assign(**{pairing.SELECTION: run.trials.get(run.best_metric)})
    trials.attrs["mode"] = run.mode
    trials.attrs["replicate"] = [pairing.C + k for k in run.task.replicate(0)]
    return trials


def split(claim: Claim) -> int:
    """The claim's comparisons that can end contradicted, all of them ("not lower" and "same" too): seeds looked
    at one by one, "contradicted" is tested at 2.5% over them (Bonferroni)."""
    return len(claim.compares)


def check(claim: Claim, reference, trials: pd.DataFrame, history: pd.DataFrame,
          schedule: sequential.LookSchedule | None = None) -> ClaimResult:
    """One claim's comparisons on ``trials``; "not run" (with the reason) when any cannot be formed."""
    texts = dict.fromkeys([claim.margin.text] + [c.margin.text for c in claim.compares if c.margin])
    out = ClaimResult(claim, margin_text="; ".join(texts))
    parts = split(claim)
    for comp in claim.compares:
        try:
            out.comparisons.append(compare(claim, comp, reference, trials, history) if schedule is None
                                   else looked(claim, comp, reference, trials, history, schedule, parts))
        except pairing.Missing as exc:
            out.missing = out.missing or f"needs {exc}"
    tested = [c for c in out.comparisons if c.expect in SIGN and c.stop is None]
    for comp, p in zip(tested, stats.holm(c.result.p_t for c in tested)):
        comp.p_holm = p
    return out


def compare(claim: Claim, comp: Compare, reference, trials: pd.DataFrame, history: pd.DataFrame) -> Comparison:
    per_seed, rows = pairs(claim, comp, reference, trials, history)
    return Comparison(pairing.label(comp, rows), comp.metric or claim.metric, comp.expect,
                      stats.paired(per_seed["a"], per_seed["b"]),
                      pairing.margin_value(comp.margin or claim.margin, rows, per_seed),
                      seeds=per_seed)


def looked(claim: Claim, comp: Compare, reference, trials: pd.DataFrame, history: pd.DataFrame,
           schedule: sequential.LookSchedule, split: int, limit: int | None = None) -> Comparison:
    """``comp`` looked at after each seed, in seed order, from the schedule's first look to where it stopped.

    Look n reads seeds 0..n-1 only (a best-on-validation choice too is made on them); the seeds are read up to
    the first one missing, the cap, or ``limit``."""
    per_seed, rows = pairs(claim, comp, reference, trials, history)
    seeds = [s for i, s in enumerate(per_seed.index) if s == i][:min(schedule.cap, limit or schedule.cap)]
    steps = [at_seeds(claim, comp, reference, trials, history, per_seed, rows, seeds)] if len(
        seeds) < sequential.FIRST_LOOK else [
        at_seeds(claim, comp, reference, trials, history, per_seed, rows, seeds[:n])
        for n in range(sequential.FIRST_LOOK, len(seeds) + 1)]
    looks = [look(claim, comp, schedule, split, *step) for step in steps]
    at = int(sequential.stop(np.array([[v for v, *_ in looks]]), schedule.first)[0])
    verdict, low, high, margin = looks[at]
    ps, rs = steps[at]
    result = stats.paired(ps["a"], ps["b"])
    if result.n >= sequential.FIRST_LOOK:
        result = dataclasses.replace(result, ci_low=low, ci_high=high)
    # a best-on-validation choice reads every trial of those seeds
    read = trials[trials[SEED_COLUMN].isin(ps.index)] if (comp.measure or claim.measure) == CHOSEN else rs
    return Comparison(pairing.label(comp, rs), comp.metric or claim.metric, comp.expect, result, margin, seeds=ps,
                      stop=Stop(verdict, len(ps), schedule, split, candidates(rs)),
                      read=frozenset(read.get("trial_id", ())))


def candidates(rows: pd.DataFrame) -> int:
    """The arms a best-on-validation comparison chose among (1 for any other)."""
    return int(rows[pairing.CANDIDATES].iloc[0]) if pairing.CANDIDATES in rows and len(rows) else 1


def at_seeds(claim: Claim, comp: Compare, reference, trials: pd.DataFrame, history: pd.DataFrame,
             per_seed: pd.DataFrame, rows: pd.DataFrame, seeds: list) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The comparison's numbers on ``seeds`` only."""
    if (comp.measure or claim.measure) == CHOSEN:  # the choice itself is made on these seeds
        return pairs(claim, comp, reference, trials[trials[SEED_COLUMN].isin(seeds)], history)
    return per_seed.loc[seeds], rows[rows[SEED_COLUMN].isin(seeds)] if SEED_COLUMN in rows else rows


def look(claim: Claim, comp: Compare, schedule: sequential.LookSchedule, split: int, per_seed: pd.DataFrame,
         rows: pd.DataFrame) -> tuple[str, float, float, float]:
    """(verdict, repeated interval, margin) at one look."""
    margin = pairing.margin_value(comp.margin or claim.margin, rows, per_seed)
    d = (per_seed["a"] - per_seed["b"]).to_numpy()
    if len(d) < sequential.FIRST_LOOK:
        return INCONCLUSIVE, math.nan, math.nan, margin
    verdict, wide = sequential.verdicts(d[None], comp.expect, margin, schedule.cap, split, candidates(rows))
    v = str(verdict[0, -1])
    shown = wide[sequential.shown(comp.expect, v)]
    return v, float(shown.low[0, -1]), float(shown.high[0, -1]), margin


def pairs(claim: Claim, comp: Compare, reference, trials: pd.DataFrame,
          history: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """``pairing.pairs``, "not run" when no pair is found."""
    per_seed, rows = pairing.pairs(claim, comp, reference, trials, history)
    if per_seed.empty:
        raise pairing.Missing(f"trials of {comp.describe()} ({comp.factor} = {comp.a}"
                               + (f" and {comp.b})" if not comp.against else ")"))
    return per_seed, rows


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
