"""A task's metric schema: every name its trials record, checked at each record and when a run is read.

Names come from the functions in ``trainables.common.metrics``; a schema
lists them, with ``*`` standing for one target segment (a ticker, a class):
``val/mape/*`` covers ``val/mape/GOOG``. A trial whose final record holds a
name outside its schema, or lacks one the schema requires, fails at once
with the name; a run whose completed trials lack a required column is an
error naming it, never a claim quietly "not run".
"""

from __future__ import annotations

import fnmatch
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from trainables.common import metrics as M


class SchemaError(ValueError):
    """A metric name a task does not declare, or one it declares and did not report."""


@dataclass(frozen=True)
class Schema:
    epoch: tuple[str, ...]
    """Reported every epoch (the shared loop's own names are added: ``metrics.LOOP``)."""
    final: tuple[str, ...]
    """Recorded in the final record only (test metrics, baselines), all required."""
    optional: tuple[str, ...] = ()
    """May appear (e.g. a cache's build time, a free-generation failure rate)."""

    @property
    def required(self) -> tuple[str, ...]:
        return (*M.LOOP_EPOCH, *self.epoch, *self.final, *M.LOOP_FINAL)

    def known(self, name: str) -> bool:
        patterns = (*self.required, *self.optional, *M.LOOP_OPTIONAL)
        return any(fnmatch.fnmatchcase(name, p) for p in patterns)

    def check_record(self, metrics: Mapping[str, Any], final: bool) -> None:
        """Raise ``SchemaError`` naming the first metric outside the schema, or one a final record lacks."""
        for name in metrics:
            if not self.known(name):
                raise SchemaError(f"metric {name!r} is not in the task's schema (trainables/*/task.py)")
        if final:
            for name in self.required:
                if not any(fnmatch.fnmatchcase(m, name) for m in metrics):
                    raise SchemaError(f"the final record has no {name!r}, which the task's schema requires")

    def check_columns(self, columns: Iterable[str], what: str) -> None:
        """Raise ``SchemaError`` naming the first metric the task declares that ``columns`` lack."""
        have = list(columns)
        if not have:
            return
        for name in (*self.epoch, *self.final):
            if not any(fnmatch.fnmatchcase(c, name) for c in have):
                raise SchemaError(f"{what}: no {name!r}, which the task's schema requires")
