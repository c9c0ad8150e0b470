"""q3 trainer: one tweet classifier, its optimizer and its data, without Ray.

How the network is trained is a strategy (``strategies.py``): the frozen
encoder's cached token outputs into an LSTM head, the cached hidden state k
through the encoder's layers above k and the head, the whole encoder
fine-tuned with the head, or T5 text-to-text. The trainer owns what is
common to them: the trial's cleaning and split, the shuffling generator,
the epoch, the metrics (the test part's under both decision rules) and the
state a resumed trial needs. The shared loop (``trainables.common.loop``)
drives it; through Ray Tune as ``trainables.common.task.trainable(TASK)``
with a ``StudyData`` in the object store.
"""

from __future__ import annotations

import json
from typing import Any

import torch

from trainables.common import metrics as M
from trainables.common import runtime
from trainables.tweets.baselines import classification_metrics, confusion, tuned_metrics
from trainables.tweets.cache import EmbeddingCache
from trainables.tweets.config import TweetConfig
from trainables.tweets.corpus import TweetData
from trainables.tweets.data import StudyData, as_study_data
from trainables.tweets.strategies import FrozenLSTM, FullLSTM, Strategy, T5TextToText, TopLSTM
from trainables.tweets.trial_data import Prepared, baseline_key, baselines_for, prepare

CONFUSION_FILE = "confusion.json"
CLASSES_FILE = "classes.json"


def make_strategy(cfg: TweetConfig, prep: Prepared, cache_root: str,
                  device: torch.device) -> tuple[Strategy, float | None]:
    """The strategy ``cfg`` asks for, and (frozen, top) the seconds spent getting the cached token outputs."""
    if cfg.model_type == "t5":
        return T5TextToText(cfg, prep, device), None
    if cfg.encoder_training == "full":
        return FullLSTM(cfg, prep, device), None
    states, _hit, seconds = EmbeddingCache(cache_root).get_or_build(prep.texts, cfg.encoder, cfg.max_length,
                                                                    progress=None, layer=cfg.cache_layer)
    if cfg.encoder_training == "top":
        return TopLSTM(cfg, prep, states, device), seconds
    return FrozenLSTM(cfg, prep, states, device), seconds


class TweetTrainer:
    """The ``Trainer`` of q3 (see ``trainables.common.loop``)."""

    def __init__(self, cfg: TweetConfig, data: StudyData | TweetData, device: torch.device):
        shared = as_study_data(data)
        self.cfg, self.device = cfg, device
        self.tweets = shared.tweets
        self.prep = prepare(shared.tweets, cfg)
        self.strategy, self.encode_s = make_strategy(cfg, self.prep, shared.cache_root, device)
        self.model = self.strategy.model
        self.gen = runtime.make_generator(cfg.seed)
        # Scored once by the study for every trial on the same split; a lone trial scores its own.
        self.baselines = shared.baselines.get(baseline_key(cfg))

    def train_epoch(self) -> dict[str, float]:
        train = self.prep.train
        order = train[torch.randperm(len(train), generator=self.gen).numpy()]
        total = 0.0
        for start in range(0, len(order), self.cfg.batch_size):
            idx = order[start:start + self.cfg.batch_size]
            total += self.strategy.step(idx) * len(idx)
        out = {M.TRAIN_LOSS: total / len(order)}
        if self.encode_s is not None:
            out[M.TIME_ENCODE] = self.encode_s
        return out

    def validate(self) -> dict[str, float]:
        result = self.strategy.evaluate(self.prep.val)
        scores = classification_metrics(self.prep.labels[self.prep.val], result.pred, self.prep.classes, "val")
        return {M.VAL_LOSS: result.loss, M.VAL_MACRO_F1: scores[M.VAL_MACRO_F1], M.VAL_ACC: scores[M.VAL_ACC]}

    def test(self) -> tuple[dict[str, float], dict[str, str]]:
        """Test scores with the argmax rule and with the rule tuned on validation (``test/tuned/...``),
        the baselines on the same tweets, the confusion matrices and the class names.

        The loop calls this once, with the best epoch's weights loaded: those weights score the
        validation part once more to choose the rule, which is then applied once to the test part.
        """
        prep = self.prep
        val, test = self.strategy.evaluate(prep.val, scores=True), self.strategy.evaluate(prep.test, scores=True)
        truth = prep.labels[prep.test]
        out = {M.TEST_LOSS: test.loss, **classification_metrics(truth, test.pred, prep.classes, "test")}
        out[M.TEST_INVALID] = test.invalid / max(len(test.pred), 1)
        tuned, tuned_pred = tuned_metrics(val.scores, prep.labels[prep.val], test.scores, truth, prep.classes)
        out.update(tuned)
        if self.baselines is None:
            self.baselines = baselines_for(self.tweets, self.cfg)
        out.update(self.baselines)
        matrix = {**confusion(truth, test.pred, prep.classes), "tuned": confusion(truth, tuned_pred, prep.classes)}
        files = {CONFUSION_FILE: json.dumps(matrix), CLASSES_FILE: json.dumps(list(prep.classes))}
        return out, files

    def state_dict(self) -> dict[str, Any]:
        return {"model": self.model.state_dict(), "optimizer": self.strategy.optimizer.state_dict(),
                "scaler": self.strategy.precision.state_dict(), "shuffle": self.gen.get_state()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.model.load_state_dict(state["model"])
        self.strategy.optimizer.load_state_dict(state["optimizer"])
        self.strategy.precision.load_state_dict(state["scaler"])
        self.gen.set_state(state["shuffle"])
