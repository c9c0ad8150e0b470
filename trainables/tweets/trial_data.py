"""One trial's view of the tweets: the stratified split, the cleaning, the loss weights, the baselines.

The split is made on the raw rows with ``split_seed``, so trials with other
preprocessing or seeds are tested on the very same tweets; the baselines
depend on the split and the cleaning only (``baseline_key``), so a study
scores them once for every trial that shares both.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
from sklearn.model_selection import train_test_split

from trainables.common.errors import DataError
from trainables.tweets.baselines import baseline_metrics, class_weights
from trainables.tweets.config import TweetConfig
from trainables.tweets.corpus import TweetData
from trainables.tweets.preprocess import clean_all, cleaning_settings, word_count


def min_class_count(val_fraction: float, test_fraction: float) -> int:
    """Fewest tweets a class needs so that each split gets at least one."""
    return max(3, math.ceil(1 / min(val_fraction, test_fraction)) + 1)


def check_splittable(data: TweetData, val_fraction: float, test_fraction: float) -> None:
    need = min_class_count(val_fraction, test_fraction)
    small = {c: n for c, n in data.counts().items() if n < need}
    if small:
        listed = ", ".join(f"{c!r} has {n}" for c, n in small.items())
        raise DataError(f"{data.origin}: too few examples for a stratified split ({listed}; each class needs {need})")


@dataclass(frozen=True)
class Split:
    train: np.ndarray
    val: np.ndarray
    test: np.ndarray


def split_indices(labels: np.ndarray, val_fraction: float, test_fraction: float, seed: int) -> Split:
    """Stratified, seeded train / validation / test indices (sorted)."""
    idx = np.arange(len(labels))
    rest, test = train_test_split(idx, test_size=test_fraction, stratify=labels, random_state=seed)
    val_share = val_fraction / (1 - test_fraction)
    train, val = train_test_split(rest, test_size=val_share, stratify=labels[rest], random_state=seed)
    return Split(np.sort(train), np.sort(val), np.sort(test))


@dataclass
class Prepared:
    """One trial's cleaned tweets, labels, split and loss weights."""

    texts: list[str]
    labels: np.ndarray
    classes: tuple[str, ...]
    train: np.ndarray
    val: np.ndarray
    test: np.ndarray
    weights: torch.Tensor | None


def prepare(data: TweetData, cfg: TweetConfig) -> Prepared:
    """Clean the tweets, split them, drop too-short training and validation tweets."""
    split = split_indices(data.labels, cfg.val_fraction, cfg.test_fraction, cfg.split_seed)
    texts = clean_all(data.texts, cfg)
    long_enough = np.array([word_count(t) >= cfg.min_words for t in texts])
    train, val = split.train[long_enough[split.train]], split.val[long_enough[split.val]]
    if len(train) == 0 or len(val) == 0:
        raise DataError(f"{data.origin}: no training or validation tweet has {cfg.min_words} words after cleaning "
                        "(lower --min-words)")
    weights = None
    if cfg.class_weighted:
        weights = torch.as_tensor(class_weights(data.labels[train], len(data.classes)), dtype=torch.float32)
    return Prepared(texts, data.labels, data.classes, train, val, split.test, weights)


def baseline_key(cfg: TweetConfig) -> str:
    """What the baselines depend on: the split and the cleaning, not the network."""
    return repr((cfg.val_fraction, cfg.test_fraction, cfg.split_seed, cfg.min_words, cleaning_settings(cfg)))


def baselines_for(data: TweetData, cfg: TweetConfig) -> dict[str, float]:
    """Majority and TF-IDF baselines on ``cfg``'s split and preprocessing (TF-IDF's rule tuned on validation)."""
    p = prepare(data, cfg)
    texts = {part: [p.texts[i] for i in getattr(p, part)] for part in ("train", "val", "test")}
    return baseline_metrics(texts["train"], p.labels[p.train], texts["val"], p.labels[p.val],
                            texts["test"], p.labels[p.test], p.classes)
