"""The q2 trial's config: one frozen dataclass, every field documented."""

from __future__ import annotations

from dataclasses import dataclass

from trainables.common.config import ConfigError, check_choice, check_range, validate_fields

FORMULATIONS = ("sequence", "report")
LOSSES = ("ce", "mse", "mae")
CELLS = ("lstm", "gru", "rnn")
SCHEDULES = ("constant", "cosine", "onecycle")


@dataclass(frozen=True)
class CharConfig:
    """Defaults: the default formulation as tuned in benchmarks/q2_budget.py; the
    report's own values are noted per field (and set by studies/q2.py's grid)."""

    formulation: str = "sequence"
    """sequence: embedding input, a prediction at every position, truncated
    back-propagation through time with the hidden state carried between
    consecutive chunks. report: the report's set-up, a window of ``seq_len``
    characters scaled to 0..1 as one feature per step, one prediction (the
    next character) per window. Both spend ``batch_size * seq_len``
    character-steps per optimizer step, so equal steps mean equal compute."""
    loss: str = "ce"
    """Training objective: ce (cross-entropy on the logits), or mse / mae of
    the softmax output against the one-hot target (the report's comparison).
    Validation always reports cross-entropy, so losses compare."""
    cell: str = "gru"
    """Recurrent cell: lstm (the report's), gru or rnn."""
    num_layers: int = 2
    """Stacked recurrent layers (the report: 2)."""
    hidden_size: int = 256
    """Units per recurrent layer (the report: 256)."""
    embed_size: int = 64
    """Embedding width (sequence formulation only; the report feeds one scaled number)."""
    seq_len: int = 64
    """Characters per window (report) or per back-propagation chunk (sequence); the report: 100."""
    dropout: float = 0.0
    """Dropout after every recurrent layer (the report: 0.2; short CPU budgets do not overfit)."""
    batch_size: int = 32
    """Windows (report) or parallel text streams (sequence) per step (the report: 64 or 128)."""
    epochs: int = 20
    """Reports (with validation and a checkpoint) per trial (the report: 20, 40, 100)."""
    steps_per_epoch: int = 0
    """Optimizer steps between reports; 0 means one full pass over the training part."""
    lr: float = 3e-3
    """Peak learning rate of Adam (Keras' default, the report's, is 1e-3)."""
    lr_schedule: str = "cosine"
    """constant (the report's), cosine (short warm-up, then cosine decay) or onecycle, over the trial's steps."""
    grad_clip: float = 1.0
    """Clip the gradient's global norm to this (0: no clipping, as the report)."""
    lowercase: bool = False
    """Lower-case the corpus first (the report's choice)."""
    min_char_count: int = 1
    """Characters seen fewer times than this in the corpus are rare: dropped, or replaced by ``rare_char``."""
    rare_char: str = ""
    """Replacement for rare characters; empty drops them."""
    val_fraction: float = 0.1
    """Share of the corpus, at its end, held out for validation."""
    val_max_chars: int = 20_000
    """Validation characters scored each epoch (the first ones of the held-out part; 0: all).
    The report formulation runs a whole window per scored character, hence the cap."""
    seed: int = 0
    """Seeds initialisation, shuffling and stream offsets; studies repeat trials over seeds."""
    checkpoint_every: int = 1
    """Epochs between checkpoints; the last epoch is always checkpointed."""
    amp: bool = False
    """Mixed precision (float16 autocast, scaled gradients) on GPUs; no effect on CPUs."""
    fail_at_epoch: int = -1
    """Test only: kill the worker once at this epoch (-1: never)."""

    def __post_init__(self) -> None:
        validate_fields(self)
        check_choice("formulation", self.formulation, FORMULATIONS)
        check_choice("loss", self.loss, LOSSES)
        check_choice("cell", self.cell, CELLS)
        check_choice("lr_schedule", self.lr_schedule, SCHEDULES)
        for name in ("num_layers", "hidden_size", "embed_size", "seq_len", "batch_size", "epochs",
                     "min_char_count", "checkpoint_every"):
            check_range(name, getattr(self, name), 1)
        for name in ("steps_per_epoch", "val_max_chars", "grad_clip"):
            check_range(name, getattr(self, name), 0)
        check_range("dropout", self.dropout, 0.0, 1.0, high_inclusive=False)
        check_range("lr", self.lr, 0.0, low_inclusive=False)
        check_range("val_fraction", self.val_fraction, 0.0, 0.5, low_inclusive=False)
        if len(self.rare_char) > 1:
            raise ConfigError(f"rare_char: one character or empty, got {self.rare_char!r}")
