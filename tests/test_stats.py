"""Paired statistics on constructed data with known answers."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats as sps

from analysis import stats
from analysis.claims import CONTRADICTED, INCONCLUSIVE, SUPPORTED, Claim, Comparison, finalize


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
    assert Comparison("x", -1, r).verdict == INCONCLUSIVE


def test_nan_pairs_are_dropped():
    r = stats.paired([1.0, np.nan, 3.0, 4.0], [0.0, 1.0, np.nan, 3.0])
    assert r.n == 2 and r.diff == pytest.approx(1.0)


def test_holm_known_values():
    # sorted p: 0.01, 0.02, 0.04 -> 0.03, 0.04, 0.04 (monotone)
    assert stats.holm([0.04, 0.01, 0.02]) == pytest.approx([0.04, 0.03, 0.04])
    assert stats.holm([0.5, float("nan")])[0] == pytest.approx(0.5)
    assert stats.holm([0.3, 0.6]) == pytest.approx([0.6, 0.6])


def test_holm_can_turn_significant_comparisons_inconclusive():
    b = np.zeros(6)
    first = stats.paired(np.array([-0.5, 0.1, -0.6, -0.2, -0.4, -0.3]), b)
    second = stats.paired(np.array([-0.5, 0.1, -0.6, -0.2, -0.4, -0.1]), b)
    assert first.p_t < 0.05 and second.p_t < 0.05 and first.ci_high < 0  # each significant alone
    claim = finalize(Claim("q1", "k", "t", [Comparison("a", -1, first), Comparison("b", -1, second)]))
    assert [c.p_holm for c in claim.comparisons] == pytest.approx([2 * first.p_t, 2 * first.p_t])
    assert [c.verdict for c in claim.comparisons] == [INCONCLUSIVE, INCONCLUSIVE]
    alone = finalize(Claim("q1", "k", "t", [Comparison("a", -1, first)]))
    assert alone.verdict == SUPPORTED


def test_contradiction_and_equivalence():
    b = np.zeros(5)
    worse = finalize(Claim("q", "k", "t", [Comparison("c", -1, stats.paired(b + [1.0, 1.1, 0.9, 1.0, 1.05], b))]))
    assert worse.verdict == CONTRADICTED
    close = Comparison("e", 0, stats.paired(b + [0.001, -0.002, 0.0, 0.001, -0.001], b), margin=0.01)
    far = Comparison("e", 0, stats.paired(b + [0.2, 0.21, 0.19, 0.2, 0.2], b), margin=0.01)
    assert close.verdict == SUPPORTED and far.verdict == CONTRADICTED


def test_pair_frames_matches_on_seed_not_order():
    rows = pd.DataFrame({"f": ["a", "a", "b", "b"], "seed": [1, 0, 0, 1], "m": [11.0, 10.0, 0.0, 1.0]})
    left, right = stats.pair_frames(rows, "f", "a", "b", "m", ["seed"])
    assert list(left - right) == [10.0, 10.0]


def test_constant_differences_are_exact():
    r = stats.paired([2.0, 3.0, 4.0], [1.0, 2.0, 3.0])
    assert (r.ci_low, r.ci_high, r.p_t) == (1.0, 1.0, 0.0) and r.sign() == 1


def test_identical_differences_need_three_seeds():
    two = stats.paired([2.0, 3.0], [1.0, 2.0])
    assert two.n == 2 and two.diff == 1.0 and math.isnan(two.p_t) and math.isnan(two.ci_low) and two.sign() == 0
    assert finalize(Claim("q", "k", "t", [Comparison("c", +1, two)])).verdict == INCONCLUSIVE
    assert finalize(Claim("q", "k", "t", [Comparison("c", +1, stats.paired([2.0, 3.0, 4.0], [1.0, 2.0, 3.0]))])).verdict \
        == SUPPORTED


def test_pair_frames_averages_blocks_within_each_seed():
    rows = pd.DataFrame({"f": ["a"] * 4 + ["b"] * 4, "seed": [0, 0, 1, 1] * 2, "cell": ["x", "y"] * 4,
                         "m": [1.0, 3.0, 5.0, 7.0, 0.0, 0.0, 1.0, 1.0]})
    left, right = stats.pair_frames(rows, "f", "a", "b", "m", ["cell", "seed"], unit="seed")
    assert left.to_dict() == {0: 2.0, 1: 6.0} and right.to_dict() == {0: 0.0, 1: 1.0}
    # A block present on one side only is left out of both sides' means.
    partial = rows.drop(index=7)  # b, seed 1, cell y
    left, right = stats.pair_frames(partial, "f", "a", "b", "m", ["cell", "seed"], unit="seed")
    assert left.to_dict() == {0: 2.0, 1: 5.0} and right.to_dict() == {0: 0.0, 1: 1.0}
    # Without a seed column the run is one seed.
    left, right = stats.pair_frames(rows.drop(columns="seed"), "f", "a", "b", "m", ["cell"], unit="seed")
    assert len(left) == len(right) == 1 and left.iloc[0] == 4.0
