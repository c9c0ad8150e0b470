"""q2 training objectives and the learning-rate schedules.

MSE and MAE compare the softmax output with the one-hot target, averaged
over the vocabulary as Keras does; they are the paper's alternatives to
cross-entropy. Whatever trains, validation scores cross-entropy in nats.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
import torch.nn.functional as F

LossFn = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


def make_loss(name: str) -> LossFn:
    """Loss of logits (..., vocab) against target ids (...)."""
    if name == "ce":
        return lambda logits, y: F.cross_entropy(logits.reshape(-1, logits.shape[-1]), y.reshape(-1))
    if name in ("mse", "mae"):
        distance = F.mse_loss if name == "mse" else F.l1_loss

        def on_probabilities(logits: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
            target = F.one_hot(y, logits.shape[-1]).to(logits.dtype)
            return distance(torch.softmax(logits, dim=-1), target)
        return on_probabilities
    raise ValueError(f"unknown loss {name!r}")


def lr_factor(schedule: str, progress: float) -> float:
    """Multiplier of the peak learning rate at ``progress`` in [0, 1] of training.

    A function of progress rather than a ``torch.optim.lr_scheduler`` so the
    same schedule can run over a step count (trials) or a wall-clock budget
    (benchmarks/q2_budget.py). ``onecycle`` follows ``OneCycleLR``'s shape:
    cosine up from 1/25 of the peak over the first 25%, cosine down to ~0.
    """
    p = min(max(progress, 0.0), 1.0)
    if schedule == "constant":
        return 1.0
    if schedule == "cosine":
        warm = 0.02
        if p < warm:
            return max(p / warm, 0.01)
        return 0.02 + 0.98 * 0.5 * (1 + math.cos(math.pi * (p - warm) / (1 - warm)))
    if schedule == "onecycle":
        pct, start, end = 0.25, 1 / 25, 1e-3
        if p < pct:
            return start + (1 - start) * 0.5 * (1 - math.cos(math.pi * p / pct))
        return end + (1 - end) * 0.5 * (1 + math.cos(math.pi * (p - pct) / (1 - pct)))
    raise ValueError(f"unknown schedule {schedule!r}")
