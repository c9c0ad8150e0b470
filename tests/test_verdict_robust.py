"""The robust candidates of ``benchmarks/verdict_robust.py`` compute what they say: Yuen's statistic, pairwise
averages, and discrete cuts that spend the error as the sign test's exact null says."""

from __future__ import annotations

import numpy as np
import pytest

from analysis.verdicts import sequential
from tests.helpers import load_benchmark


@pytest.fixture(scope="module")
def bench():
    return load_benchmark("verdict_robust")


def sign_counts(bench, null):
    out = np.empty((len(null), bench.LOOKS.size), dtype=np.int32)
    for j, n in enumerate(bench.LOOKS):
        above = np.count_nonzero(null[:, :n] > 0, axis=1)
        out[:, j] = np.minimum(above, n - above)
    return out


def test_sign_test_cuts_open_where_one_sign_throughout_fits_the_error_spent(bench):
    """All n differences of one sign has chance 2^(1 - n) under the null: the first look that can decide is the
    first whose spent error covers it (7 seeds at 95%, 6 at 90%, with Pocock-type spending to 20)."""
    counts = sign_counts(bench, np.random.default_rng(0).standard_normal((100_000, bench.SCHEDULE.cap)))
    for alpha in (sequential.WIDEST / 2, sequential.WIDEST):
        exact = next(n for n in bench.LOOKS if 2.0 ** (1 - n) <= sequential.spent(n / bench.SCHEDULE.cap, alpha))
        cut = bench.cuts(counts, alpha)
        assert bench.LOOKS[np.argmax(cut >= 0)] == exact
        assert (np.diff(cut) >= 0).all() and cut[-1] >= 3
    assert exact == 6


def test_yuen_is_the_t_statistic_until_a_seed_is_trimmed(bench):
    d = np.random.default_rng(1).normal(size=(5, bench.SCHEDULE.cap))
    est, se = bench.yuen(d)
    assert est[:, :2] == pytest.approx(np.stack([d[:, :3].mean(1), d[:, :4].mean(1)], 1))
    assert se[:, 0] == pytest.approx(d[:, :3].std(1, ddof=1) / np.sqrt(3))
    at_20 = np.sort(d, axis=1)[:, 4:16].mean(1)  # 20% of 20: four seeds off each end
    assert est[:, -1] == pytest.approx(at_20)


def test_pairwise_averages_and_targets(bench):
    x = np.array([[0.0, 1.0, 4.0]])
    assert bench.walsh(x).tolist() == [[0.0, 0.5, 1.0, 2.0, 2.5, 4.0]]
    symmetric = np.array([-3.0, -1.0, 0.0, 1.0, 3.0]) + 2.0
    assert [bench.target(name, symmetric) for name in ("mean", "trimmed", "pseudo-median", "median")] == \
        pytest.approx([2.0] * 4)
    assert bench.target("median", np.array([0.0, 0.0, 9.0])) == 0.0
