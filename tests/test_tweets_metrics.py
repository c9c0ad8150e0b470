"""Metrics on a known confusion matrix, the baselines and the class weights."""

from __future__ import annotations

import numpy as np
import pytest

from trainables.common import metrics as M
from trainables.tweets.baselines import baseline_metrics, class_weights, classification_metrics, confusion, majority

CLASSES = ("hate", "offensive", "neither")


def from_confusion(matrix):
    y_true, y_pred = [], []
    for i, row in enumerate(matrix):
        for j, n in enumerate(row):
            y_true += [i] * n
            y_pred += [j] * n
    return np.array(y_true), np.array(y_pred)


def test_metrics_on_a_known_confusion_matrix():
    matrix = [[2, 2, 0], [1, 6, 1], [0, 0, 4]]
    y_true, y_pred = from_confusion(matrix)
    m = classification_metrics(y_true, y_pred, CLASSES)
    assert m[M.TEST_ACC] == pytest.approx(12 / 16)
    # hate: precision 2/3, recall 2/4; offensive 6/8 and 6/8; neither 4/5 and 4/4
    assert m["test/precision/hate"] == pytest.approx(2 / 3)
    assert m["test/recall/hate"] == pytest.approx(0.5)
    f_hate, f_off, f_nei = 2 * (2 / 3 * 0.5) / (2 / 3 + 0.5), 0.75, 2 * 0.8 / 1.8
    assert m[M.per_target(M.TEST_F1, "hate")] == pytest.approx(f_hate)
    assert m[M.TEST_MACRO_F1] == pytest.approx((f_hate + f_off + f_nei) / 3)
    assert m[M.TEST_WEIGHTED_F1] == pytest.approx((4 * f_hate + 8 * f_off + 4 * f_nei) / 16)
    cm = confusion(y_true, y_pred, CLASSES)
    assert cm["matrix"] == matrix
    assert cm["normalized"][0] == [0.5, 0.5, 0.0]


def test_confusion_with_an_absent_class_has_no_nan():
    cm = confusion(np.array([1, 1]), np.array([1, 0]), CLASSES)
    assert cm["normalized"][2] == [0.0, 0.0, 0.0]


def test_majority_baseline_and_weights():
    train_y = np.array([1] * 8 + [0] + [2] * 3)
    assert majority(train_y, np.zeros(4, dtype=int), 3).tolist() == [1, 1, 1, 1]
    w = class_weights(train_y, 3)
    assert w.tolist() == pytest.approx([12 / 3, 12 / 24, 12 / 9])
    assert (w * np.bincount(train_y)).sum() == pytest.approx(len(train_y))


def test_baselines_are_named_and_tfidf_learns():
    words = {0: "vermin scum", 1: "stupid trash", 2: "sunny coffee"}
    rng = np.random.default_rng(0)
    y = rng.choice(3, size=90, p=[0.2, 0.5, 0.3])
    texts = [f"{words[c]} w{i}" for i, c in enumerate(y)]
    out = baseline_metrics(texts[:60], y[:60], texts[60:75], y[60:75], texts[75:], y[75:], CLASSES)
    assert out[M.BASELINE_TFIDF_TEST_MACRO_F1] == pytest.approx(1.0)
    assert out[M.BASELINE_TFIDF_TEST_TUNED_MACRO_F1] == pytest.approx(1.0)
    assert out[M.BASELINE_MAJORITY_TEST_ACC] == pytest.approx(np.mean(y[75:] == 1))
    for base in (M.BASELINE_TFIDF_TEST_F1, M.BASELINE_TFIDF_TEST_PRECISION, M.BASELINE_TFIDF_TEST_RECALL,
                 M.BASELINE_TFIDF_TEST_TUNED_F1, M.BASELINE_TFIDF_TEST_TUNED_PRECISION, M.BASELINE_TFIDF_TUNED_OFFSET):
        assert set(out) >= {M.per_target(base, c) for c in CLASSES}, base
    # already right on validation: the rule stays the argmax
    assert [out[M.per_target(M.BASELINE_TFIDF_TUNED_OFFSET, c)] for c in CLASSES] == [0.0, 0.0, 0.0]


def test_tfidf_tuned_rule_is_the_shared_rule_on_its_validation_scores():
    from trainables.tweets.baselines import tfidf_logreg, tuned_metrics

    rng = np.random.default_rng(1)
    vocab = {0: ["vermin", "scum", "trash"], 1: ["stupid", "trash", "damn"], 2: ["sunny", "coffee", "damn"]}
    y = rng.choice(3, size=240, p=[0.1, 0.6, 0.3])
    texts = [" ".join(rng.choice(vocab[c], size=2)) + f" w{i % 7}" for i, c in enumerate(y)]
    tr, va, te = slice(0, 160), slice(160, 200), slice(200, 240)
    out = baseline_metrics(texts[tr], y[tr], texts[va], y[va], texts[te], y[te], CLASSES)
    val_scores, test_scores = tfidf_logreg(texts[tr], y[tr], texts[va], texts[te], n_classes=3)
    assert np.allclose(np.exp(val_scores).sum(axis=1), 1.0)  # log-probabilities
    expected, _ = tuned_metrics(val_scores, y[va], test_scores, y[te], CLASSES, "baseline/tfidf/test",
                                M.BASELINE_TFIDF_TUNED_OFFSET, M.BASELINE_TFIDF_TUNED_VAL_MACRO_F1)
    assert {k: out[k] for k in expected} == expected
    assert out[M.BASELINE_TFIDF_TEST_MACRO_F1] == classification_metrics(
        y[te], test_scores.argmax(axis=1), CLASSES)[M.TEST_MACRO_F1]
