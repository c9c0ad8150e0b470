"""A task's report tables, declared as data; ``analysis`` builds them from a run's completed trials.

A ``Table`` groups trials and shows each metric as mean ± std over seeds,
with a row per baseline the trials report. Declared in the task (its
``task.py``), so a new task's report needs no analysis code of its own.
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
    ``prefix + metric`` for each column the trials report."""
    interval: str | None = None
    """A metric whose 95% interval of the mean gets a column of its own."""
    note: str = ""


@dataclass(frozen=True)
class Extra:
    """A report part beyond tables, by kind (``analysis.extras`` draws each kind for any task that names it)."""

    kind: str
    """curves, price_history, predictions, confusion, token_lengths, points, reach, samples."""
    options: Mapping[str, object] = field(default_factory=dict)
    """The kind's settings (e.g. which artifact, which metric, which thresholds)."""
