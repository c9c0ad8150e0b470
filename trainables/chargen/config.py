"""The q2 trial's config: one frozen dataclass, every field documented."""

from __future__ import annotations

from dataclasses import dataclass

from trainables.common.config import ConfigError, TrialConfig, check_choice, check_range

FORMULATIONS = ("sequence", "paper")
FORMULATION_ALIASES = {"report": "paper"}  # the name runs made before the rename carry
LOSSES = ("ce", "mse", "mae")
CELLS = ("lstm", "gru", "rnn")
SCHEDULES = ("constant", "cosine", "onecycle")
STEP_FORWARDS = 3  # a training character-step, forward and backward, in forward ones (CharConfig.work)


@dataclass(frozen=True)
class CharConfig(TrialConfig):
    """Defaults: the sequence formulation as tuned in benchmarks/q2_budget.py; the
    paper's own values are noted per field (and set by studies/q2.py's grid)."""

    formulation: str = "sequence"
    """sequence: embedding input, a prediction at every position, truncated
    back-propagation through time with the hidden state carried between
    consecutive chunks. paper: the paper's set-up, a window of ``seq_len``
    characters scaled to 0..1 as one feature per step, one prediction (the
    next character) per window ("report" is accepted for it). Both spend
    ``batch_size * seq_len`` character-steps per optimizer step, so equal
    steps mean equal compute."""
    loss: str = "ce"
    """Training objective: ce (cross-entropy on the logits), or mse / mae of
    the softmax output against the one-hot target (the paper's comparison).
    Validation and test always report cross-entropy, so losses compare."""
    cell: str = "gru"
    """Recurrent cell: lstm (the paper's), gru or rnn."""
    num_layers: int = 2
    """Stacked recurrent layers (the paper: 2)."""
    hidden_size: int = 256
    """Units per recurrent layer (the paper: 256)."""
    embed_size: int = 64
    """Embedding width (sequence formulation only; the paper feeds one scaled number)."""
    seq_len: int = 64
    """Characters per window (paper) or per back-propagation chunk (sequence); the paper: 100."""
    dropout: float = 0.0
    """Dropout after every recurrent layer (the paper: 0.2; short CPU budgets do not overfit)."""
    batch_size: int = 32
    """Windows (paper) or parallel text streams (sequence) per step (the paper: 64 or 128)."""
    epochs: int = 20
    """Epochs a trial trains, each followed by validation (the paper: 20, 40, 100). An epoch is one
    full pass over the training part unless ``steps_per_epoch`` makes it a shorter round."""
    steps_per_epoch: int = 0
    """0: an epoch is one full pass over the training part. N > 0: an "epoch" is a round of N
    optimizer steps (analysis then labels it a round; train/chars and train/steps count the work)."""
    lr: float = 3e-3
    """Peak learning rate of Adam (Keras' default, the paper's, is 1e-3)."""
    lr_schedule: str = "cosine"
    """constant (the paper's), cosine (short warm-up, then cosine decay) or onecycle, over the trial's steps
    (``epochs * steps_per_epoch``), or over its training seconds when ``budget_s`` gives it a budget."""
    grad_clip: float = 1.0
    """Clip the gradient's global norm to this (0: no clipping, as the paper)."""
    lowercase: bool = False
    """Lower-case the corpus first (the paper's choice)."""
    min_char_count: int = 1
    """Characters seen fewer times than this in the training part are rare: dropped, or replaced by ``rare_char``."""
    rare_char: str = ""
    """Replacement for rare characters (and for held-out characters the training part lacks); empty drops them."""
    val_fraction: float = 0.05
    """Share of the corpus, after the training part, for validation (choosing the best epoch)."""
    test_fraction: float = 0.05
    """Share of the corpus, at its end, held out for the final test (scored once, whole)."""
    cpu_bf16: bool = False
    """bfloat16 autocast of the training steps on a CPU (ignored on GPUs, where ``amp`` does this): the matrix
    products and oneDNN's LSTM run in bfloat16 with float32 weights, optimizer and scores. On CPUs with
    AVX-512 BF16 or AMX about twice the characters per second (the LSTM gains most; measure with
    ``benchmarks/q2_budget.py --levers``); the numbers differ slightly from float32's, so it is off by default.
    Where the CPU cannot compute the cell in bfloat16 (no bfloat16 kernels, e.g. AVX2 only; the GRU on any
    CPU), probed where the trial runs, the trial trains in float32: ``train/precision`` says which ran."""
    val_max_chars: int = 20_000
    """Validation characters scored each epoch (the first ones of the validation part; 0: all).
    The paper formulation runs a whole window per scored character, hence the cap."""
    test_max_chars: int = 0
    """Test characters scored once at the end (the first ones of the test part; 0: all of it, ``test/chars``
    says how many). The paper formulation's whole test part on Shakespeare is 239,351 windows of 100 steps:
    longer than its training (343 s of a 604 s trial, benchmarks/RESULTS.md)."""

    @property
    def work(self) -> float:
        """Character-steps (see TrialConfig.work): a round's updates, backward and forward (about three forward
        passes), its validation, and the capped test, a whole window per scored character in the paper
        formulation (a whole test part is left out: its size is the corpus'). A full pass
        (``steps_per_epoch`` 0) is the corpus, which every trial of a run shares: an epoch of windows then."""
        if self.budget_s:
            return super().work
        window = self.seq_len if self.formulation == "paper" else 1
        if not self.steps_per_epoch:
            return float(self.epochs * window)
        train = STEP_FORWARDS * self.steps_per_epoch * self.batch_size * self.seq_len
        return float(self.epochs * (train + self.val_max_chars * window) + self.test_max_chars * window)

    def __post_init__(self) -> None:
        object.__setattr__(self, "formulation", FORMULATION_ALIASES.get(self.formulation, self.formulation))
        super().__post_init__()
        check_choice("formulation", self.formulation, FORMULATIONS)
        check_choice("loss", self.loss, LOSSES)
        check_choice("cell", self.cell, CELLS)
        check_choice("lr_schedule", self.lr_schedule, SCHEDULES)
        for name in ("num_layers", "hidden_size", "embed_size", "seq_len", "batch_size", "min_char_count"):
            check_range(name, getattr(self, name), 1)
        for name in ("steps_per_epoch", "val_max_chars", "test_max_chars", "grad_clip"):
            check_range(name, getattr(self, name), 0)
        check_range("dropout", self.dropout, 0.0, 1.0, high_inclusive=False)
        check_range("lr", self.lr, 0.0, low_inclusive=False)
        check_range("val_fraction", self.val_fraction, 0.0, 0.5, low_inclusive=False)
        check_range("test_fraction", self.test_fraction, 0.0, 0.5, low_inclusive=False)
        if len(self.rare_char) > 1:
            raise ConfigError(f"rare_char: one character or empty, got {self.rare_char!r}")
