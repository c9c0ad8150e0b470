"""Paired comparisons over seeds: difference, interval, tests, effect size, Holm.

Two settings are compared on the same seeds (same initialisation, same data
split), so each seed gives one difference and the seeds are the sample. A
comparison with fewer than two pairs has no interval and is inconclusive, and
so is one whose differences are all identical with fewer than
``MIN_IDENTICAL`` seeds: two equal numbers are no evidence of no spread.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass

import numpy as np
from scipy import stats

ALPHA = 0.05
MIN_IDENTICAL = 3  # seeds needed before identical differences count as an exact result


@dataclass(frozen=True)
class Paired:
    """``a - b`` over matched pairs (NaN where it cannot be computed)."""

    n: int
    mean_a: float
    mean_b: float
    diff: float  # mean of a - b
    ci_low: float
    ci_high: float
    p_t: float  # paired t-test, two-sided
    p_wilcoxon: float  # Wilcoxon signed-rank, two-sided
    effect: float  # Cohen's d_z: mean difference / std of the differences

    def sign(self) -> int:
        """+1 if the interval lies above zero, -1 below, 0 if it spans zero or is missing."""
        if self.n < 2 or math.isnan(self.ci_low):
            return 0
        if self.ci_low > 0:
            return 1
        if self.ci_high < 0:
            return -1
        return 0


def paired(a, b, confidence: float = 0.95) -> Paired:
    """Compare matched samples ``a`` and ``b`` (same length, same order)."""
    a = np.asarray(a, dtype=float)
    b = np.asarray(b, dtype=float)
    if a.shape != b.shape:
        raise ValueError(f"paired samples differ in length: {a.shape} vs {b.shape}")
    keep = ~(np.isnan(a) | np.isnan(b))
    a, b = a[keep], b[keep]
    d = a - b
    n = len(d)
    nan = float("nan")
    if n == 0:
        return Paired(0, nan, nan, nan, nan, nan, nan, nan, nan)
    mean_a, mean_b, diff = float(a.mean()), float(b.mean()), float(d.mean())
    if n < 2:
        return Paired(n, mean_a, mean_b, diff, nan, nan, nan, nan, nan)
    sd = float(d.std(ddof=1))
    if sd <= 1e-12 * max(1.0, abs(diff)):  # identical up to rounding
        if n < MIN_IDENTICAL:
            return Paired(n, mean_a, mean_b, diff, nan, nan, nan, nan, nan)
        # Identical differences over enough seeds (a deterministic effect): no spread
        # to test against, so the interval is the point and the tests are exact.
        p = 1.0 if diff == 0 else 0.0
        effect = 0.0 if diff == 0 else math.copysign(math.inf, diff)
        return Paired(n, mean_a, mean_b, diff, diff, diff, p, p, effect)
    half = stats.t.ppf(0.5 + confidence / 2, n - 1) * sd / math.sqrt(n)
    p_t = float(stats.ttest_rel(a, b).pvalue)
    p_w = wilcoxon_p(d)
    return Paired(n, mean_a, mean_b, diff, diff - half, diff + half, p_t, p_w, diff / sd)


def seeds_needed(diff: float, sd: float, margin: float, confidence: float = 0.95, cap: int = 1000) -> int | None:
    """Roughly how many seeds would settle a comparison, from its observed mean difference and spread.

    Settled means the interval excludes zero (half-width below |diff|) or
    lies within ±margin (half-width below margin − |diff|), whichever is
    nearer. None when no number of seeds would (|diff| equals the margin
    and is zero), or more than ``cap`` would be needed.
    """
    target = max(abs(diff), margin - abs(diff))
    if not target > 0 or not np.isfinite(sd):
        return None
    if sd <= 0:
        return MIN_IDENTICAL
    for n in range(2, cap + 1):
        if stats.t.ppf(0.5 + confidence / 2, n - 1) * sd / math.sqrt(n) < target:
            return max(n, MIN_IDENTICAL)
    return None


def wilcoxon_p(d: np.ndarray) -> float:
    if np.all(d == 0):
        return 1.0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # small samples: scipy warns that the exact test is coarse
        return float(stats.wilcoxon(d).pvalue)


def holm(pvalues) -> list[float]:
    """Holm-Bonferroni adjusted p-values (NaN stays NaN and does not count)."""
    p = np.asarray(list(pvalues), dtype=float)
    valid = np.flatnonzero(~np.isnan(p))
    out = np.full(len(p), np.nan)
    m = len(valid)
    running = 0.0
    for rank, i in enumerate(valid[np.argsort(p[valid], kind="stable")]):
        running = max(running, min(1.0, (m - rank) * p[i]))
        out[i] = running
    return out.tolist()


def mean_ci(values, confidence: float = 0.95) -> tuple[float, float, float]:
    """Mean and t-interval of one sample (NaN interval below two values)."""
    v = np.asarray(values, dtype=float)
    v = v[~np.isnan(v)]
    if len(v) == 0:
        return (float("nan"),) * 3
    mean = float(v.mean())
    if len(v) < 2:
        return mean, float("nan"), float("nan")
    half = stats.t.ppf(0.5 + confidence / 2, len(v) - 1) * v.std(ddof=1) / math.sqrt(len(v))
    return mean, mean - half, mean + half
