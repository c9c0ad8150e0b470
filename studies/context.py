"""Everything a searcher needs to plan a run: the study, the command line, the run folder, the config checks."""

from __future__ import annotations

import argparse
import dataclasses
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from studies.checks import fail
from studies.study import Study
from trainables.common.config import ConfigError, TrialConfig, to_dict
from trainables.common.task import Task


@dataclass
class Context:
    study: Study
    """The study's declaration."""
    args: argparse.Namespace
    options: Any
    """The study's options (a dataclass of its own, ``Study.options``): its data flags."""
    chosen: dict[str, Any]
    """Config fields given on the command line: one value for every trial, replacing the design or space."""
    run_dir: str
    run_id: str
    resuming: bool = False
    optuna_url: str | None = None
    notes: list[str] = field(default_factory=list)
    evaluate: Callable[[Mapping[str, int]], dict[str, tuple[int, bool]]] | None = None
    """``--seeds auto``: how the run's comparisons stand, each on its first seeds (comparison -> seeds), answered
    with the seeds it read and whether a look settled it. Handed in by the study's entry point."""

    @property
    def task(self) -> Task:
        return self.study.task

    @property
    def metric(self) -> str:
        return self.task.metric

    @property
    def mode(self) -> str:
        return self.task.mode

    @property
    def optuna_study(self) -> str:
        """Optuna's study name of the run, NAME/RUN_ID: unique in a database many runs share."""
        return f"{self.args.name}/{self.run_id}"

    def smoke(self) -> dict[str, Any]:
        return self.study.smoke_settings(self.options)

    def declared_space(self) -> dict[str, Any]:
        """The study's search space, with the command line's choices in place of their domains."""
        space = dict(self.study.space(self.options))
        replaced = sorted(k for k in self.chosen if k in space)
        if replaced:
            self.notes.append(f"{', '.join(replaced)} given on the command line: one value for every trial")
        return {**space, **self.chosen}

    def fixed_space(self, fixed: Mapping[str, Any]) -> dict[str, Any]:
        """Tune's param space: every config field at its fixed or default value."""
        return to_dict(self.build_configs([dict(fixed)], searched_ok=True)[0])

    def build_configs(self, values: list[Mapping[str, Any]], searched_ok: bool = False) -> list[TrialConfig]:
        """Each dict built as the task's config (so validated); a bad value or unknown field is one line."""
        config_cls = self.task.config
        known = {f.name for f in dataclasses.fields(config_cls)}
        out = []
        for v in values:
            v = {k: x for k, x in v.items() if not (searched_ok and not _plain(x))}
            unknown = sorted(set(v) - known)
            if unknown:
                fail(f"unknown config field {unknown[0]!r} of {config_cls.__name__} (given by --set or a "
                     f"declaration); see --help for the fields")
            try:
                out.append(config_cls(**v))
            except ConfigError as exc:
                fail(str(exc))
        return out


def _plain(value: Any) -> bool:
    from ray.tune.search.sample import Domain

    return not isinstance(value, Domain)
