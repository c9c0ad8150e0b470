"""The ways of training, as strategies of ``TweetTrainer``: frozen encoder + LSTM,
the encoder's top layers + LSTM, the whole encoder + LSTM, T5.

A strategy owns its model, optimizer and gradient scaler and knows how to
turn tweet indices into a batch; the epochs, the shuffling and the
checkpoints are the trainer's and the shared loop's, the same for all of them.
Each has ``step(idx) -> loss`` and ``evaluate(idx, scores) -> Evaluation``;
the scores (log-probabilities, or T5's label-word log-likelihoods) are what
the decision rule chosen on validation adds its offsets to.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from trainables.common import runtime
from trainables.tweets import t5
from trainables.tweets.cache import TokenStates
from trainables.tweets.config import TweetConfig
from trainables.tweets.model import (
    EncoderClassifier,
    TopClassifier,
    build_head,
    encoder_width,
    load_encoder,
    load_seq2seq,
    load_tokenizer,
    split_encoder,
)
from trainables.tweets.trial_data import Prepared

EVAL_BATCH = 128


@dataclass(frozen=True)
class Evaluation:
    """One pass over some tweets without training."""

    loss: float  # mean loss, weighted as in training
    pred: np.ndarray  # the argmax rule's class per tweet (T5 generate: the generated label, -1 if none)
    scores: np.ndarray | None  # [tweets, classes] when asked for
    invalid: int = 0  # T5 free generation: outputs that are no label


def tokenize(tokenizer, texts: list[str], max_length: int) -> list[list[int]]:
    return tokenizer(texts, truncation=True, max_length=max_length)["input_ids"]


def pad(ids: list[list[int]], idx: np.ndarray, pad_id: int) -> tuple[torch.Tensor, torch.Tensor]:
    rows = [ids[i] for i in idx]
    width = max(1, max(len(r) for r in rows))
    input_ids = torch.full((len(rows), width), pad_id, dtype=torch.long)
    mask = torch.zeros((len(rows), width), dtype=torch.long)
    for j, r in enumerate(rows):
        input_ids[j, :len(r)] = torch.as_tensor(r, dtype=torch.long)
        mask[j, :len(r)] = 1
    return input_ids, mask


class Strategy:
    model: torch.nn.Module
    optimizer: torch.optim.Optimizer

    def __init__(self, data: Prepared, device: torch.device, cfg: TweetConfig):
        self.data, self.device = data, device
        self.weights = None if data.weights is None else data.weights.to(device)
        self.precision = runtime.MixedPrecision(device, cfg.amp, cfg.amp_dtype)

    def logits(self, idx: np.ndarray) -> torch.Tensor:
        raise NotImplementedError

    def step(self, idx: np.ndarray) -> float:
        self.model.train()
        labels = torch.as_tensor(self.data.labels[idx], device=self.device)
        with self.precision.autocast():
            logits = self.logits(idx)
        return self.update(F.cross_entropy(logits.float(), labels, weight=self.weights))

    def update(self, loss: torch.Tensor) -> float:
        """One optimizer step on ``loss``, gradients clipped to norm 1."""
        self.optimizer.zero_grad(set_to_none=True)
        self.precision.step(loss, self.optimizer, self.model.parameters(), 1.0)
        return loss.item()

    @torch.no_grad()
    def evaluate(self, idx: np.ndarray, scores: bool = False) -> Evaluation:
        """Loss and argmax predictions; with ``scores``, the log-probabilities too."""
        self.model.eval()
        total, weight, preds, parts = 0.0, 0.0, [], []
        for start in range(0, len(idx), EVAL_BATCH):
            part = idx[start:start + EVAL_BATCH]
            labels = torch.as_tensor(self.data.labels[part], device=self.device)
            logits = self.logits(part)
            w = self.weights[labels] if self.weights is not None else torch.ones(len(part), device=self.device)
            total += (F.cross_entropy(logits, labels, reduction="none") * w).sum().item()
            weight += w.sum().item()
            preds.append(logits.argmax(dim=1).cpu().numpy())
            if scores:
                parts.append(F.log_softmax(logits.float(), dim=1).cpu().numpy())
        return Evaluation(total / max(weight, 1e-12), np.concatenate(preds), np.concatenate(parts) if scores else None)


class FrozenLSTM(Strategy):
    """LSTM head on cached token outputs; only the head is trained (and checkpointed)."""

    def __init__(self, cfg: TweetConfig, data: Prepared, states: TokenStates, device):
        super().__init__(data, device, cfg)
        self.states = states
        self.model = build_head(cfg, states.dim, len(data.classes)).to(device)
        self.optimizer = torch.optim.Adam(self.model.parameters(), lr=cfg.lr)

    def logits(self, idx):
        x, lengths = self.states.batch(idx)
        return self.model(x.to(self.device), lengths)


class TopLSTM(Strategy):
    """Hidden state k from the cache through the encoder's layers above k (at encoder_lr) and the LSTM
    head (at lr); the embeddings and the lower layers are not in the model at all."""

    def __init__(self, cfg: TweetConfig, data: Prepared, states: TokenStates, device):
        super().__init__(data, device, cfg)
        self.states = states
        top = split_encoder(load_encoder(cfg.encoder), cfg.frozen_layers, cfg.encoder)
        self.model = TopClassifier(top, build_head(cfg, states.dim, len(data.classes))).to(device)
        self.optimizer = torch.optim.AdamW([
            {"params": self.model.top.parameters(), "lr": cfg.encoder_lr},
            {"params": self.model.head.parameters(), "lr": cfg.lr},
        ])

    def logits(self, idx):
        x, lengths = self.states.batch(idx)
        return self.model(x.to(self.device), lengths)


class FullLSTM(Strategy):
    """Encoder + LSTM head trained together; the encoder at its own smaller rate."""

    def __init__(self, cfg: TweetConfig, data: Prepared, device):
        super().__init__(data, device, cfg)
        tokenizer = load_tokenizer(cfg.encoder)
        encoder = load_encoder(cfg.encoder)
        self.ids, self.pad_id = tokenize(tokenizer, data.texts, cfg.max_length), tokenizer.pad_token_id or 0
        head = build_head(cfg, encoder_width(encoder), len(data.classes))
        self.model = EncoderClassifier(encoder, head).to(device)
        self.optimizer = torch.optim.AdamW([
            {"params": self.model.encoder.parameters(), "lr": cfg.encoder_lr},
            {"params": self.model.head.parameters(), "lr": cfg.lr},
        ])

    def logits(self, idx):
        input_ids, mask = pad(self.ids, idx, self.pad_id)
        return self.model(input_ids.to(self.device), mask.to(self.device))


class T5TextToText(Strategy):
    """Text-to-text: the label word is the target; predictions score each label word."""

    def __init__(self, cfg: TweetConfig, data: Prepared, device):
        super().__init__(data, device, cfg)
        self.tokenizer = load_tokenizer(cfg.encoder)
        self.model = load_seq2seq(cfg.encoder).to(device)
        self.optimizer = torch.optim.AdamW(self.model.parameters(), lr=cfg.t5_lr)
        self.ids = tokenize(self.tokenizer, [cfg.t5_prefix + t for t in data.texts], cfg.max_length)
        self.pad_id = self.tokenizer.pad_token_id or 0
        self.label_ids = t5.label_token_ids(self.tokenizer, data.classes)
        self.generate = cfg.t5_predict == "generate"

    def _batch(self, idx):
        input_ids, mask = pad(self.ids, idx, self.pad_id)
        labels = torch.as_tensor(self.data.labels[idx])
        targets = t5.targets_for(labels, self.label_ids)
        return input_ids.to(self.device), mask.to(self.device), targets.to(self.device), labels.to(self.device)

    def _weights(self, labels):
        return None if self.weights is None else self.weights[labels]

    def step(self, idx):
        self.model.train()
        input_ids, mask, targets, labels = self._batch(idx)
        with self.precision.autocast():
            loss = t5.t5_loss(self.model, input_ids, mask, targets, self._weights(labels))
        return self.update(loss.float())

    @torch.no_grad()
    def evaluate(self, idx, scores=False):
        """Label-word scores for the argmax (and, when asked, the tuned rule); free generation, if
        chosen, gives the argmax rule's predictions instead."""
        self.model.eval()
        total, weight, parts, generated, invalid = 0.0, 0.0, [], [], 0
        for start in range(0, len(idx), EVAL_BATCH):
            part = idx[start:start + EVAL_BATCH]
            input_ids, mask, targets, labels = self._batch(part)
            w = self._weights(labels)
            w = torch.ones(len(part), device=self.device) if w is None else w
            total += t5.t5_loss(self.model, input_ids, mask, targets, w).item() * w.sum().item()
            weight += w.sum().item()
            if self.generate:
                p = t5.generate_labels(self.model, self.tokenizer, input_ids, mask, self.data.classes)
                invalid += int((p < 0).sum())
                generated.append(p)
            if scores or not self.generate:
                parts.append(t5.score_labels(self.model, input_ids, mask, self.label_ids).float().cpu().numpy())
        label_scores = np.concatenate(parts) if parts else None
        pred = np.concatenate(generated) if self.generate else label_scores.argmax(axis=1)
        return Evaluation(total / max(weight, 1e-12), pred, label_scores if scores else None, invalid)
