"""Each claim's verdict on synthetic runs built to support, contradict, settle as equivalent or leave it open."""

from __future__ import annotations

import numpy as np
import pytest
from fakerun import run_of

from analysis.verdicts import claims as C
from trainables.chargen.task import TASK as CHARGEN
from trainables.stock.paper import PAPER as Q1
from trainables.tweets.task import TASK as TWEETS

PERSISTENCE = 1.5  # the margin of q1's accuracy claims is 1% of it: 0.015
PERSISTENCE_VAL = 1.2  # on the validation days: the margin of the learning-speed comparisons is 0.012
AS_REPORTED = {
    ("cell", "gru"): -0.6, ("cell", "lstm"): -0.3, ("time", "lstm"): 8, ("time", "gru"): 4,
    (("loss", "mape"), "gru"): 0.3, (("loss", "mape"), "lstm"): 0.3, (("loss", "mape"), "rnn"): 0.8,
    ("optimizer", "adagrad"): 0.5, ("optimizer", "rmsprop"): 0.4, ("speed", "adagrad"): 1.0, ("speed", "rmsprop"): 1.0,
    (("dropout", 0.1), "lstm"): 0.3, (("dropout", 0.1), "gru"): 0.3, (("dropout", 0.1), "rnn"): -0.3,
    ("formulation", "paper"): 0.5,
}


def q1_design(effects: dict, seeds: int = 5, noise: float = 0.05, rng_seed: int = 0, base: float = 2.0):
    """The paper design's 18 arms x ``seeds``: test/mape = base + effects + noise; validation curves for speed."""
    rng = np.random.default_rng(rng_seed)
    rows, history = [], []
    for seed in range(seeds):
        for n, arm in enumerate(Q1.one_at_a_time()):
            cell = arm["cell"]
            mape = base + effects.get(("cell", cell), 0) + effects.get(("optimizer", arm["optimizer"]), 0)
            mape += effects.get(("formulation", arm["formulation"]), 0)
            mape += effects.get((("loss", arm["loss"]), cell), 0) + effects.get((("dropout", arm["dropout"]), cell), 0)
            mape += noise * rng.standard_normal()
            tid = f"s{seed}a{n}"
            rows.append({"trial_id": tid, "config": {**arm, "seed": seed}, "test/mape": mape, "val/mape": mape,
                         "time/total_s": 10 * (10 + effects.get(("time", cell), 0) + rng.standard_normal() * noise),
                         "epochs_run": 10, "baseline/persistence/test/mape": PERSISTENCE,
                         "baseline/persistence/val/mape": PERSISTENCE_VAL})
            speed = effects.get(("speed", arm["optimizer"]), 0)
            history += [{"trial_id": tid, "epoch": e, "training_iteration": e, "val/mape": mape + (3 - e) * (1 + speed)}
                        for e in (1, 2, 3)]
    return run_of(rows, history=history)


def verdicts(results) -> dict[str, str]:
    return {r.claim.key: r.verdict for r in results}


def persistence_comparison(results):
    return {r.claim.key: r for r in results}["persistence"].comparisons[0]


def test_q1_claims_supported_when_built_as_reported():
    results = C.evaluate(q1_design(AS_REPORTED))
    assert verdicts(results) == {k: C.SUPPORTED for k in verdicts(results)}
    # The best setting on validation is gru at the reference: 2 - 0.6 = 1.4, below persistence's 1.5.
    assert persistence_comparison(results).result.mean_a == pytest.approx(1.4, abs=0.03)


def test_q1_claims_contradicted_when_reversed():
    results = C.evaluate(q1_design({k: -v for k, v in AS_REPORTED.items()}))
    assert verdicts(results) == {"cells_accuracy": C.CONTRADICTED, "cells_time": C.CONTRADICTED,
                                 "mape_loss": C.CONTRADICTED, "adam": C.CONTRADICTED, "dropout": C.CONTRADICTED,
                                 "formulation": C.CONTRADICTED, "persistence": C.SUPPORTED}
    # Reversed, the best is the rnn with MAPE loss: 2 - 0.8 = 1.2, still below persistence's 1.5.
    comp = persistence_comparison(results)
    assert "cell=rnn" in comp.label and "loss=mape" in comp.label and comp.result.mean_a == pytest.approx(1.2, abs=0.03)


def test_a_network_better_than_persistence_by_more_than_the_margin_is_supported():
    results = {r.claim.key: r for r in C.evaluate(q1_design({("cell", "gru"): -1.0}, noise=0.02))}
    persistence = results["persistence"]
    assert persistence.verdict == C.SUPPORTED and "cell=gru" in persistence.comparisons[0].label
    assert persistence.comparisons[0].result.diff == pytest.approx(1.0 - PERSISTENCE, abs=0.02)


def test_a_tiny_real_difference_with_a_tight_interval_is_equivalent():
    # gru 0.002 better than lstm on every seed, noise 0.001: the interval sits inside ±0.015.
    results = {r.claim.key: r for r in C.evaluate(q1_design({("cell", "gru"): -0.002, ("cell", "lstm"): 0.0,
                                                              ("cell", "rnn"): 0.5}, noise=0.001))}
    first = results["cells_accuracy"].comparisons[0]
    assert first.verdict == C.EQUIVALENT and first.margin == pytest.approx(0.015)
    assert results["cells_accuracy"].verdict == C.EQUIVALENT  # lstm < rnn supported, gru ≈ lstm
    sentence = C.sentence(results["cells_accuracy"])
    assert "no difference larger than 1% of the persistence forecast's test MAPE" in sentence


def test_the_same_difference_with_a_wide_interval_is_inconclusive_with_the_seeds_that_would_settle_it():
    results = {r.claim.key: r for r in C.evaluate(q1_design({("cell", "gru"): -0.002, ("cell", "rnn"): 0.5},
                                                             noise=0.03, seeds=5))}
    first = results["cells_accuracy"].comparisons[0]
    assert first.verdict == C.INCONCLUSIVE
    sd = float(np.std(first.seeds["a"] - first.seeds["b"], ddof=1))
    needed = first.seeds_needed
    assert needed is not None and needed > 5
    # With that many seeds the interval's half-width would fit inside the margin around the observed mean.
    from scipy import stats

    half = stats.t.ppf(0.975, needed - 1) * sd / np.sqrt(needed)
    assert half < 0.015 - abs(first.result.diff) or half < abs(first.result.diff)
    assert f"about {results['cells_accuracy'].seeds_needed} seeds would settle it" in C.sentence(
        results["cells_accuracy"])


def test_one_seed_is_inconclusive_and_n_counts_seeds_not_blocks():
    one = C.evaluate(q1_design(AS_REPORTED, seeds=1))
    assert {r.verdict for r in one} == {C.INCONCLUSIVE}
    adam = {r.claim.key: r for r in C.evaluate(q1_design(AS_REPORTED, seeds=4))}["adam"]
    assert [c.result.n for c in adam.comparisons] == [4, 4, 4, 4]  # three cells averaged within each seed


def test_the_learning_speed_margin_is_taken_from_the_period_of_its_curves():
    adam = {r.claim.key: r for r in C.evaluate(q1_design(AS_REPORTED, seeds=4))}["adam"]
    assert [c.margin for c in adam.comparisons] == pytest.approx([0.015, 0.015, 0.012, 0.012])
    assert "validation MAPE" in adam.margin_text and "test MAPE" in adam.margin_text


def test_blocks_are_averaged_within_each_seed():
    run = q1_design(AS_REPORTED, seeds=4)
    vs_adagrad = {r.claim.key: r for r in C.evaluate(run)}["adam"].comparisons[0]
    t = run.trials
    ref = t[(t["config/loss"] == "mse") & (t["config/dropout"] == 0.0) & (t["config/formulation"] == "returns")]
    per_seed = ref.groupby(["config/optimizer", "config/seed"])["test/mape"].mean()
    assert vs_adagrad.result.diff == pytest.approx((per_seed["adam"] - per_seed["adagrad"]).mean())


def test_claims_without_their_arms_are_not_run():
    rows = [{"config": {"cell": c, "loss": "mse", "optimizer": "adam", "dropout": 0.0, "seed": 0},
             "test/mape": 2.0, "val/mape": 2.0, "time/total_s": 1.0, "baseline/persistence/test/mape": 1.5}
            for c in ("rnn", "lstm", "gru")]
    got = {r.claim.key: r for r in C.evaluate(run_of(rows))}
    assert got["mape_loss"].verdict == C.NOT_RUN and "loss = mape and mse" in got["mape_loss"].missing
    assert got["cells_accuracy"].verdict == C.INCONCLUSIVE


# q2 ----------------------------------------------------------------------------------------------

def q2_design(ce=1.5, mse=2.5, mae=3.3, batch_gain=0.1, mae_acc=0.15, majority=0.15, seq_gain=0.3, seeds=5):
    """Batch 128 ends ``batch_gain`` higher at every amount of text seen; sequence runs take 2 s an epoch."""
    from trainables.chargen.paper import PAPER

    rng = np.random.default_rng(0)
    rows, hist = [], []
    for seed in range(seeds):
        for n, arm in enumerate(PAPER.one_at_a_time()):
            level = {"ce": ce, "mse": mse, "mae": mae}[arm["loss"]]
            end = level + (batch_gain if arm["batch_size"] == 128 else 0) - (seq_gain if arm["formulation"] ==
                                                                             "sequence" else 0)
            end += 0.02 * rng.standard_normal()
            acc = mae_acc + 0.002 * rng.standard_normal() if arm["loss"] == "mae" else 0.5
            tid = f"s{seed}a{n}"
            rows.append({"trial_id": tid, "config": {**arm, "seed": seed}, "val/loss": end, "test/loss": end + 0.05,
                         "test/acc": acc, "baseline/majority/test/acc": majority})
            step = 2.0 if arm["formulation"] == "sequence" else 1.0
            hist += [{"trial_id": tid, "epoch": e, "val/loss": end + (40 - e) * 0.01, "time/total_s": e * step,
                      "train/steps": e * 25, "train/chars": e * 25 * 100 * arm["batch_size"]} for e in range(1, 41)]
    return run_of(rows, CHARGEN, hist)


def test_q2_claims_supported_and_contradicted():
    assert set(verdicts(C.evaluate(q2_design())).values()) == {C.SUPPORTED}
    got = verdicts(C.evaluate(q2_design(ce=3.0, mse=2.5, mae=2.0, batch_gain=-0.5, mae_acc=0.4, seq_gain=-0.5)))
    assert set(got.values()) == {C.CONTRADICTED}


def test_q2_equal_compute_compares_at_the_same_time():
    # At the paper runs' 40 s the sequence runs are at epoch 20: 0.2 higher on the curve.
    formulation = {r.claim.key: r for r in C.evaluate(q2_design(seq_gain=0.1))}["formulation"]
    assert formulation.comparisons[0].result.diff == pytest.approx(-0.1 + 0.2, abs=0.02)


# q3 ----------------------------------------------------------------------------------------------

def q3_design(hate_gain=0.05, t5_gap=-0.2, tfidf=0.6, seeds=5):
    rng = np.random.default_rng(1)
    rows = []
    for encoder, model_type, gain in (("GroNLP/hateBERT", "encoder_lstm", hate_gain),
                                      ("bert-base-uncased", "encoder_lstm", 0.0), ("t5-small", "t5", t5_gap)):
        for seed in range(seeds):
            noise = 0.005 * rng.standard_normal(3)
            macro = 0.55 + gain + noise[0]
            rows.append({"config": {"model_type": model_type, "encoder": encoder, "seed": seed, "split_seed": seed},
                         "val/macro_f1": macro, "test/macro_f1": macro, "test/f1/hate": 0.3 + gain + noise[1],
                         "test/f1/neither": 0.8 + gain + noise[2], "baseline/tfidf/test/macro_f1": tfidf,
                         "test/tuned/macro_f1": macro + 0.02, "baseline/tfidf/test/tuned/macro_f1": tfidf})
    return run_of(rows, TWEETS)


def test_q3_claims_by_family():
    got = verdicts(C.evaluate(q3_design(tfidf=0.5)))
    assert got == {"hatebert": C.SUPPORTED, "t5_worst": C.SUPPORTED, "tfidf": C.SUPPORTED,
                   "network_vs_tfidf": C.SUPPORTED}
    got = verdicts(C.evaluate(q3_design(hate_gain=-0.05, t5_gap=0.2, tfidf=0.77)))
    assert got == {k: C.CONTRADICTED for k in got}


def test_q3_the_offline_minilm_is_not_counted_as_bert():
    rows = [{"config": {"model_type": "encoder_lstm", "encoder": "offline-minilm", "seed": s, "split_seed": s},
             "val/macro_f1": 0.7, "test/macro_f1": 0.7, "test/f1/hate": 0.3, "test/f1/neither": 0.8,
             "baseline/tfidf/test/macro_f1": 0.6, "test/tuned/macro_f1": 0.7,
             "baseline/tfidf/test/tuned/macro_f1": 0.6} for s in range(3)]
    got = {r.claim.key: r for r in C.evaluate(run_of(rows, TWEETS))}
    assert got["tfidf"].verdict == C.NOT_RUN  # no BERT and no HateBERT trials
    assert got["network_vs_tfidf"].verdict == C.SUPPORTED  # the MiniLM network, chosen on validation
