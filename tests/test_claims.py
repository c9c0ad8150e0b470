"""Each claim's verdict on synthetic trial tables built to support, contradict or leave it open."""

from __future__ import annotations

import numpy as np
import pytest
from fakerun import frames, q1_grid

from analysis import claims_q1, claims_q2, claims_q3
from analysis.claims import (
    CONTRADICTED,
    INCONCLUSIVE,
    NOT_RUN,
    SUPPORTED,
    evaluate_study,
    paired_by_seed,
    to_markdown,
)

# q1 ----------------------------------------------------------------------------------------------

AS_REPORTED = {
    ("cell", "gru"): -0.6, ("cell", "lstm"): -0.3,
    ("time", "lstm"): 8, ("time", "gru"): 4,
    (("loss", "mape"), "gru"): 0.3, (("loss", "mape"), "lstm"): 0.3, (("loss", "mape"), "rnn"): 0.8,
    ("optimizer", "adagrad"): 0.5, ("optimizer", "rmsprop"): 0.4, ("speed", "adagrad"): 1.0, ("speed", "rmsprop"): 1.0,
    (("dropout", 0.1), "lstm"): 0.3, (("dropout", 0.1), "gru"): 0.3, (("dropout", 0.1), "rnn"): -0.3,
    ("formulation", "paper"): 0.5,
}
REVERSED = {k: -v for k, v in AS_REPORTED.items()}


def verdicts(claims) -> dict[str, str]:
    return {c.key: c.verdict for c in claims}


def test_q1_claims_supported_when_built_as_reported():
    got = verdicts(claims_q1.evaluate(q1_grid(AS_REPORTED)))
    expected = {k: SUPPORTED for k in claims_q1.CLAIMS}
    expected["persistence"] = CONTRADICTED  # every trial's MAPE ~1.4-2.6 against persistence 1.5; best is 1.1..
    assert {k: v for k, v in got.items() if k != "persistence"} == {k: v for k, v in expected.items() if k != "persistence"}


def test_q1_claims_contradicted_when_reversed():
    got = verdicts(claims_q1.evaluate(q1_grid(REVERSED)))
    assert got == {"cells_accuracy": CONTRADICTED, "cells_time": CONTRADICTED, "mape_loss": CONTRADICTED,
                   "adam": CONTRADICTED, "dropout": CONTRADICTED, "formulation": CONTRADICTED,
                   "persistence": got["persistence"]}


def test_q1_claims_inconclusive_without_effects_or_with_one_seed():
    no_effect = verdicts(claims_q1.evaluate(q1_grid({}, noise=0.5, rng_seed=1)))
    for key in ("cells_accuracy", "mape_loss", "dropout"):
        assert no_effect[key] == INCONCLUSIVE
    one_seed = claims_q1.evaluate(q1_grid(AS_REPORTED, seeds=1))
    # Adam is compared over the three cells, but they are blocks of one seed, not three samples.
    assert verdicts(one_seed) == {k: INCONCLUSIVE for k in claims_q1.CLAIMS}
    assert {comp.result.n for c in one_seed for comp in c.comparisons} == {1}


def test_q1_n_is_the_number_of_seeds_and_blocks_are_averaged_within_a_seed():
    results = q1_grid(AS_REPORTED, seeds=4)
    adam = {c.key: c for c in claims_q1.evaluate(results)}["adam"]
    vs_adagrad = adam.comparisons[0]
    assert vs_adagrad.label == "adam − adagrad, test/mape" and vs_adagrad.result.n == 4
    t = results.trials
    ref = t[(t["config/loss"] == "mse") & (t["config/dropout"] == 0.0) & (t["config/formulation"] == "returns")]
    per_seed = ref.groupby(["config/optimizer", "config/seed"])["test/mape"].mean()  # mean over the cells
    diffs = per_seed["adam"] - per_seed["adagrad"]
    assert vs_adagrad.result.diff == pytest.approx(diffs.mean())
    assert vs_adagrad.result.ci_high - vs_adagrad.result.ci_low == pytest.approx(
        2 * 3.182446305284263 * diffs.std(ddof=1) / 2)  # t(0.975, 3) * sd / sqrt(4)
    assert "averaged over those settings within each seed" in to_markdown(claims_q1.evaluate(results))


def cells_rows(mapes: dict[str, list[float]]) -> list[dict]:
    return [{"config": {"cell": cell, "loss": "mse", "optimizer": "adam", "dropout": 0.0, "seed": seed},
             "test/mape": v, "val/mape": v, "time/total_s": 1.0, "baseline/persistence/test/mape": 5.0}
            for cell, values in mapes.items() for seed, v in enumerate(values)]


def test_identical_differences_from_two_seeds_are_inconclusive_from_three_exact():
    two = {c.key: c for c in claims_q1.evaluate(frames(cells_rows({"rnn": [3.0, 3.5], "lstm": [2.0, 2.5],
                                                                      "gru": [1.0, 1.5]})))}
    assert two["cells_accuracy"].verdict == INCONCLUSIVE
    assert [comp.result.n for comp in two["cells_accuracy"].comparisons] == [2, 2]
    assert "identical differences" in two["cells_accuracy"].comparisons[0].evidence()
    three = verdicts(claims_q1.evaluate(frames(cells_rows({"rnn": [3.0, 3.5, 3.2], "lstm": [2.0, 2.5, 2.2],
                                                             "gru": [1.0, 1.5, 1.2]}))))
    assert three["cells_accuracy"] == SUPPORTED


def test_q1_persistence_claim_uses_the_validation_choice():
    results = q1_grid({("cell", "gru"): -1.0}, noise=0.02)  # gru ~1.0 < persistence 1.5
    claim = {c.key: c for c in claims_q1.evaluate(results)}["persistence"]
    assert claim.verdict == SUPPORTED
    assert "cell=gru" in claim.comparisons[0].label
    assert claim.comparisons[0].result.diff == pytest.approx(-0.5, abs=0.05)


def test_q1_smoke_grid_has_not_run_claims():
    # A smoke run varies only the cell: the other sections have nothing to compare.
    rows = [{"config": {"cell": c, "loss": "mse", "optimizer": "adam", "dropout": 0.0, "seed": 0},
             "test/mape": 2.0, "val/mape": 2.0, "time/total_s": 1.0, "baseline/persistence/test/mape": 1.5}
            for c in ("rnn", "lstm", "gru")]
    got = verdicts(claims_q1.evaluate(frames(rows)))
    assert got["mape_loss"] == NOT_RUN and got["adam"] == NOT_RUN and got["dropout"] == NOT_RUN
    assert got["cells_accuracy"] == INCONCLUSIVE  # one seed


# q3 ----------------------------------------------------------------------------------------------

def q3_results(hate_gain=0.05, t5_gap=-0.2, tfidf=0.6, seeds=5):
    rng = np.random.default_rng(1)
    rows = []
    models = [("encoder_lstm", "GroNLP/hateBERT", hate_gain), ("encoder_lstm", "bert-base-uncased", 0.0),
              ("t5", "t5-small", t5_gap)]
    for model_type, encoder, gain in models:
        for seed in range(seeds):
            noise = 0.005 * rng.standard_normal(3)
            rows.append({"config": {"model_type": model_type, "encoder": encoder, "mode": "frozen", "seed": seed},
                         "test/macro_f1": 0.55 + gain + noise[0], "test/f1/hate": 0.3 + gain + noise[1],
                         "test/f1/neither": 0.8 + gain + noise[2], "baseline/tfidf/test/macro_f1": tfidf})
    return frames(rows)


def test_q3_claims_supported():
    assert verdicts(claims_q3.evaluate(q3_results(tfidf=0.5))) == {k: SUPPORTED for k in claims_q3.CLAIMS}


def test_q3_claims_contradicted():
    got = verdicts(claims_q3.evaluate(q3_results(hate_gain=-0.05, t5_gap=0.2, tfidf=0.77)))
    assert got == {k: CONTRADICTED for k in claims_q3.CLAIMS}


def test_q3_hatebert_detected_case_insensitively_and_inconclusive_with_one_seed():
    got = verdicts(claims_q3.evaluate(q3_results(seeds=1)))
    assert set(got.values()) == {INCONCLUSIVE}


def test_unrun_studies_are_listed_not_dropped():
    claims = evaluate_study("q2", None) + evaluate_study("q3", None)
    assert len(claims) == len(claims_q2.CLAIMS) + len(claims_q3.CLAIMS)
    assert {c.verdict for c in claims} == {NOT_RUN}
    md = to_markdown(claims)
    assert md.count("**not run**") >= len(claims) and "no q2 run given" in md


def test_pairs_made_outside_compare_count_seeds_not_pairs():
    # Two batch sizes per seed: four pairs, two seeds.
    r = paired_by_seed([0, 0, 1, 1], [1.0, 3.0, 2.0, 6.0], [0.0, 0.0, 1.0, 1.0])
    assert r.n == 2 and (r.mean_a, r.mean_b) == (3.0, 0.5) and r.diff == 2.5
