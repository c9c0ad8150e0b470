"""A task's report tables and parts, declared as data; ``analysis`` builds them from a run's completed trials.

A ``Table`` groups trials and shows each metric as mean ± std over seeds,
with a row per baseline the trials record. The other report parts are one
small frozen dataclass a kind, each a ``Part``, checked when declared; the
metric names and config fields they read are checked against the task when
the task is declared (``Task``), so a misspelt name stops the import, long
before Ray starts. Declared in the task (its ``task.py``), so a new task's
report needs no analysis code of its own. A new kind is a ``Part`` subclass
here and one renderer in ``analysis/report/parts.py`` (``@renders(Kind)``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Table:
    stem: str
    """File name under ``tables/`` (``.md`` and ``.csv``)."""
    title: str
    metrics: tuple[str, ...]
    """Columns; ``*`` stands for one target (``test/mape/*``: every ticker), in the order found."""
    vary: str | None = None
    """The paper's factor compared, with the others at the reference setting (rows: blocks x its levels).
    None with ``reference``: the blocks at the reference."""
    reference: bool = True
    """Rows at the paper's reference setting (its sections); False: every completed trial, grouped by the
    settings that vary (the seed aside)."""
    baselines: Mapping[str, str] = field(default_factory=dict)
    """Row label -> the prefix of a baseline's metric names (``baseline/persistence/``): its row shows
    ``prefix + metric`` for each column the trials record."""
    interval: str | None = None
    """A metric whose 95% interval of the mean gets a column of its own."""
    note: str = ""


class PartError(ValueError):
    """A report part declared with a value it cannot use; the message names the part and the field."""


@dataclass(frozen=True)
class Part:
    """A report part beyond tables: every kind subclasses it; ``analysis.report.parts`` has one renderer a kind."""

    def metrics_used(self) -> tuple[str, ...]:
        """The metric names the part reads: checked against the task's schema when the task is declared."""
        return ()

    def fields_used(self) -> tuple[str, ...]:
        """The config fields the part reads: checked against the task's config when the task is declared."""
        names = [getattr(self, n, None) for n in ("loss_field", "rounds_field", "cut_field")]
        return tuple(n for n in names if n)


def kinds() -> list[type[Part]]:
    """Every kind of report part (the subclasses of ``Part``, a task's own included once imported)."""
    return Part.__subclasses__()


def _need(ok: bool, part: object, message: str) -> None:
    if not ok:
        raise PartError(f"{type(part).__name__}: {message}")


@dataclass(frozen=True)
class Curves(Part):
    """Learning curves of each group's best trial: the selection metric, and each training loss on its own panel."""

    loss_field: str | None = None
    """The config field naming the training loss: trials that train on different losses get panels of their own."""
    rounds_field: str | None = None
    """The config field that makes an epoch a round of updates when it is not 0 (q2's ``steps_per_epoch``)."""


@dataclass(frozen=True)
class Series(Part):
    """A date-indexed CSV the study writes into the run folder, one panel a column (q1: the price history)."""

    file: str
    """Its name in the run folder."""
    title: str

    def __post_init__(self):
        _need(bool(self.file) and "/" not in self.file, self, f"file {self.file!r} is not a name in the run folder")


@dataclass(frozen=True)
class Predictions(Part):
    """Actual against predicted test values of each block's best trial: a CSV (date, ticker, actual, predicted)
    in the trial's final checkpoint."""

    file: str
    """Its name in the checkpoint folder."""


@dataclass(frozen=True)
class Confusion(Part):
    """Raw and row-normalised confusion matrices of each group's best trial: a JSON file in its final checkpoint."""

    file: str
    """Its name in the checkpoint folder."""


@dataclass(frozen=True)
class TokenLengths(Part):
    """Tokens per text under each tokenizer, from a CSV (model, tokens) the study writes: percentiles and a
    histogram, with the share above the trials' cut."""

    file: str
    """Its name in the run folder."""
    title: str
    cut_field: str | None = None
    """The config field holding the cut (q3's ``max_length``)."""

    def __post_init__(self):
        _need(bool(self.file) and "/" not in self.file, self, f"file {self.file!r} is not a name in the run folder")


@dataclass(frozen=True)
class Points(Part):
    """A metric at given epochs (or rounds), read off each trial's curve, mean ± std per group."""

    metric: str
    epochs: tuple[int, ...]
    rounds_field: str | None = None
    """As ``Curves.rounds_field``."""

    def __post_init__(self):
        _need(bool(self.epochs) and all(isinstance(e, int) and e > 0 for e in self.epochs), self,
              f"epochs {self.epochs!r}: give one or more positive whole numbers")

    def metrics_used(self) -> tuple[str, ...]:
        return (self.metric,)


@dataclass(frozen=True)
class Reach(Part):
    """Epochs, work and seconds until a metric (lower is better) first reaches each threshold, per group."""

    metric: str
    thresholds: tuple[float, ...]
    work: str | None = None
    """A metric counting work done so far (q2's ``train/chars``), shown beside epochs and seconds."""

    def __post_init__(self):
        _need(bool(self.thresholds), self, "give one or more thresholds")

    def metrics_used(self) -> tuple[str, ...]:
        return (self.metric, *((self.work,) if self.work else ()))


@dataclass(frozen=True)
class Samples(Part):
    """Greedy and sampled text from each group's best trial (tasks that generate); the seed text is the run's
    (study.json) or this one."""

    seed_text: str = ""
    length: int = 300
    """Characters generated."""

    def __post_init__(self):
        _need(self.length > 0, self, f"length {self.length}: must be positive")
