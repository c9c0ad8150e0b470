"""q3 trainable: train one tweet classifier, report every epoch, checkpoint, resume.

Use through Ray Tune with the tweets in the object store:
``tune.with_parameters(train_tweets, data=tweets, cache_root=..., baselines=...)``.
In frozen mode the encoder's token outputs come from the embedding cache
under ``cache_root`` (the study builds it before the trials start; a trial
that finds no entry builds it itself). The baselines are computed once by
the study on the same split and passed in; standalone, the trial computes them.
"""

from __future__ import annotations

import json
import time
from typing import Any

import numpy as np
import torch

from trainables.common import checkpoint, faults, runtime
from trainables.common import metrics as M
from trainables.common.config import to_dict
from trainables.tweets.baselines import baseline_metrics, class_weights, classification_metrics, confusion
from trainables.tweets.cache import EmbeddingCache
from trainables.tweets.config import TweetConfig
from trainables.tweets.data import TweetData, default_cache_dir, split_indices
from trainables.tweets.preprocess import clean_all, word_count
from trainables.tweets.runners import FinetuneLSTM, FrozenLSTM, Prepared, Runner, T5Runner

CONFUSION_FILE = "confusion.json"
CLASSES_FILE = "classes.json"


def prepare(data: TweetData, cfg: TweetConfig) -> Prepared:
    """Clean the tweets, split them, drop too-short training and validation tweets.

    The split is made on the raw rows with ``split_seed``, so trials with
    other preprocessing or seeds are tested on the very same tweets.
    """
    split = split_indices(data.labels, cfg.val_fraction, cfg.test_fraction, cfg.split_seed)
    texts = clean_all(data.texts, cfg)
    long_enough = np.array([word_count(t) >= cfg.min_words for t in texts])
    train, val = split.train[long_enough[split.train]], split.val[long_enough[split.val]]
    weights = None
    if cfg.class_weighted:
        weights = torch.as_tensor(class_weights(data.labels[train], len(data.classes)), dtype=torch.float32)
    return Prepared(texts, data.labels, data.classes, train, val, split.test, weights)


def study_baselines(data: TweetData, cfg: TweetConfig) -> dict[str, float]:
    """Majority and TF-IDF baselines on ``cfg``'s split and preprocessing."""
    p = prepare(data, cfg)
    return baseline_metrics([p.texts[i] for i in p.train], p.labels[p.train],
                            [p.texts[i] for i in p.test], p.labels[p.test], p.classes)


def make_runner(cfg: TweetConfig, prep: Prepared, cache_root: str | None, device) -> tuple[Runner, dict[str, float]]:
    if cfg.model_type == "t5":
        return T5Runner(cfg, prep, device), {}
    if cfg.mode == "finetune":
        return FinetuneLSTM(cfg, prep, device), {}
    cache = EmbeddingCache(cache_root or default_cache_dir())
    states, _hit, seconds = cache.get_or_build(prep.texts, cfg.encoder, cfg.max_length, progress=None)
    return FrozenLSTM(cfg, prep, states, device), {M.TIME_ENCODE: seconds}


def train_tweets(config: dict[str, Any], data: TweetData, cache_root: str | None = None,
                 baselines: dict[str, float] | None = None) -> None:
    cfg = TweetConfig(**config)
    device = runtime.setup_device()
    gen = runtime.seed_everything(cfg.seed)
    prep = prepare(data, cfg)
    runner, extra = make_runner(cfg, prep, cache_root, device)

    first_epoch, elapsed = 1, 0.0
    state = checkpoint.restore()
    if state is not None:
        runner.load(state)
        gen.set_state(state["rng"])
        first_epoch, elapsed = state["epoch"] + 1, state["elapsed_s"]

    for epoch in range(first_epoch, cfg.epochs + 1):
        faults.maybe_crash(cfg.fail_at_epoch, epoch)
        started = time.perf_counter()
        train_loss = train_epoch(runner, prep.train, cfg.batch_size, gen)
        val_loss, val_pred, _ = runner.evaluate(prep.val)
        epoch_s = time.perf_counter() - started
        elapsed += epoch_s
        metrics = {M.EPOCH: epoch, M.TRAIN_LOSS: train_loss, M.VAL_LOSS: val_loss, M.TIME_EPOCH: epoch_s,
                   M.TIME_TOTAL: elapsed, **extra}
        metrics[M.VAL_MACRO_F1] = classification_metrics(prep.labels[prep.val], val_pred, prep.classes, "val")[M.VAL_MACRO_F1]
        files = None
        if epoch == cfg.epochs:
            test_metrics, files = final_evaluation(runner, prep)
            metrics.update(test_metrics)
            metrics.update(baselines if baselines is not None else study_baselines(data, cfg))
        state = {**runner.state(), "rng": gen.get_state(), "epoch": epoch, "elapsed_s": elapsed,
                 "config": to_dict(cfg), "classes": list(prep.classes)}
        checkpoint.report(metrics, state, files)


def train_epoch(runner: Runner, train: np.ndarray, batch_size: int, gen: torch.Generator) -> float:
    order = train[torch.randperm(len(train), generator=gen).numpy()]
    total = 0.0
    for start in range(0, len(order), batch_size):
        idx = order[start:start + batch_size]
        total += runner.step(idx) * len(idx)
    return total / max(len(order), 1)


def final_evaluation(runner: Runner, prep: Prepared) -> tuple[dict[str, float], dict[str, str]]:
    """Test scores, the confusion matrix and the class mapping as side files."""
    test_loss, pred, invalid = runner.evaluate(prep.test)
    truth = prep.labels[prep.test]
    out = {M.TEST_LOSS: test_loss, **classification_metrics(truth, pred, prep.classes, "test")}
    out[M.TEST_INVALID] = invalid / max(len(pred), 1)
    files = {CONFUSION_FILE: json.dumps(confusion(truth, pred, prep.classes)),
             CLASSES_FILE: json.dumps(list(prep.classes))}
    return out, files
