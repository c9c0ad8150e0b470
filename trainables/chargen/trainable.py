"""q2 trainable: train one character model, report every epoch, checkpoint, resume.

Use through Ray Tune with the corpus in the object store:
``tune.with_parameters(train_chargen, corpus=corpus)``. The ``Trainer``
class holds the loop's pieces so that benchmarks can drive the same code
without Ray, under a wall-clock budget instead of an epoch count.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable, Iterator
from typing import Any

import torch
import torch.nn.functional as F

from trainables.chargen.config import CharConfig
from trainables.chargen.data import (
    EVAL_STREAMS,
    CharData,
    Corpus,
    StreamBatches,
    WindowBatches,
    majority_accuracy,
    prepare,
    val_targets,
    windows,
)
from trainables.chargen.losses import lr_factor, make_loss
from trainables.chargen.model import build_model, detach
from trainables.common import checkpoint, faults, runtime
from trainables.common import metrics as M
from trainables.common.config import to_dict

VOCAB_FILE = "vocab.json"


class Trainer:
    """Model, optimizer and batches of one run; ``train_steps`` and ``evaluate`` are the loop."""

    def __init__(self, cfg: CharConfig, data: CharData, device: torch.device, gen: torch.Generator,
                 total_steps: int | None = None):
        self.cfg, self.data, self.device = cfg, data, device
        self.model = build_model(cfg, len(data.vocab)).to(device)
        self.optimizer = torch.optim.Adam(self.model.parameters(), lr=cfg.lr)
        if cfg.formulation == "sequence":
            self.batches = StreamBatches(data.ids[: data.n_train], cfg.batch_size, cfg.seq_len, gen)
        else:
            self.batches = WindowBatches(data, cfg.batch_size, cfg.seq_len, gen)
        self.loss_fn = make_loss(cfg.loss)
        self.steps_per_epoch = cfg.steps_per_epoch or self.batches.steps_per_pass()
        self.total_steps = total_steps or cfg.epochs * self.steps_per_epoch
        self.step, self.chars, self.hidden = 0, 0, None
        self.precision = runtime.MixedPrecision(device, cfg.amp)

    def train_steps(self, n: int, progress: Callable[[], float] | None = None) -> tuple[float, float]:
        """``n`` optimizer steps; mean training loss and accuracy over them.

        ``progress`` (0..1) drives the learning-rate schedule; by default the
        share of ``total_steps`` done.
        """
        cfg, model = self.cfg, self.model
        model.train()
        loss_sum, correct, count = 0.0, 0, 0
        for _ in range(n):
            x, y, fresh = self.batches.next()
            x, y = x.to(self.device, non_blocking=True), y.to(self.device, non_blocking=True)
            done = progress() if progress else self.step / self.total_steps
            for group in self.optimizer.param_groups:
                group["lr"] = cfg.lr * lr_factor(cfg.lr_schedule, done)
            state = None if fresh or cfg.formulation == "report" else self.hidden
            with self.precision.autocast():
                logits, state = model(x, state)
            self.hidden = detach(state)
            loss = self.loss_fn(logits.float(), y)
            self.optimizer.zero_grad(set_to_none=True)
            self.precision.step(loss, self.optimizer, model.parameters(), cfg.grad_clip)
            loss_sum += loss.item()
            correct += int((logits.detach().argmax(-1) == y).sum())
            count += y.numel()
            self.step += 1
            self.chars += x.numel()
        return loss_sum / max(n, 1), correct / max(count, 1)

    @torch.no_grad()
    def evaluate(self, targets: torch.Tensor) -> tuple[float, float]:
        """Cross-entropy (nats per character) and accuracy on the characters at ``targets``."""
        self.model.eval()
        chunks = self._window_logits(targets) if self.cfg.formulation == "report" else self._stream_logits(targets)
        loss_sum, correct, count = 0.0, 0, 0
        for logits, y in chunks:  # chunk by chunk: a long validation part never sits in memory as logits
            y = y.to(self.device)
            loss_sum += F.cross_entropy(logits, y, reduction="sum").item()
            correct += int((logits.argmax(-1) == y).sum())
            count += y.numel()
        return loss_sum / count, correct / count

    def _window_logits(self, targets: torch.Tensor) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        views = windows(self.data.scaled(), self.cfg.seq_len)  # window i predicts ids[i + seq_len]
        for chunk in targets.split(1024):
            yield self.model(views[chunk - self.cfg.seq_len].to(self.device))[0], self.data.ids[chunk]

    def _stream_logits(self, targets: torch.Tensor) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        """Score the text in ``EVAL_STREAMS`` contiguous streams, the state carried throughout.

        Each stream first reads the characters before its first target
        (at least the report's 100), so no scored character lacks context.
        """
        ids, first = self.data.ids, int(targets[0])
        streams = EVAL_STREAMS if len(targets) >= EVAL_STREAMS else 1
        per = len(targets) // streams
        warm = min(max(100, self.cfg.seq_len), first - 1)
        starts = [first + s * per for s in range(streams)]
        x = torch.stack([ids[b - 1 - warm: b - 1 + per] for b in starts]).to(self.device)
        y = torch.stack([ids[b - warm: b + per] for b in starts])
        state = None
        for cols in torch.arange(x.shape[1]).split(512):
            logits, state = self.model(x[:, cols], state)
            keep = cols >= warm
            if keep.any():
                yield logits[:, keep].reshape(-1, logits.shape[-1]), y[:, cols[keep]].reshape(-1)

    def state_dict(self) -> dict[str, Any]:
        hidden = self.hidden
        return {
            "model": self.model.state_dict(), "optimizer": self.optimizer.state_dict(),
            "batches": self.batches.state_dict(), "rng": self.batches.gen.get_state(),
            "hidden": list(hidden) if isinstance(hidden, tuple) else hidden,
            "step": self.step, "chars": self.chars, "precision": self.precision.state_dict(),
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.model.load_state_dict(state["model"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.batches.load_state_dict(state["batches"])
        self.batches.gen.set_state(state["rng"])
        hidden = state["hidden"]
        self.hidden = tuple(hidden) if isinstance(hidden, list) else hidden
        self.step, self.chars = state["step"], state["chars"]
        self.precision.load_state_dict(state.get("precision"))


def train_chargen(config: dict[str, Any], corpus: Corpus) -> None:
    cfg = CharConfig(**config)
    device = runtime.setup_device()
    gen = runtime.seed_everything(cfg.seed)
    data = prepare(corpus, cfg)
    trainer = Trainer(cfg, data, device, gen)
    targets = val_targets(data, cfg)
    baseline = majority_accuracy(data, targets)
    vocab_text = json.dumps(list(data.vocab.chars))

    first_epoch, elapsed = 1, 0.0
    state = checkpoint.restore()
    if state is not None:
        trainer.load_state_dict(state)
        first_epoch, elapsed = state["epoch"] + 1, state["elapsed_s"]

    for epoch in range(first_epoch, cfg.epochs + 1):
        faults.maybe_crash(cfg.fail_at_epoch, epoch)
        started = time.perf_counter()
        train_loss, train_acc = trainer.train_steps(trainer.steps_per_epoch)
        val_loss, val_acc = trainer.evaluate(targets)
        epoch_s = time.perf_counter() - started
        elapsed += epoch_s
        metrics = {
            M.EPOCH: epoch, M.TRAIN_LOSS: train_loss, M.TRAIN_ACC: train_acc,
            M.VAL_LOSS: val_loss, M.VAL_BPC: val_loss / math.log(2), M.VAL_ACC: val_acc,
            M.BASELINE_MAJORITY_VAL_ACC: baseline, M.TRAIN_CHARS: trainer.chars,
            M.TIME_EPOCH: epoch_s, M.TIME_TOTAL: elapsed,
        }
        if epoch == cfg.epochs or epoch % cfg.checkpoint_every == 0:
            state = {**trainer.state_dict(), "epoch": epoch, "elapsed_s": elapsed, "config": to_dict(cfg),
                     "vocab": list(data.vocab.chars), "val_loss": val_loss}
            checkpoint.report(metrics, state, {VOCAB_FILE: vocab_text})
        else:
            checkpoint.report(metrics)
