"""Paired statistics on constructed data with known answers."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats as sps

from analysis.verdicts import stats
from analysis.verdicts.claims import CONTRADICTED, EQUIVALENT, INCONCLUSIVE, SUPPORTED, Comparison
from trainables.common.paper import HIGHER, LOWER, NOT_LOWER, SAME


def test_clear_difference_has_interval_below_zero():
    rng = np.random.default_rng(0)
    b = rng.normal(10, 1, 10)
    a = b - 2 + rng.normal(0, 0.1, 10)  # a is lower by 2 on every seed
    r = stats.paired(a, b)
    assert r.n == 10
    assert r.diff == pytest.approx(-2, abs=0.1)
    assert r.ci_high < 0 and r.ci_low < r.diff < r.ci_high
    assert r.p_t < 1e-6 and r.p_wilcoxon < 0.01
    assert r.effect < -5
    assert r.sign() == -1


def test_interval_matches_textbook_formula():
    d = np.array([1.0, 2.0, 3.0, 4.0])
    r = stats.paired(d, np.zeros(4))
    half = sps.t.ppf(0.975, 3) * d.std(ddof=1) / 2
    assert (r.ci_low, r.ci_high) == pytest.approx((2.5 - half, 2.5 + half))
    assert r.effect == pytest.approx(2.5 / d.std(ddof=1))


def test_no_difference_spans_zero():
    rng = np.random.default_rng(1)
    b = rng.normal(5, 1, 8)
    a = b + rng.normal(0, 0.5, 8) - 0.0
    a = a - (a - b).mean()  # exactly zero mean difference
    r = stats.paired(a, b)
    assert r.ci_low < 0 < r.ci_high
    assert r.p_t == pytest.approx(1.0)
    assert r.sign() == 0


def test_too_few_seeds_is_inconclusive():
    r = stats.paired([1.0], [5.0])
    assert r.n == 1 and math.isnan(r.ci_low) and r.sign() == 0
    assert Comparison("x", "m", LOWER, r, 0.01).verdict == INCONCLUSIVE


def test_nan_pairs_are_dropped():
    r = stats.paired([1.0, np.nan, 3.0, 4.0], [0.0, 1.0, np.nan, 3.0])
    assert r.n == 2 and r.diff == pytest.approx(1.0)


def test_holm_known_values():
    # sorted p: 0.01, 0.02, 0.04 -> 0.03, 0.04, 0.04 (monotone)
    assert stats.holm([0.04, 0.01, 0.02]) == pytest.approx([0.04, 0.03, 0.04])
    assert stats.holm([0.5, float("nan")])[0] == pytest.approx(0.5)
    assert stats.holm([0.3, 0.6]) == pytest.approx([0.6, 0.6])


def holm_corrected(*comparisons: Comparison) -> list[Comparison]:
    for comp, p in zip(comparisons, stats.holm(c.result.p_t for c in comparisons)):
        comp.p_holm = p
    return list(comparisons)


def test_holm_can_turn_significant_comparisons_inconclusive():
    b = np.zeros(6)
    first = stats.paired(np.array([-0.5, 0.1, -0.6, -0.2, -0.4, -0.3]), b)
    second = stats.paired(np.array([-0.5, 0.1, -0.6, -0.2, -0.4, -0.1]), b)
    assert first.p_t < 0.05 and second.p_t < 0.05 and first.ci_high < 0  # each significant alone
    both = holm_corrected(Comparison("a", "m", LOWER, first, 0.01), Comparison("b", "m", LOWER, second, 0.01))
    assert [c.p_holm for c in both] == pytest.approx([2 * first.p_t, 2 * first.p_t])
    assert [c.verdict for c in both] == [INCONCLUSIVE, INCONCLUSIVE]
    (alone,) = holm_corrected(Comparison("a", "m", LOWER, first, 0.01))
    assert alone.verdict == SUPPORTED


def test_contradiction_and_the_expectations_with_a_margin():
    b = np.zeros(5)
    (worse,) = holm_corrected(Comparison("c", "m", LOWER, stats.paired(b + [1.0, 1.1, 0.9, 1.0, 1.05], b), 0.01))
    assert worse.verdict == CONTRADICTED
    close = stats.paired(b + [0.001, -0.002, 0.0, 0.001, -0.001], b)
    far = stats.paired(b + [0.2, 0.21, 0.19, 0.2, 0.2], b)
    assert Comparison("e", "m", SAME, close, 0.01).verdict == SUPPORTED
    assert Comparison("e", "m", SAME, far, 0.01).verdict == CONTRADICTED
    (tiny,) = holm_corrected(Comparison("e", "m", HIGHER, close, 0.01))
    assert tiny.verdict == EQUIVALENT  # a claimed difference smaller than what matters
    better = stats.paired(b - [0.2, 0.21, 0.19, 0.2, 0.2], b)
    assert Comparison("n", "m", NOT_LOWER, close, 0.01).verdict == SUPPORTED
    assert Comparison("n", "m", NOT_LOWER, better, 0.01).verdict == CONTRADICTED


@pytest.mark.parametrize("shift", [0.002, 0.006])
def test_equivalence_agrees_with_scipys_two_one_sided_tests(shift):
    rng = np.random.default_rng(3)
    d = shift + 0.004 * rng.standard_normal(8)
    margin = 0.01
    lower = sps.ttest_1samp(d, -margin, alternative="greater").pvalue
    upper = sps.ttest_1samp(d, margin, alternative="less").pvalue
    r = stats.paired(d, np.zeros(8))
    inside = -margin <= r.ci_low and r.ci_high <= margin
    # The 95% interval inside the margin is TOST at 2.5% a side.
    assert inside == (max(lower, upper) < 0.025)
    assert Comparison("x", "m", LOWER, r, margin).verdict == (EQUIVALENT if inside else INCONCLUSIVE)


def test_seeds_needed_shrink_the_interval_to_what_settles_it():
    n = stats.seeds_needed(diff=0.004, sd=0.01, margin=0.01)
    half = sps.t.ppf(0.975, n - 1) * 0.01 / math.sqrt(n)
    before = sps.t.ppf(0.975, n - 2) * 0.01 / math.sqrt(n - 1)
    assert half < 0.006 <= before  # the interval fits inside the margin at n seeds, not at n - 1
    assert stats.seeds_needed(diff=0.0, sd=0.0, margin=0.01) == stats.MIN_IDENTICAL
    assert stats.seeds_needed(diff=0.01, sd=1.0, margin=0.01, cap=50) is None  # more than the cap


def test_constant_differences_are_exact():
    r = stats.paired([2.0, 3.0, 4.0], [1.0, 2.0, 3.0])
    assert (r.ci_low, r.ci_high, r.p_t) == (1.0, 1.0, 0.0) and r.sign() == 1


def test_identical_differences_need_three_seeds():
    two = stats.paired([2.0, 3.0], [1.0, 2.0])
    assert two.n == 2 and two.diff == 1.0 and math.isnan(two.p_t) and math.isnan(two.ci_low) and two.sign() == 0
    assert Comparison("c", "m", HIGHER, two, 0.01).verdict == INCONCLUSIVE
    (three,) = holm_corrected(Comparison("c", "m", HIGHER, stats.paired([2.0, 3.0, 4.0], [1.0, 2.0, 3.0]), 0.01))
    assert three.verdict == SUPPORTED
