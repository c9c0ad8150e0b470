"""Each claim's verdict on synthetic trial tables built to support, contradict or leave it open."""

from __future__ import annotations

import numpy as np
import pytest
from fakerun import frames, q1_grid

from analysis import claims_q1, claims_q2, claims_q3
from analysis.claims import CONTRADICTED, INCONCLUSIVE, NOT_RUN, SUPPORTED, evaluate_study, to_markdown

# q1 ----------------------------------------------------------------------------------------------

AS_REPORTED = {
    ("cell", "gru"): -0.6, ("cell", "lstm"): -0.3,
    ("time", "lstm"): 8, ("time", "gru"): 4,
    (("loss", "mape"), "gru"): 0.3, (("loss", "mape"), "lstm"): 0.3, (("loss", "mape"), "rnn"): 0.8,
    ("optimizer", "adagrad"): 0.5, ("optimizer", "rmsprop"): 0.4, ("speed", "adagrad"): 1.0, ("speed", "rmsprop"): 1.0,
    (("dropout", 0.1), "lstm"): 0.3, (("dropout", 0.1), "gru"): 0.3, (("dropout", 0.1), "rnn"): -0.3,
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
                   "adam": CONTRADICTED, "dropout": CONTRADICTED, "persistence": got["persistence"]}


def test_q1_claims_inconclusive_without_effects_or_with_one_seed():
    no_effect = verdicts(claims_q1.evaluate(q1_grid({}, noise=0.5)))
    for key in ("cells_accuracy", "mape_loss", "dropout"):
        assert no_effect[key] == INCONCLUSIVE
    one_seed = verdicts(claims_q1.evaluate(q1_grid(AS_REPORTED, seeds=1)))
    # Adam is compared across the three cells, so one seed still gives three pairs; the rest have one.
    assert {k: v for k, v in one_seed.items() if k != "adam"} == {k: INCONCLUSIVE for k in claims_q1.CLAIMS if k != "adam"}


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
