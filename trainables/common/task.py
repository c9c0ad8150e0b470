"""A task, as the loop, the studies and analysis see it, and its Ray Tune trainable.

Each task package (``trainables/stock``, ``chargen``, ``tweets``) has the
same files: ``config.py`` (its ``TrialConfig``), ``data.py`` (loading and
validation, all before Ray starts, one-line ``DataError``), ``model.py``
(plain ``nn.Module``s), ``trainer.py`` (the Ray-free ``Trainer``) and
``task.py``, which declares its ``TASK``: names, main metric, schema, report.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch

from trainables.common import runtime
from trainables.common.config import TrialConfig
from trainables.common.loop import RaySession, Session, Trainer, run_trial
from trainables.common.paper import Paper
from trainables.common.parts import Part, PartError, Samples, Table
from trainables.common.schema import Schema


def seed_only(seed: int) -> dict[str, int]:
    return {"seed": seed}


@dataclass(frozen=True)
class Task:
    name: str
    """Package name (``stock``); also names the trainable."""
    study: str
    """The study that runs it (``q1``); analysis modules are named after it."""
    config: type[TrialConfig]
    metric: str
    """The selection metric: best epoch, Optuna's objective, the tables' "best"."""
    mode: str
    """min or max."""
    build: Callable[[Any, Any, torch.device], Trainer]
    """(config, data, device) -> Trainer, with ``data`` as the study put it in the object store."""
    paper: Paper
    """The paper's design and conclusions: reference setting, factors, claims (the task's ``paper.py``)."""
    module: str
    """Where this ``TASK`` is defined (``trainables.stock.task``): study.json records it, and analysis imports it."""
    replicate: Callable[[int], dict[str, Any]] = seed_only
    """Seed k of a study -> the config fields it sets: the seed, and for q3 the split too."""
    schema: Schema | None = None
    """Every metric name the task's trials record (``trainables.common.schema``)."""
    tables: tuple[Table, ...] = ()
    """The report's tables (``trainables.common.parts``), built by analysis from completed trials."""
    parts: tuple[Part, ...] = ()
    """Report parts beyond tables (``trainables.common.parts``, drawn by ``analysis.report.parts``): learning curves,
    predictions, samples..."""
    uses_weights: bool = False
    """Whether analysis loads trained weights (q2's samples generate text), so remote runs copy them down."""
    generate: Callable[..., str] | None = None
    """(checkpoint folder, seed text, length, greedy, temperature, seed) -> text, for tasks that generate."""
    notes: Callable[[list[Any]], list[str]] | None = None
    """(every planned config) -> what the study says about them on this machine before Ray starts, one line
    each (q2: the cells this CPU cannot compute in bfloat16 train in float32)."""

    def __post_init__(self):
        """Each report part checked against the task: the config fields and metric names it reads exist."""
        fields = {f.name for f in dataclasses.fields(self.config)}
        for part in self.parts:
            where = f"{self.module}: {type(part).__name__}"
            if not isinstance(part, Part):
                raise PartError(f"{where}: {part!r} is not a report part (trainables.common.parts.Part)")
            for name in part.fields_used():
                if name not in fields:
                    raise PartError(f"{where}: {name!r} is not a field of {self.config.__name__}")
            for name in part.metrics_used() if self.schema is not None else ():
                if not self.schema.known(name):
                    raise PartError(f"{where}: metric {name!r} is not in the task's schema")
            if isinstance(part, Samples) and self.generate is None:
                raise PartError(f"{where}: the task does not generate (Task.generate)")


def train_trial(task: Task, config: dict[str, Any], data: Any, session: Session,
                threads: int | None = None) -> dict[str, Any]:
    """One trial of ``task``: config checked, seeded, on the device it was given, on ``threads`` CPU threads
    (None: the CPUs Ray gave it; outside Ray, every core)."""
    cfg = task.config(**config)
    runtime.reset_process()
    device = runtime.setup_device(threads, deterministic=cfg.deterministic)
    runtime.seed_everything(cfg.seed)
    trainer = task.build(cfg, data, device)
    check = task.schema.check_record if task.schema else None
    return run_trial(trainer, cfg, session, task.metric, task.mode, check)


def trainable(task: Task) -> Callable[[dict[str, Any], Any], None]:
    """The function trainable Ray Tune runs; data arrives through ``tune.with_parameters``."""

    def train(config: dict[str, Any], data: Any) -> None:
        train_trial(task, config, data, RaySession())

    train.__name__ = train.__qualname__ = f"train_{task.name}"
    return train
