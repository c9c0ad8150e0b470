"""A study, declared: its task, data, search space and smoke test. Running it is ``studies.launch``'s job.

A study module (``studies/q1.py``) declares one ``Study`` named ``STUDY``
and runs it from its ``main`` (``studies.launch.main(STUDY, argv)``). What the paper compared (the
reference setting, the factors, the claims) is the task's (``TASK.paper``),
so the study's designs and analysis' verdicts come from one declaration.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from trainables.common.task import Task


def _same(arm: Mapping[str, Any], options: Any) -> dict[str, Any]:
    return dict(arm)


def _nothing(*_: Any) -> dict:
    return {}


@dataclass(frozen=True)
class Study:
    name: str
    """The study's name (``q1``): the default name folder (``--name``), and what study.json records."""
    task: Task
    description: str
    """``--help``'s text: the first line says what the study asks."""
    options: type
    """Dataclass of the data source and study options; each field is a flag."""
    load: Callable[[Any, list[Any]], Any]
    """(options, every arm's config) -> the data all trials share; raises DataError."""
    space: Callable[[Any], dict[str, Any]]
    """(options) -> field -> Tune domain (or a fixed value): the space ``--search optuna`` and ``random`` search."""
    smoke: dict[str, Any] | Callable[[Any], dict[str, Any] | list[dict[str, Any]]]
    """Small settings of ``--smoke-test`` (lists are factors), or (options) -> them or the arms themselves."""
    arm: Callable[[Mapping[str, Any], Any], dict[str, Any]] = _same
    """(a design arm, options) -> config values: maps the paper's factors onto the config (q3: a model family
    onto the encoder the options name)."""
    grace_period: int = 1
    """Epochs before ASHA may stop a trial."""
    cpus_per_trial: float = 1.0
    """The default of ``--cpus-per-trial``: below 1 for trials too small to keep a core busy while Ray starts
    the next one."""
    aliases: dict[str, list[str]] = field(default_factory=dict)
    """Old flag spellings kept for scripts: field -> extra flags."""
    describe: Callable[[Any], str] = str
    """One line about the loaded data, printed before the trials."""
    manifest: Callable[[Any, Any], dict[str, Any]] = _nothing
    """(options, data) -> extra study.json entries (what analysis needs to know about the data)."""
    files: Callable[[Any], dict[str, str]] = _nothing
    """(data) -> files about the data for the run folder (name -> text), e.g. the price history."""
    smoke_options: dict[str, Any] = field(default_factory=dict)
    """Option values of ``--smoke-test`` where the command line left the default (e.g. offline data)."""

    def smoke_settings(self, options: Any) -> dict[str, Any] | list[dict[str, Any]]:
        return self.smoke(options) if callable(self.smoke) else dict(self.smoke)
