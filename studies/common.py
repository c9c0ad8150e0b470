"""What every study shares: the Study declaration and its command line, checks, Ray and Tuner.

A study module declares a ``Study`` (its task, the paper's grid, the Optuna
space, the smoke test, how to load its data) and calls ``Study.main``. This
module turns the command line into trial configs, checks every arm's config
and the data before Ray starts, and runs (or resumes) the Tuner on a local
Ray sized to the machine or on the cluster named by ``--address`` /
``RAY_ADDRESS``. It never imports analysis: a study calls analysis once, at
its end, on the run folder this returns.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ray import tune
from ray.tune.search.sample import Domain

from studies import cli, provenance, runner, search
from trainables.common import storage
from trainables.common.config import ConfigError, to_dict
from trainables.common.errors import DataError
from trainables.common.layout import STUDY_FILE
from trainables.common.task import Task, trainable


@dataclass(frozen=True)
class Study:
    task: Task
    description: str
    """First line of ``--help``."""
    options: type
    """Dataclass of the data source and study options; each field is a flag."""
    load: Callable[[Any, list[Any]], Any]
    """(options, every arm's config) -> the data all trials share; raises DataError."""
    grid: Callable[[Any], dict[str, Any]]
    """(options) -> the paper's factors: field -> list of values (or a tune domain)."""
    optuna: Callable[[Any], dict[str, Any]]
    """(options) -> field -> tune domain, searched by Optuna with ASHA stopping (a plain value: fixed)."""
    smoke: dict[str, Any] | Callable[[Any], dict[str, Any]]
    """Small settings and factors of ``--smoke-test`` (lists and tune domains are factors), or (options) -> them."""
    paper: dict[str, Any] = field(default_factory=dict)
    """Settings of the paper's grid arms that differ from the config's defaults."""
    grace_period: int = 1
    """Epochs before ASHA may stop a trial."""
    aliases: dict[str, list[str]] = field(default_factory=dict)
    """Old flag spellings kept for scripts: field -> extra flags."""
    describe: Callable[[Any], str] = str
    """One line about the loaded data, printed before the trials."""
    record: Callable[[Any, Any], dict[str, Any]] = lambda options, data: {}
    """Extra study.json entries (what analysis needs to know about the data)."""
    files: Callable[[Any], dict[str, str]] = lambda data: {}
    """Files about the data for the run folder (name -> text), e.g. the price history analysis plots."""
    smoke_options: dict[str, Any] = field(default_factory=dict)
    """Option values of ``--smoke-test`` where the command line left the default (e.g. offline data)."""

    def main(self, argv: list[str] | None = None) -> str:
        """Parse, check, run; the run folder."""
        args = self.parser().parse_args(argv)
        runner.check_args(args)
        options = _checked(lambda: cli.build(args, self.options))
        if args.smoke_test and self.smoke_options:
            options = _checked(lambda: _smoke_options(options, self.smoke_options))
        space, arms = self.space(args, options)
        data = _checked(lambda: _with_notes(lambda: self.load(options, arms)))
        print(f"{self.task.study}: {self.describe(data)}")
        path = runner.run_dir(args)
        write_study_file(path, {"study": self.task.study, "task": self.task.name, "argv": sys.argv,
                                "search": "smoke" if args.smoke_test else args.search,
                                "metric": self.task.metric, "mode": self.task.mode, **self.record(options, data)})
        for name, text in self.files(data).items():
            storage.write_text(storage.join(path, name), text)
        tune_config = search.tune_config(args, path, self.task.metric, self.task.mode,
                                         max_t=max(a.epochs for a in arms), grace_period=self.grace_period)
        fn = tune.with_parameters(trainable(self.task), data=data)
        runner.run(args, fn, space, tune_config)
        provenance.update(path, data_loaded_sha256=provenance.fingerprint(data))
        return path

    def parser(self) -> argparse.ArgumentParser:
        p = runner.base_parser(self.description, default_name=self.task.study)
        cli.add_dataclass_flags(p, self.options, "data and study options", defaults=True)
        cli.add_dataclass_flags(p, self.task.config, "trial config (a value given here is used by every trial, "
                                "replacing that field's grid or search space)", defaults=False,
                                # A field the options declare too is set through the option's flag.
                                skip=("fail_at_epoch", *self._option_names()),
                                aliases=self.aliases)
        return p

    def _option_names(self) -> tuple[str, ...]:
        return tuple(f.name for f in dataclasses.fields(self.options))

    def space(self, args: argparse.Namespace, options: Any) -> tuple[dict[str, Any], list[Any]]:
        """Ray Tune's param space, and every arm's config, built and validated."""
        if args.smoke_test:
            fixed, factors = _split(self.smoke(options) if callable(self.smoke) else self.smoke)
        elif args.search == "grid":
            fixed, factors = dict(self.paper), self.grid(options)
            factors.setdefault("seed", list(range(args.seeds)))
        else:
            declared = self.optuna(options)
            fixed = {k: v for k, v in declared.items() if not isinstance(v, (Domain, list))}
            factors = {k: v for k, v in declared.items() if k not in fixed}
        owned = self._option_names()  # flags of the options, not of the config
        chosen = {**{k: v for k, v in cli.chosen(args, self.task.config).items() if k not in owned},
                  **runner.overrides(args)}
        ignored = sorted(k for k in chosen if k in factors)
        if ignored:
            print(f"note: {', '.join(ignored)} given on the command line: one value for every trial")
        factors = {k: v for k, v in factors.items() if k not in chosen}
        fixed.update(chosen)
        arms = _checked(lambda: search.arm_configs(self.task.config, fixed, factors))
        space = {**to_dict(self.task.config(**fixed)), **search.domains(factors)}
        return space, arms


def write_study_file(path: str, info: dict[str, Any]) -> None:
    """Record which study made a run folder, so analysis can read it back alone."""
    storage.write_text(storage.join(path, STUDY_FILE), json.dumps(info, indent=2, default=str))


def _split(declared: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """Fixed values and factors (lists and tune domains) of a declaration."""
    fixed = {k: v for k, v in declared.items() if not isinstance(v, (list, Domain))}
    return fixed, {k: v for k, v in declared.items() if k not in fixed}


def _smoke_options(options: Any, smoke: dict[str, Any]) -> Any:
    """``options`` with the smoke test's values wherever an option still has its default."""
    defaults = {f.name: f.default for f in dataclasses.fields(options)}
    return dataclasses.replace(options, **{k: v for k, v in smoke.items() if getattr(options, k) == defaults[k]})


def _checked(fn: Callable[[], Any]) -> Any:
    """``fn()``, with bad input turned into the CLI's one-line error."""
    try:
        return fn()
    except (ConfigError, DataError) as exc:
        runner.fail(str(exc))
    except TypeError as exc:  # an unknown field name in --set or a declaration
        runner.fail(str(exc).replace("__init__() ", ""))


def _with_notes(fn: Callable[[], Any]) -> Any:
    """``fn()``, its warnings printed as one-line notes (e.g. rows dropped from the data)."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        out = fn()
    for w in caught:
        if not issubclass(w.category, (DeprecationWarning, FutureWarning)):
            print(f"note: {w.message}")
    return out
