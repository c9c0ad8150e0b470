"""q2's claims on synthetic trial tables built to support, contradict or leave them open."""

from __future__ import annotations

import numpy as np
import pytest
from fakerun import frames

from analysis import claims_q2
from analysis.claims import CONTRADICTED, NOT_RUN, SUPPORTED


def verdicts(claims) -> dict[str, str]:
    return {c.key: c.verdict for c in claims}


def q2_results(ce=1.5, mse=2.5, mae=3.3, batch_gain=0.1, mae_acc=0.15, majority=0.15, seq_gain=0.3, seeds=5,
               steps_per_epoch=25):
    """Batch 128 ends ``batch_gain`` higher, at every amount of text seen (its curve is the 64 curve, shifted)."""
    rng = np.random.default_rng(0)
    rows, hist = [], []
    n = 0
    for loss, level in (("ce", ce), ("mse", mse), ("mae", mae)):
        for batch in (64, 128):
            for form in ("paper", "sequence"):
                for seed in range(seeds):
                    tid = f"t{n}"
                    n += 1
                    end = level + (0 if batch == 64 else batch_gain) - (seq_gain if form == "sequence" else 0)
                    end += 0.02 * rng.standard_normal()
                    acc = mae_acc + 0.002 * rng.standard_normal() if loss == "mae" else 0.5
                    cfg = {"loss": loss, "batch_size": batch, "formulation": form, "seed": seed,
                           "steps_per_epoch": steps_per_epoch}
                    rows.append({"trial_id": tid, "config": cfg, "val/loss": end, "test/loss": end + 0.05,
                                 "val/acc": acc, "test/acc": acc, "baseline/majority/test/acc": majority,
                                 "time/total_s": 40.0})
                    for epoch in range(1, 41):
                        # sequence runs are slower per epoch here: equal compute must use time, not epochs
                        seconds = epoch * (1.0 if form == "paper" else 2.0)
                        hist.append({"trial_id": tid, "epoch": epoch, "training_iteration": epoch,
                                     "val/loss": end + (40 - epoch) * 0.01, "time/total_s": seconds,
                                     "train/steps": epoch * 25, "train/chars": epoch * 25 * 100 * batch})
    return frames(rows, hist)


def test_q2_claims_supported():
    got = verdicts(claims_q2.evaluate(q2_results()))
    assert got == {k: SUPPORTED for k in claims_q2.CLAIMS}


def test_q2_claims_contradicted():
    got = verdicts(claims_q2.evaluate(q2_results(ce=3.0, mse=2.5, mae=2.0, batch_gain=-0.5, mae_acc=0.4,
                                                 seq_gain=-0.5)))
    assert got == {k: CONTRADICTED for k in claims_q2.CLAIMS}


def test_q2_equal_compute_compares_at_the_same_time():
    # sequence runs take 2 s an epoch: at the paper runs' 40 s they are at epoch 20, loss higher by 0.2
    claim = {c.key: c for c in claims_q2.evaluate(q2_results(seq_gain=0.1))}["formulation"]
    assert claim.comparisons[0].result.diff == pytest.approx(-0.1 + 0.2, abs=0.02)
    assert claim.verdict == CONTRADICTED


def test_q2_batch_claim_compares_at_equal_text_and_updates_and_epochs_only_when_they_are_passes():
    rounds = {c.key: c for c in claims_q2.evaluate(q2_results())}["batch"]
    assert [c.label for c in rounds.comparisons] == ["64 − 128, val/loss at equal characters seen",
                                                     "64 − 128, val/loss at equal updates"]
    # equal characters: batch 128 at round 20 (0.2 above its end) against 64 at round 40
    assert rounds.comparisons[0].result.diff == pytest.approx(-0.1 - 0.2, abs=0.02)
    assert rounds.comparisons[1].result.diff == pytest.approx(-0.1, abs=0.02)
    passes = {c.key: c for c in claims_q2.evaluate(q2_results(steps_per_epoch=0))}["batch"]
    assert [c.label.split(",")[1].strip() for c in passes.comparisons][:2] == ["val/loss@epoch20", "val/loss@epoch40"]
    assert len(passes.comparisons) == 4


def test_q2_losses_are_judged_on_the_test_part():
    claim = {c.key: c for c in claims_q2.evaluate(q2_results())}["losses"]
    assert all("test/loss" in c.label for c in claim.comparisons)


def test_q2_missing_columns_not_run():
    got = verdicts(claims_q2.evaluate(frames([{"config": {"loss": "ce", "seed": 0}, "val/loss": 1.0}])))
    assert set(got.values()) == {NOT_RUN}
