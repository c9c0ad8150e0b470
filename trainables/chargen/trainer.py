"""q2 trainer: one character model, its optimizer and its batches, without Ray.

The shared loop (``trainables.common.loop``) drives it; through Ray Tune as
``trainables.common.task.trainable(TASK)`` with the corpus in the object
store, and in benchmarks/q2_budget.py under a training-time budget.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from contextlib import AbstractContextManager
from typing import Any

import torch
import torch.nn.functional as F

from trainables.chargen.batches import StreamBatches, WindowBatches, windows
from trainables.chargen.config import CharConfig
from trainables.chargen.data import EVAL_STREAMS, Corpus, majority_accuracy, prepare, scored_test_part, val_targets
from trainables.chargen.losses import lr_factor, make_loss
from trainables.chargen.model import CELLS, build_model, detach, state_to
from trainables.common import loop, runtime
from trainables.common import metrics as M

VOCAB_FILE = "vocab.json"
WARM_CHARS = 100  # context read before the first scored character of a stream (the paper's window)


def stream_layout(n: int) -> tuple[int, int, int]:
    """How ``n`` contiguous held-out characters are scored: (streams, characters each, rest in one more)."""
    streams = EVAL_STREAMS if n >= EVAL_STREAMS else 1
    return streams, n // streams, n - streams * (n // streams)


def precision_notes(configs: list[CharConfig]) -> list[str]:
    """A note on the cells that planned trials ask to train in bfloat16 and this CPU computes in float32."""
    cells = sorted({c.cell for c in configs if c.cpu_bf16})
    float32 = [cell for cell in cells if not runtime.cpu_bf16_computes(CELLS[cell])]
    if not float32:
        return []
    note = (f"cpu_bf16: this CPU ({runtime.cpu_capability()}) does not compute {' or '.join(float32)} in bfloat16; "
            "such trials train in float32 where they run on a CPU like it (train/precision says which ran)")
    return [note]


class CharTrainer:
    """With ``cfg.budget_s`` the learning-rate schedule runs over the budget's training
    seconds (``loop.clock``, the loop's own clock) instead of over ``epochs * steps_per_epoch`` steps."""

    def __init__(self, cfg: CharConfig, corpus: Corpus, device: torch.device):
        self.cfg, self.device = cfg, device
        self.data = data = prepare(corpus, cfg)
        self.model = build_model(cfg, len(data.vocab)).to(device)
        self.optimizer = torch.optim.Adam(self.model.parameters(), lr=cfg.lr)
        self.gen = runtime.make_generator(cfg.seed)
        if cfg.formulation == "sequence":
            self.batches = StreamBatches(data.ids[: data.n_train], cfg.batch_size, cfg.seq_len, self.gen)
        else:
            self.batches = WindowBatches(data, cfg.batch_size, cfg.seq_len, self.gen)
        self.loss_fn = make_loss(cfg.loss)
        self.steps_per_epoch = cfg.steps_per_epoch or self.batches.steps_per_pass()
        self.total_steps = cfg.epochs * self.steps_per_epoch
        self.precision = runtime.MixedPrecision(device, cfg.amp, cfg.amp_dtype)
        # cpu_bf16 where this CPU computes the cell in bfloat16; float32 elsewhere, reported as train/precision.
        self.cpu_bf16 = cfg.cpu_bf16 and device.type == "cpu" and runtime.cpu_bf16_computes(CELLS[cfg.cell])
        self.precision_name = runtime.BFLOAT16 if self.cpu_bf16 else self.precision.name
        self.step, self.chars, self.train_s, self.hidden = 0, 0, 0.0, None
        self.val = val_targets(data, cfg)

    def progress(self, running_s: float = 0.0) -> float:
        """Share of training done, 0..1: what the learning-rate schedule follows."""
        if self.cfg.budget_s:
            return (self.train_s + running_s) / self.cfg.budget_s
        return self.step / self.total_steps

    def train_epoch(self) -> dict[str, float]:
        """``steps_per_epoch`` optimizer steps (a full pass unless the config makes it a round)."""
        cfg, model = self.cfg, self.model
        model.train()
        started = loop.clock()
        # Sums stay on the device: reading them every step would make a GPU wait for each step.
        loss_sum, correct, count = torch.zeros((), device=self.device), torch.zeros((), device=self.device), 0
        for _ in range(self.steps_per_epoch):
            x, y, fresh = self.batches.next()
            x, y = runtime.to_device(x, self.device), runtime.to_device(y, self.device)
            for group in self.optimizer.param_groups:
                group["lr"] = cfg.lr * lr_factor(cfg.lr_schedule, self.progress(loop.clock() - started))
            state = None if fresh or cfg.formulation == "paper" else self.hidden
            with self.train_autocast():
                logits, state = model(x, state)
            self.hidden = detach(state) if cfg.formulation == "sequence" else None
            loss = self.loss_fn(logits.float(), y)
            self.optimizer.zero_grad(set_to_none=True)
            self.precision.step(loss, self.optimizer, model.parameters(), cfg.grad_clip)
            loss_sum += loss.detach()
            correct += (logits.detach().argmax(-1) == y).sum()
            count += y.numel()
            self.step += 1
            self.chars += x.numel()
        self.train_s += loop.clock() - started
        return {M.TRAIN_LOSS: loss_sum.item() / self.steps_per_epoch, M.TRAIN_ACC: correct.item() / max(count, 1),
                M.TRAIN_CHARS: self.chars, M.TRAIN_STEPS: self.step,
                M.TRAIN_PASSES: self.step / self.batches.steps_per_pass(), M.TRAIN_PRECISION: self.precision_name}

    def train_autocast(self) -> AbstractContextManager:
        """bfloat16 on a CPU when asked and computed there (no gradient scaling: bfloat16 has float32's range)."""
        if self.cpu_bf16:
            return torch.autocast("cpu", dtype=torch.bfloat16)
        return self.precision.autocast()

    def validate(self) -> dict[str, float]:
        loss, acc = self.evaluate(self.val)
        return {M.VAL_LOSS: loss, M.VAL_BPC: loss / math.log(2), M.VAL_ACC: acc,
                M.BASELINE_MAJORITY_VAL_ACC: majority_accuracy(self.data, self.val),
                M.VAL_UNKNOWN: self.data.unknown["val"]}

    def test(self) -> tuple[dict[str, float], dict[str, str]]:
        """The test part (``test_max_chars`` of it), once; the vocabulary as the checkpoint's side file."""
        targets = scored_test_part(self.data, self.cfg)
        loss, acc = self.evaluate(targets)
        metrics = {M.TEST_LOSS: loss, M.TEST_BPC: loss / math.log(2), M.TEST_ACC: acc,
                   M.BASELINE_MAJORITY_TEST_ACC: majority_accuracy(self.data, targets),
                   M.TEST_UNKNOWN: self.data.unknown["test"], M.TEST_CHARS: len(targets)}
        return metrics, {VOCAB_FILE: json.dumps(list(self.data.vocab.chars))}

    @torch.no_grad()
    def evaluate(self, targets: torch.Tensor) -> tuple[float, float]:
        """Cross-entropy (nats per character) and accuracy on the characters at ``targets`` (contiguous)."""
        self.model.eval()
        chunks = self._window_logits(targets) if self.cfg.formulation == "paper" else self._stream_logits(targets)
        loss_sum, correct, count = 0.0, 0, 0
        for logits, y in chunks:  # chunk by chunk: a long held-out part never sits in memory as logits
            y = y.to(self.device)
            logits = logits.float()
            loss_sum += F.cross_entropy(logits, y, reduction="sum").item()
            correct += int((logits.argmax(-1) == y).sum())
            count += y.numel()
        return loss_sum / count, correct / count

    def _window_logits(self, targets: torch.Tensor) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        views = windows(self.data.scaled(), self.cfg.seq_len)  # window i predicts ids[i + seq_len]
        for chunk in targets.split(1024):
            with self.precision.autocast():
                logits = self.model(runtime.to_device(views[chunk - self.cfg.seq_len], self.device))[0]
            yield logits, self.data.ids[chunk]

    def _stream_logits(self, targets: torch.Tensor) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        """Score the text in ``EVAL_STREAMS`` contiguous streams, the state carried throughout.

        Each stream first reads the characters before its first target (at
        least the paper's 100), so no scored character lacks context. What
        does not divide evenly into the streams is scored as one more.
        """
        first = int(targets[0])
        streams, per, rest = stream_layout(len(targets))
        yield from self._streams([first + s * per for s in range(streams)], per)
        if rest:
            yield from self._streams([first + streams * per], rest)

    def warm_chars(self, first: int) -> int:
        """Characters a scoring stream reads, unscored, before its first target at position ``first``."""
        return min(max(WARM_CHARS, self.cfg.seq_len), first - 1)

    def _streams(self, starts: list[int], length: int) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        ids = self.data.ids
        warm = self.warm_chars(starts[0])
        x = runtime.to_device(torch.stack([ids[b - 1 - warm: b - 1 + length] for b in starts]), self.device)
        y = torch.stack([ids[b - warm: b + length] for b in starts])
        state = None
        for cols in torch.arange(x.shape[1]).split(512):
            with self.precision.autocast():
                logits, state = self.model(x[:, cols.to(self.device)], state)
            keep = cols >= warm
            if keep.any():
                yield logits[:, keep.to(self.device)].reshape(-1, logits.shape[-1]), y[:, cols[keep]].reshape(-1)

    def state_dict(self) -> dict[str, Any]:
        hidden = self.hidden
        return {
            "model": self.model.state_dict(), "optimizer": self.optimizer.state_dict(),
            "scaler": self.precision.state_dict(), "shuffle": self.gen.get_state(),
            "batches": self.batches.state_dict(),
            "hidden": list(hidden) if isinstance(hidden, tuple) else hidden,
            "step": self.step, "chars": self.chars, "train_s": self.train_s,
            "vocab": list(self.data.vocab.chars),
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.model.load_state_dict(state["model"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.precision.load_state_dict(state["scaler"])
        self.gen.set_state(state["shuffle"])
        self.batches.load_state_dict(state["batches"])
        # The loop moves floating tensors already; moving here as well keeps a
        # caller that skipped ``checkpoint.move_to`` from feeding a CPU state to a GPU model.
        self.hidden = state_to(state["hidden"], self.device)
        self.step, self.chars = int(state["step"]), int(state["chars"])
        self.train_s = float(state["train_s"])
        if list(self.data.vocab.chars) != list(state["vocab"]):
            raise ValueError("checkpoint: its vocabulary differs from this corpus' (another text or config?)")
