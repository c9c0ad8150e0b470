"""The searcher contract: what a module of ``studies/searchers/`` defines for ``available()`` to find it."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING, Protocol, runtime_checkable

if TYPE_CHECKING:
    from studies.context import Context
    from studies.searchers.base import Plan


@runtime_checkable
class Searcher(Protocol):
    """A searcher module: its ``--search`` value, its help line, its own flags and its plan of a run."""

    NAME: str
    """The ``--search`` value."""
    HELP: str
    """One line for ``--help``."""

    def add_flags(self, group: argparse._ArgumentGroup) -> None:
        """Add the searcher's own flags (none is fine) to its group of the study's parser."""

    def plan(self, ctx: Context) -> Plan:
        """What Tune runs and what is checked before Ray starts, from the run's context."""
