"""Checks shared by the task configs, and the fields every trial has.

Every task has one frozen dataclass, a ``TrialConfig``, whose
``__post_init__`` calls ``validate_fields`` and then its own range checks,
so a bad value fails when the trial starts (or before the study starts,
when the study builds one) with a message that names the field.
"""

from __future__ import annotations

import dataclasses
import itertools
import math
import numbers
import typing
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np

AMP_DTYPES = ("float16", "bfloat16")


class ConfigError(ValueError):
    """A config value that cannot be used, with the field named."""


def validate_fields(cfg: Any) -> None:
    """Check and normalise each field's type from its annotation.

    Values arrive from Ray Tune and Optuna as numpy scalars, from JSON as
    lists instead of tuples and as ints where floats are meant; they are
    converted here so that the frozen config holds plain Python values.
    """
    hints = typing.get_type_hints(type(cfg))
    for field in dataclasses.fields(cfg):
        value = getattr(cfg, field.name)
        fixed = _coerce(field.name, value, hints[field.name])
        if fixed is not value:
            object.__setattr__(cfg, field.name, fixed)


def _coerce(name: str, value: Any, hint: Any) -> Any:
    origin = typing.get_origin(hint)
    if origin is tuple:
        if isinstance(value, str) or not isinstance(value, Iterable):
            raise ConfigError(f"{name}: expected a list of values, got {value!r}")
        (inner, *_rest) = typing.get_args(hint)
        return tuple(_coerce(name, v, inner) for v in value)
    if hint is bool:
        if isinstance(value, (bool, np.bool_)):
            return bool(value)
        raise ConfigError(f"{name}: expected true or false, got {value!r}")
    if hint is int:
        if isinstance(value, numbers.Integral) and not isinstance(value, bool):
            return int(value)
        if isinstance(value, float) and value.is_integer():
            return int(value)
        raise ConfigError(f"{name}: expected an integer, got {value!r}")
    if hint is float:
        if isinstance(value, numbers.Real) and not isinstance(value, bool):
            return float(value)
        raise ConfigError(f"{name}: expected a number, got {value!r}")
    if hint is str:
        if isinstance(value, str):
            return value
        raise ConfigError(f"{name}: expected a string, got {value!r}")
    return value


def check_choice(name: str, value: Any, choices: Iterable[Any]) -> None:
    choices = tuple(choices)
    if value not in choices:
        raise ConfigError(f"{name}: {value!r} is not one of {', '.join(map(str, choices))}")


def check_range(
    name: str, value: float, low: float | None = None, high: float | None = None,
    *, low_inclusive: bool = True, high_inclusive: bool = True,
) -> None:
    """Raise unless ``low <= value <= high`` (bounds optional, each may be open).

    NaN compares false with everything, so it would slip past both bounds; it is refused.
    """
    if isinstance(value, float) and math.isnan(value):
        raise ConfigError(f"{name}: expected a number, got nan")
    too_low = low is not None and (value < low if low_inclusive else value <= low)
    too_high = high is not None and (value > high if high_inclusive else value >= high)
    if too_low or too_high:
        lo = "" if low is None else f"{'[' if low_inclusive else '('}{low}"
        hi = "" if high is None else f"{high}{']' if high_inclusive else ')'}"
        raise ConfigError(f"{name}: {value!r} is outside {lo or '(-inf'}, {hi or 'inf)'}")


def differing(configs: list[dict[str, Any]]) -> list[str]:
    """The fields whose value is not the same in every one of ``configs`` (plain dicts), in order: the one
    definition of "the settings that vary" between configs (``analysis.runs.read.varying`` is its table form)."""
    import json

    if not configs:
        return []
    keys = list(dict.fromkeys(k for c in configs for k in c))
    return [k for k in keys if len({json.dumps(c.get(k), default=str, sort_keys=True) for c in configs}) > 1]


def to_dict(cfg: Any) -> dict[str, Any]:
    """Plain dict (tuples as lists) for checkpoints and JSON."""
    return {k: list(v) if isinstance(v, tuple) else v for k, v in dataclasses.asdict(cfg).items()}


@dataclass(frozen=True)
class TrialConfig:
    """What the shared trial loop reads; each task's config extends it.

    A task redeclares a field to change its default (q1 trains 100 epochs,
    q3 five); the field keeps its place and its checks.
    """

    epochs: int = 10
    """Most epochs a trial trains (with ``patience``, it may stop sooner)."""
    patience: int = 0
    """Stop after this many epochs without a better validation score (0: train every epoch)."""
    budget_s: float = 0.0
    """Training-time budget in seconds (0: none): the trial ends after the first epoch whose cumulative
    training time (inside train_epoch only; validation and checkpoints are off the clock) reaches it,
    reported as time/train_s. Epochs still end it first if fewer fit; a resumed trial keeps what it spent."""
    seed: int = 0
    """Seeds initialisation, dropout and shuffling; studies repeat trials over seeds."""
    checkpoint_every: int = 1
    """Epochs between checkpoints; the last epoch is always checkpointed."""
    amp: bool = False
    """Mixed precision when the trial has a GPU (autocast in ``amp_dtype``); ignored on CPUs."""
    amp_dtype: str = "float16"
    """With ``amp``: float16 (scaled gradients; every CUDA GPU) or bfloat16 (float32's range, no scaling; GPUs
    from Ampere on, float32 where the GPU lacks it)."""
    deterministic: bool = False
    """Deterministic algorithms (``torch.use_deterministic_algorithms``, deterministic cuDNN without its
    benchmark), so a GPU trial repeats bit for bit, at some speed; an op without a deterministic implementation
    warns, naming itself (benchmarks/gpu_check.py lists them)."""
    fail_at_epoch: int = -1
    """Fault injection: kill the worker once at this epoch (-1: never); `--set fail_at_epoch=N` checks that a
    cluster retries a crashed trial from its checkpoint (`--max-failures`)."""

    def __post_init__(self) -> None:
        validate_fields(self)
        for name in ("epochs", "checkpoint_every"):
            check_range(name, getattr(self, name), 1)
        check_range("patience", self.patience, 0)
        check_range("seed", self.seed, 0)
        check_range("budget_s", self.budget_s, 0.0)
        check_choice("amp_dtype", self.amp_dtype, AMP_DTYPES)
        if math.isinf(self.budget_s):
            raise ConfigError("budget_s: inf is not a budget (0 means none)")

    @property
    def known_epochs(self) -> int | None:
        """The epochs the trial trains, when its config alone says so (no early stop, no budget); else None."""
        return self.epochs if self.patience == 0 and self.budget_s == 0 else None

    @property
    def work(self) -> float:
        """What the trial costs, in units proportional to its seconds on one machine, for comparing the trials
        of one run (the live line's time left): its budget's seconds, else its epochs. A task whose arms differ
        in cost an epoch says by how much."""
        return float(self.budget_s or self.epochs)


def field_docs(cls: type) -> dict[str, str]:
    """Each dataclass field's docstring (the string literal under it), base classes first.

    The configs document every field this way (as nanoGPT and cleanrl do);
    the study CLIs turn these into ``--help`` text, so the docs live once.
    """
    import ast
    import inspect
    import textwrap

    docs: dict[str, str] = {}
    for klass in reversed(cls.__mro__):
        if not dataclasses.is_dataclass(klass):
            continue
        tree = ast.parse(textwrap.dedent(inspect.getsource(klass)))
        body = tree.body[0].body
        for node, nxt in itertools.pairwise(body):
            if (isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name) and isinstance(nxt, ast.Expr)
                    and isinstance(nxt.value, ast.Constant) and isinstance(nxt.value.value, str)):
                docs[node.target.id] = " ".join(nxt.value.value.split())
    return docs
