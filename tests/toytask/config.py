"""The toy trial's config: one frozen dataclass, every field documented."""

from __future__ import annotations

from dataclasses import dataclass

from trainables.common.config import TrialConfig, check_choice, check_range

CELLS = ("rnn", "gru")


@dataclass(frozen=True)
class ToyConfig(TrialConfig):
    cell: str = "rnn"
    """Recurrent cell: rnn or gru."""
    hidden: int = 8
    """Units of the recurrent layer."""
    lr: float = 0.05
    """Learning rate of Adam."""
    epochs: int = 3
    """Passes over the training sequences."""

    def __post_init__(self) -> None:
        super().__post_init__()
        check_choice("cell", self.cell, CELLS)
        check_range("hidden", self.hidden, 1)
        check_range("lr", self.lr, 0.0, low_inclusive=False)
