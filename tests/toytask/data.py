"""The toy data: noisy sequences whose target is their sum; generated, split in three."""

from __future__ import annotations

from dataclasses import dataclass

import torch

from trainables.common.errors import DataError


@dataclass(frozen=True)
class ToyOptions:
    """The toy study's data flags."""

    sequences: int = 240
    """How many sequences to generate."""
    length: int = 6
    """Steps per sequence."""

    def __post_init__(self) -> None:
        if self.sequences < 30:
            raise DataError(f"--sequences {self.sequences}: need at least 30 for three parts")


@dataclass(frozen=True)
class ToyData:
    x: torch.Tensor  # (sequences, length, 1)
    y: torch.Tensor  # (sequences,)


def load(options: ToyOptions, arms: list) -> ToyData:
    gen = torch.Generator().manual_seed(0)
    x = torch.rand(options.sequences, options.length, 1, generator=gen)
    return ToyData(x, x.sum(dim=(1, 2)) + 0.05 * torch.randn(options.sequences, generator=gen))


def parts(n: int) -> tuple[slice, slice, slice]:
    """Training, validation and test parts: 60/20/20 in order."""
    a, b = int(0.6 * n), int(0.8 * n)
    return slice(0, a), slice(a, b), slice(b, n)


def describe(data: ToyData) -> str:
    return f"{len(data.y)} sequences of {data.x.shape[1]} steps"
