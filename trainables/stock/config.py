"""The q1 trial's config: one frozen dataclass, every field documented."""

from __future__ import annotations

from dataclasses import dataclass

from trainables.common.config import ConfigError, TrialConfig, check_choice, check_range

CELLS = ("rnn", "lstm", "gru")
LOSSES = ("mse", "mape")
OPTIMIZERS = ("adam", "adagrad", "rmsprop")
FIELDS = ("open", "high", "low", "close", "adj_close", "volume")
FORMULATIONS = ("returns", "paper")


@dataclass(frozen=True)
class StockConfig(TrialConfig):
    cell: str = "lstm"
    """Recurrent cell: rnn, lstm or gru."""
    hidden_size: int = 64
    """Units per recurrent layer (the paper: 64)."""
    num_layers: int = 2
    """Stacked recurrent layers (the paper: 2)."""
    dropout: float = 0.0
    """Dropout between the recurrent layers and before the head (the paper: 0 or 0.1)."""
    loss: str = "mse"
    """Training loss: mse on the model's scaled target, or mape on the prices it implies (stock/metrics.py)."""
    optimizer: str = "adam"
    """adam, adagrad or rmsprop."""
    lr: float = 1e-3
    """Learning rate (Keras' default for all three optimizers)."""
    epochs: int = 100
    """Most passes over the training windows (the paper: 100; with ``patience`` a trial may stop sooner)."""
    patience: int = 10
    """Stop after this many epochs without a better validation MAPE (0: every epoch, as the paper). The
    returns formulation's best validation epoch comes early, so training past it changes almost no test
    number (benchmarks/RESULTS.md, q1 early stopping); the paper's design trains the paper formulation's
    arms every epoch, as it improves until its last ones."""
    batch_size: int = 64
    """Windows per step. Keras' default is 32; 64 trains a grid faster with the same errors
    (benchmarks/RESULTS.md, q1); ``--batch-size 32`` restores the paper's."""
    window: int = 30
    """Past days the model sees to predict the next day."""
    split_window: int = 0
    """Days kept as inputs only before the first target day, if more than ``window``: a search over
    windows sets it to its largest, so every trial is selected and tested on the same days."""
    formulation: str = "returns"
    """returns: daily changes in, next-day return out (scale-free); paper: min-max scaled price
    levels in and out. Both are scored on the prices they imply."""
    features: tuple[str, ...] = ("close",)
    """Price fields fed per ticker (or all); all six give the paper's 12 inputs for two tickers."""
    val_fraction: float = 0.15
    """Share of the target days, after the training part, for validation."""
    test_fraction: float = 0.15
    """Share of the target days, at the end, held out for the final test."""
    checkpoint_every: int = 10
    """Epochs between checkpoints; the last epoch is always checkpointed."""

    @property
    def first_target(self) -> int:
        """Index of the first target day: the rows before it are inputs only."""
        return max(self.window, self.split_window)

    def __post_init__(self) -> None:
        super().__post_init__()
        check_choice("cell", self.cell, CELLS)
        check_choice("loss", self.loss, LOSSES)
        check_choice("optimizer", self.optimizer, OPTIMIZERS)
        check_choice("formulation", self.formulation, FORMULATIONS)
        check_range("split_window", self.split_window, 0)
        for name in ("hidden_size", "num_layers", "batch_size"):
            check_range(name, getattr(self, name), 1)
        check_range("window", self.window, 2)
        check_range("dropout", self.dropout, 0.0, 1.0, high_inclusive=False)
        check_range("lr", self.lr, 0.0, low_inclusive=False)
        check_range("val_fraction", self.val_fraction, 0.0, 0.5, low_inclusive=False)
        check_range("test_fraction", self.test_fraction, 0.0, 0.5, low_inclusive=False)
        if self.features == ("all",):  # the paper's 12 inputs: every field of both tickers
            object.__setattr__(self, "features", FIELDS)
        if not self.features:
            raise ConfigError("features: name at least one of " + ", ".join(FIELDS))
        for f in self.features:
            check_choice("features", f, FIELDS)
        if "close" not in self.features:
            raise ConfigError("features: must include close, the field being predicted")
