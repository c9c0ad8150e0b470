"""What the GPU check records: one frozen dataclass per part, every field filled on a GPU.

On a CPU the same fields exist; a value that does not apply there is None, and the part's ``reason`` says
why. ``asdict`` of a ``Check`` is the JSON file.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

Metrics = dict[str, Any]
"""A trial's final train/, val/ and test/ metrics and its best epoch: what "the same numbers" compares."""
Differences = dict[str, tuple[Any, Any]]
"""Metric -> (one run's value, the other's), for the metrics that are not the same bit for bit."""


@dataclass(frozen=True)
class Run:
    """One short training run of the task on the device."""

    device: str
    """The device the trial reported (``device`` in its records)."""
    epochs: int
    train_s: float
    """Seconds inside the training steps (``time/train_s``)."""
    throughput: float
    """``unit`` trained per second of ``train_s``."""
    unit: str
    test_loss: float
    final: Metrics


@dataclass(frozen=True)
class Resume:
    """Killed at ``killed_at``, resumed from its last checkpoint: the final numbers against the uninterrupted run."""

    killed_at: int
    exact: bool
    """Every final metric the same, bit for bit."""
    differing: Differences
    deterministic_exact: bool
    """The same with ``deterministic=True`` (``torch.use_deterministic_algorithms``, deterministic cuDNN)."""
    deterministic_differing: Differences
    nondeterministic_ops: tuple[str, ...]
    """The ops that warned, under ``deterministic=True``, that they have no deterministic implementation."""


@dataclass(frozen=True)
class Precision:
    """The run again in ``dtype`` (``--amp --amp-dtype``; q2's ``cpu_bf16`` on a CPU), against float32."""

    dtype: str
    ran: str | None
    """The precision that ran; None when it could not run here (``reason``)."""
    reason: str | None
    throughput: float | None
    speedup: float | None
    """``throughput`` over the float32 run's."""
    test_loss: float | None
    float32_test_loss: float
    loss_change: float | None
    """``test_loss - float32_test_loss``."""


@dataclass(frozen=True)
class TwoTrials:
    """Trials A then B in one process (as a reused worker runs them), B again alone in a fresh process."""

    memory_before: int | None
    """``torch.cuda.memory_allocated()`` before A (bytes; after the check's earlier runs in this process)."""
    memory_between: int | None
    memory_after: int | None
    memory_back: bool | None
    """Whether the memory after A, and after B, is back to its level before A."""
    memory_reason: str | None
    second_equals_fresh: bool
    """B after A gave, bit for bit, the numbers of B in a fresh process."""
    differing: Differences


@dataclass(frozen=True)
class Speed:
    """The run's throughput against this CPU's figure in benchmarks/RESULTS.md."""

    throughput: float
    unit: str
    cpu_figure: float | None
    cpu_source: str
    """Where the CPU figure comes from, or why there is none."""
    ratio: float | None
    """``throughput / cpu_figure``; None without a figure, or when the sizes differ from the figure's (``--device cpu``
    trains tiny sizes)."""


@dataclass(frozen=True)
class TaskCheck:
    study: str
    """q1, q2 or q3."""
    data: str
    """What it trained on (made offline by the check)."""
    config: Metrics
    """The run's config fields that differ from the task's defaults."""
    run: Run
    resume: Resume
    precisions: tuple[Precision, ...]
    """float16, then bfloat16."""
    two_trials: TwoTrials
    speed: Speed
    ok: bool
    """Ran on the device, resumed exactly (by default or with ``deterministic``), memory back (where measured),
    B after A the same as B fresh."""


@dataclass(frozen=True)
class Tests:
    """``pytest -m gpu`` over the test files that hold ``gpu`` tests."""

    ran: bool
    reason: str | None
    command: str | None
    passed: int | None
    failed: int | None
    skipped: int | None
    errors: int | None


@dataclass(frozen=True)
class RayStudy:
    """A q1 smoke study at ``--gpus-per-trial 0.5``: at most two trials on a GPU at once."""

    ran: bool
    reason: str | None
    command: str | None
    trials: int | None
    devices: tuple[str, ...] | None
    """The devices the trials reported."""
    most_per_gpu: dict[str, int] | None
    """GPU id -> the most trials that held it at one moment."""
    placement: str | None
    """The placement table (node, trials, attempts per GPU id, most at once)."""
    ok: bool | None


@dataclass(frozen=True)
class Check:
    date: str
    command: str
    device: str
    """cuda or cpu."""
    device_name: str
    """The GPU's name, or the CPU's vector capability."""
    python: str
    torch: str
    cuda: str | None
    sizes: str
    """gpu (the benchmark's sizes) or tiny (``--device cpu``: seconds)."""
    wall_s: float
    tasks: tuple[TaskCheck, ...]
    tests: Tests
    ray: RayStudy
    ok: bool
    """Every task ok, the gpu tests passed (where run), the Ray study ok (where run)."""
