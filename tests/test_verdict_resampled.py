"""Verdict error rates on real seeds: a finished 20-seed q1 run's paired differences (shipped in
``benchmarks/verdict_resampled/``), centred at each null and drawn again with replacement, through the procedure
of a ``--seeds auto`` run; 20,000 replications a comparison and null, the limit the nominal rate plus 3 Monte
Carlo errors."""

from __future__ import annotations

import pandas as pd
import pytest

from analysis.runs.read import read_run
from analysis.verdicts import claims
from tests.fakerun import q1_run
from tests.helpers import load_benchmark

REPS = 20_000


@pytest.fixture(scope="module")
def bench():
    return load_benchmark("verdict_resampled")


def test_export_writes_the_differences_the_verdicts_read(tmp_path, bench):
    run = q1_run(tmp_path / "run", seeds=4)
    frame = bench.export(str(run), tmp_path / "d.csv")
    assert list(pd.read_csv(tmp_path / "d.csv").columns) == bench.COLUMNS
    for result in claims.evaluate(read_run(run)):
        for comp in result.comparisons:
            rows = frame[(frame["claim"] == result.claim.key) & (frame["comparison"] == comp.label)]
            assert rows["difference"].tolist() == pytest.approx((comp.seeds["a"] - comp.seeds["b"]).tolist())
            assert rows["margin"].tolist() == pytest.approx([comp.margin] * len(rows))
            assert (rows["split"] == claims.split(result.claim)).all()


def test_the_wrong_verdicts_are_each_at_their_nulls():
    bench = load_benchmark("verdict_resampled")
    assert [(t, w) for _, t, w, _ in bench.nulls("lower", 1.0)] == [(0.0, "supported"), (0.0, "contradicted"),
                                                                     (-1.0, "equivalent")]
    assert [t for _, t, _, _ in bench.nulls("not lower", 1.0)] == [-1.0, -1.0]
    with pytest.raises(ValueError, match="unknown"):
        bench.nulls("bigger", 1.0)


# Over their limit on the real q1 seeds (benchmarks/RESULTS.md): one skewed distribution (the learning-speed
# differences of Adam against RMSprop, skewness -3.0), and three near it, within what resampling 20 Gaussian
# seeds gives by chance (``control``: 0.5% to 3.1% where Gaussian seeds give 1.8%).
OVER = {("cells_time", "lstm − gru", "supported"), ("cells_time", "gru − rnn", "supported"),
        ("mape_loss", "gru: mape − mse", "supported"), ("adam", "adam − rmsprop, learning speed", "equivalent")}


@pytest.fixture(scope="module")
def table(bench):
    frame = pd.read_csv(bench.DIFFERENCES)
    assert frame.groupby("comparison")["seed"].nunique().min() == 20  # a finished 20-seed run
    return bench.rates(frame, REPS)


def over_limit(bench, table) -> set[tuple[str, str, str]]:
    over = table[table["rate"] > bench.limit(table["nominal"], REPS)]
    return set(zip(over["claim"], over["comparison"], over["wrong"]))


@pytest.mark.xfail(strict=True, reason="the verdicts are about the mean difference of roughly Gaussian seeds: "
                                       "four of the 52 cases of real q1 seeds exceed their limit (OVER)")
def test_real_q1_seeds_resampled_keep_every_limit(bench, table):
    assert not over_limit(bench, table)


def test_real_q1_seeds_resampled_keep_every_other_limit(bench, table):
    assert over_limit(bench, table) <= OVER
    assert table["rate"].max() < 0.09 and len(table) == 52


def test_the_control_resamples_gaussian_seeds_near_their_rate(bench):
    noise = bench.control(REPS)
    assert len(noise) == 8 and 0.0 < min(noise) < 0.018 < max(noise) < 0.04
