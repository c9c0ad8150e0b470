"""Baselines and classification metrics, on the same split as the networks.

Always-majority shows what the class imbalance alone gives; class-weighted
TF-IDF logistic regression is the strong classical reference on Davidson
(macro-F1 about 0.77 in the literature). TF-IDF is scored with both
decision rules the networks get: the argmax and the offsets chosen on the
validation part (``decision.py``, through ``tuned_metrics``, the one place
either of them applies it).
"""

from __future__ import annotations

import numpy as np
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import accuracy_score, confusion_matrix, f1_score, precision_recall_fscore_support

from trainables.common import metrics as M
from trainables.common.metrics import per_target
from trainables.tweets import decision

TFIDF_TEST = M.baseline("tfidf", "test")  # TF-IDF's scores on the test part hang below this


def classification_metrics(y_true, y_pred, classes: tuple[str, ...], prefix: str = "test") -> dict[str, float]:
    """Accuracy, macro and weighted F1 and per-class precision / recall / F1."""
    labels = list(range(len(classes)))
    out = {
        M.named(prefix, "acc"): float(accuracy_score(y_true, y_pred)),
        M.named(prefix, "macro_f1"): float(f1_score(y_true, y_pred, labels=labels, average="macro", zero_division=0)),
        M.named(prefix, "weighted_f1"): float(f1_score(y_true, y_pred, labels=labels, average="weighted",
                                                       zero_division=0)),
    }
    p, r, f, _ = precision_recall_fscore_support(y_true, y_pred, labels=labels, zero_division=0)
    for i, c in enumerate(classes):
        out[per_target(M.named(prefix, "precision"), c)] = float(p[i])
        out[per_target(M.named(prefix, "recall"), c)] = float(r[i])
        out[per_target(M.named(prefix, "f1"), c)] = float(f[i])
    return out


def tuned_metrics(
    val_scores: np.ndarray, val_y: np.ndarray, test_scores: np.ndarray, test_y: np.ndarray,
    classes: tuple[str, ...], prefix: str = "test", offset_name: str = M.TUNED_OFFSET,
    val_name: str = M.TUNED_VAL_MACRO_F1,
) -> tuple[dict[str, float], np.ndarray]:
    """The rule chosen on validation, applied once to the test scores: its metrics under
    ``{prefix}/tuned/...``, the offsets under ``offset_name/<class>``, and the test predictions."""
    offsets = decision.fit_offsets(val_scores, val_y)
    pred = decision.predict(test_scores, offsets)
    out = classification_metrics(test_y, pred, classes, M.tuned(prefix))
    out[val_name] = decision.macro_f1(np.asarray(val_y), decision.predict(val_scores, offsets), len(classes))
    out.update({per_target(offset_name, c): float(offsets[i]) for i, c in enumerate(classes)})
    return out, pred


def confusion(y_true, y_pred, classes: tuple[str, ...]) -> dict:
    """Raw and row-normalised (per true class) confusion matrix, JSON-ready."""
    raw = confusion_matrix(y_true, y_pred, labels=list(range(len(classes))))
    totals = raw.sum(axis=1, keepdims=True)
    norm = np.divide(raw, totals, out=np.zeros(raw.shape, dtype=float), where=totals > 0)
    return {"classes": list(classes), "matrix": raw.tolist(), "normalized": norm.round(4).tolist()}


def majority(train_y: np.ndarray, test_y: np.ndarray, n_classes: int) -> np.ndarray:
    """Predict the training part's most frequent class for every test tweet."""
    return np.full(len(test_y), np.bincount(train_y, minlength=n_classes).argmax())


def tfidf_logreg(train_texts: list[str], train_y: np.ndarray, *parts: list[str], n_classes: int,
                 seed: int = 0) -> list[np.ndarray]:
    """Word 1-2-gram TF-IDF and class-weighted logistic regression: log-probabilities
    ``[texts, n_classes]`` for each of ``parts``.

    On Davidson this setting beat 1-3-grams, C=10, char 2-5-grams and the
    unweighted loss on hate-class F1 (benchmarks/RESULTS.md, q3).
    """
    vectorizer = TfidfVectorizer(ngram_range=(1, 2), min_df=2, sublinear_tf=True)
    x_train = vectorizer.fit_transform(train_texts)
    model = LogisticRegression(class_weight="balanced", C=1.0, max_iter=1000, random_state=seed)
    model.fit(x_train, train_y)
    out = []
    for texts in parts:
        scores = np.full((len(texts), n_classes), -np.inf)  # a class unseen in training is never predicted
        scores[:, model.classes_] = model.predict_log_proba(vectorizer.transform(texts))
        out.append(scores)
    return out


def baseline_metrics(train_texts, train_y, val_texts, val_y, test_texts, test_y,
                     classes: tuple[str, ...]) -> dict[str, float]:
    """Both baselines' test scores under their ``baseline/...`` names; TF-IDF's with both rules."""
    test_y, val_y, n = np.asarray(test_y), np.asarray(val_y), len(classes)
    maj = classification_metrics(test_y, majority(np.asarray(train_y), test_y, n), classes)
    val_scores, test_scores = tfidf_logreg(list(train_texts), np.asarray(train_y), list(val_texts), list(test_texts),
                                           n_classes=n)
    out = {
        M.BASELINE_MAJORITY_TEST_ACC: maj[M.TEST_ACC],
        M.BASELINE_MAJORITY_TEST_MACRO_F1: maj[M.TEST_MACRO_F1],
        M.BASELINE_MAJORITY_TEST_WEIGHTED_F1: maj[M.TEST_WEIGHTED_F1],
        **classification_metrics(test_y, decision.predict(test_scores, np.zeros(n)), classes, TFIDF_TEST),
    }
    tuned, _ = tuned_metrics(val_scores, val_y, test_scores, test_y, classes, TFIDF_TEST,
                             M.BASELINE_TFIDF_TUNED_OFFSET, M.BASELINE_TFIDF_TUNED_VAL_MACRO_F1)
    return {**out, **tuned}


def class_weights(train_y: np.ndarray, n_classes: int) -> np.ndarray:
    """Inverse class frequency, scaled so that the average tweet weighs 1 (sklearn's 'balanced')."""
    counts = np.bincount(train_y, minlength=n_classes).astype(float)
    return len(train_y) / (n_classes * np.maximum(counts, 1.0))
