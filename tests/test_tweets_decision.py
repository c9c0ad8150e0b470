"""The decision rule chosen on validation: offsets recovered from scores where the right ones are known."""

from __future__ import annotations

import numpy as np
import pytest

from trainables.common import metrics as M
from trainables.tweets.baselines import classification_metrics, tuned_metrics
from trainables.tweets.decision import GRID, fit_offsets, macro_f1, predict

CLASSES = ("hate", "offensive", "neither")


def calibrated(n: int, seed: int, min_margin: float = 0.25) -> tuple[np.ndarray, np.ndarray]:
    """Scores whose argmax is always right: the true class leads every other by at least ``min_margin``."""
    rng = np.random.default_rng(seed)
    y = rng.choice(3, size=n, p=[0.1, 0.6, 0.3])
    scores = rng.normal(size=(n, 3))
    others = np.where(np.eye(3, dtype=bool)[y], -np.inf, scores).max(axis=1)
    scores[np.arange(n), y] = others + rng.uniform(min_margin, 2.0, size=n)
    return scores, y


def test_a_known_shift_of_one_class_is_undone():
    """The model underrates hate by exactly 1.0. Every true class leads by at least 0.25, so a hate
    offset in (0.75, 1.25) makes every prediction right and no other does; the rule takes the grid
    value nearest 0 among those, 0.8, and leaves the others at 0 (offensive, the majority, is fixed)."""
    scores, y = calibrated(600, seed=0)
    shift = np.array([-1.0, 0.0, 0.0])
    assert macro_f1(y, predict(scores + shift, np.zeros(3)), 3) < 0.9  # argmax misses hate
    offsets = fit_offsets(scores + shift, y)
    assert offsets.tolist() == pytest.approx([0.8, 0.0, 0.0])
    test_scores, test_y = calibrated(400, seed=1)  # the same model on other tweets
    assert macro_f1(test_y, predict(test_scores + shift, offsets), 3) == 1.0


def test_two_shifts_are_undone_together():
    """Hate underrated by 1.0 and neither overrated by 0.5: the offsets that make every prediction right
    are hate in (0.75, 1.25) and neither in (-0.75, -0.25) relative to offensive, and only those."""
    scores, y = calibrated(600, seed=2)
    shifted = scores + np.array([-1.0, 0.0, 0.5])
    offsets = fit_offsets(shifted, y)
    assert offsets[1] == 0.0
    assert 0.75 < offsets[0] < 1.25 and -0.75 < offsets[2] < -0.25
    assert macro_f1(y, predict(shifted, offsets), 3) == 1.0


def test_a_right_argmax_is_left_alone():
    scores, y = calibrated(300, seed=3)
    assert fit_offsets(scores, y).tolist() == [0.0, 0.0, 0.0]


def test_the_rule_never_does_worse_on_validation_and_fixes_the_majority_class():
    rng = np.random.default_rng(4)
    y = rng.choice(3, size=500, p=[0.5, 0.2, 0.3])
    scores = rng.normal(size=(500, 3)) + 0.8 * np.eye(3)[y]  # a weak, noisy classifier
    offsets = fit_offsets(scores, y)
    assert offsets[0] == 0.0 and np.all(np.isin(offsets, GRID))
    assert macro_f1(y, predict(scores, offsets), 3) > macro_f1(y, predict(scores, np.zeros(3)), 3)


def test_tuned_metrics_apply_the_validation_offsets_once_to_the_test_scores():
    scores, y = calibrated(600, seed=0)
    test_scores, test_y = calibrated(200, seed=5)
    shift = np.array([-1.0, 0.0, 0.0])
    test_scores = test_scores + shift
    out, pred = tuned_metrics(scores + shift, y, test_scores, test_y, CLASSES)
    assert pred.tolist() == predict(test_scores, np.array([0.8, 0.0, 0.0])).tolist()
    assert {k: out[k] for k in out if k.startswith("test/tuned/")} == classification_metrics(
        test_y, pred, CLASSES, M.TEST_TUNED)
    assert out[M.TEST_TUNED_MACRO_F1] == 1.0 and out[M.per_target(M.TEST_TUNED_PRECISION, "hate")] == 1.0
    assert out[M.per_target(M.TUNED_OFFSET, "hate")] == pytest.approx(0.8)
    assert out[M.per_target(M.TUNED_OFFSET, "offensive")] == 0.0 and out[M.TUNED_VAL_MACRO_F1] == 1.0
    named, _ = tuned_metrics(scores, y, test_scores, test_y, CLASSES, "baseline/tfidf/test",
                             M.BASELINE_TFIDF_TUNED_OFFSET, M.BASELINE_TFIDF_TUNED_VAL_MACRO_F1)
    assert M.BASELINE_TFIDF_TEST_TUNED_MACRO_F1 in named
    assert M.per_target(M.BASELINE_TFIDF_TUNED_OFFSET, "hate") in named
    assert M.per_target(M.BASELINE_TFIDF_TEST_TUNED_RECALL, "neither") in named
