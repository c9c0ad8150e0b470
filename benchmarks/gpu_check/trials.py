"""The GPU check's trials, each through the shared trial loop (``train_trial`` with a ``LocalSession``), no Ray."""

from __future__ import annotations

import gc
import math
import re
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

from benchmarks.gpu_check.schema import Differences, Metrics, Precision, Resume, Run, Speed, TwoTrials
from benchmarks.gpu_check.specs import CPU_FIGURES, GPU, Spec
from trainables.chargen.model import CELLS
from trainables.common import metrics as M
from trainables.common import runtime, task
from trainables.common.faults import InjectedFault
from trainables.common.loop import LocalSession

B_SEED = 2  # trial B of the two-trial check; A adds the spec's ``other``
NONDETERMINISTIC = re.compile(r"^(.*?) does not have a deterministic implementation")


def numbers(final: dict[str, Any]) -> Metrics:
    """What "the same numbers" compares: every train/, val/ and test/ metric and the best epoch."""
    return {k: v for k, v in final.items() if k.startswith(("train/", "val/", "test/")) or k == M.BEST_EPOCH}


def differences(a: Metrics, b: Metrics) -> Differences:
    """The metrics whose values are not the same bit for bit (NaN equal to NaN), with both values."""
    def same(x: Any, y: Any) -> bool:
        return x == y or (isinstance(x, float) and isinstance(y, float) and math.isnan(x) and math.isnan(y))

    return {k: (a.get(k), b.get(k)) for k in sorted({*a, *b}) if not same(a.get(k), b.get(k))}


def train(spec: Spec, config: dict[str, Any], folder: Path) -> dict[str, Any]:
    """One trial as a study runs it (``train_trial``); its final record."""
    return task.train_trial(spec.task, config, spec.data, LocalSession(folder), spec.threads)


def killed_and_resumed(spec: Spec, config: dict[str, Any], folder: Path) -> dict[str, Any]:
    """Killed at ``spec.kill_at`` (after that epoch's start), then resumed in the same folder by a new trainer."""
    killed = {**config, "fail_at_epoch": spec.kill_at}
    try:
        train(spec, killed, folder)
    except InjectedFault:
        return train(spec, killed, folder)
    raise AssertionError(f"{spec.study}: the trial was not killed at epoch {spec.kill_at}")


def run(spec: Spec, config: dict[str, Any], folder: Path) -> Run:
    final = train(spec, config, folder)
    train_s = final[M.TIME_TRAIN]
    return Run(device=final[M.DEVICE], epochs=final[M.EPOCH], train_s=train_s,
               throughput=spec.work(config, final) / train_s if train_s > 0 else math.inf, unit=spec.unit,
               test_loss=final[M.TEST_LOSS], final=numbers(final))


def deterministic_pair(spec: Spec, folder: Path) -> tuple[Differences, tuple[str, ...]]:
    """Uninterrupted and resumed with ``deterministic=True``: their differences, and the ops that warned."""
    config = {**spec.config, "deterministic": True}
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        plain = train(spec, config, folder / "plain")
        resumed = killed_and_resumed(spec, config, folder / "resumed")
    ops = {m.group(1).strip() for w in caught if (m := NONDETERMINISTIC.match(str(w.message)))}
    return differences(numbers(plain), numbers(resumed)), tuple(sorted(ops))


def resume(spec: Spec, plain: Run, folder: Path) -> Resume:
    resumed = numbers(killed_and_resumed(spec, spec.config, folder / "default"))
    differing = differences(plain.final, resumed)
    det_differing, ops = deterministic_pair(spec, folder / "deterministic")
    return Resume(killed_at=spec.kill_at, exact=not differing, differing=differing,
                  deterministic_exact=not det_differing, deterministic_differing=det_differing,
                  nondeterministic_ops=ops)


def precision_config(spec: Spec, dtype: str, device: torch.device) -> tuple[dict[str, Any] | None, str | None]:
    """The run's config in ``dtype`` and the precision that will run, or (None, why it cannot run here)."""
    if device.type == "cuda":
        ran = runtime.MixedPrecision(device, True, dtype).name
        if ran != dtype:
            return None, f"{dtype} autocast is not supported by this GPU ({torch.cuda.get_device_name()})"
        return {**spec.config, "amp": True, "amp_dtype": dtype}, None
    if dtype == runtime.FLOAT16:
        return None, "--amp is for GPUs: a CPU trains in float32 (runtime.MixedPrecision is off there)"
    if spec.bf16_on_cpu is None:
        return None, f"{spec.study} has no bfloat16 path on a CPU (cpu_bf16 is q2's)"
    cell = spec.config.get("cell", spec.task.config().cell)
    if not runtime.cpu_bf16_computes(CELLS[cell]):
        return None, f"this CPU ({runtime.cpu_capability()}) does not compute {cell} in bfloat16 (probed)"
    return {**spec.config, **spec.bf16_on_cpu}, None


def precision(spec: Spec, dtype: str, device: torch.device, float32: Run, folder: Path) -> Precision:
    config, reason = precision_config(spec, dtype, device)
    if config is None:
        return Precision(dtype=dtype, ran=None, reason=reason, throughput=None, speedup=None, test_loss=None,
                         float32_test_loss=float32.test_loss, loss_change=None)
    result = run(spec, config, folder / dtype)
    return Precision(dtype=dtype, ran=result.final.get(M.TRAIN_PRECISION, dtype), reason=None,
                     throughput=result.throughput, speedup=result.throughput / float32.throughput,
                     test_loss=result.test_loss, float32_test_loss=float32.test_loss,
                     loss_change=result.test_loss - float32.test_loss)


def allocated(device: torch.device) -> int | None:
    """Bytes of live CUDA tensors once unreachable ones are collected; None on a CPU."""
    if device.type != "cuda":
        return None
    gc.collect()
    torch.cuda.synchronize()
    return torch.cuda.memory_allocated()


def two_trials(spec: Spec, device: torch.device, folder: Path, fresh: Callable[[str], Metrics]) -> TwoTrials:
    """A then B in this process, memory read before, between and after; B alone in a fresh process."""
    b = {**spec.config, "seed": B_SEED}
    before = allocated(device)
    train(spec, {**b, **spec.other}, folder / "a")
    between = allocated(device)
    after_a = numbers(train(spec, b, folder / "b"))
    after = allocated(device)
    differing = differences(after_a, fresh(spec.study))
    back = None if before is None else between <= before and after <= before
    reason = None if before is not None else "no CUDA: torch.cuda.memory_allocated() measures GPU memory only"
    return TwoTrials(memory_before=before, memory_between=between, memory_after=after, memory_back=back,
                     memory_reason=reason, second_equals_fresh=not differing, differing=differing)


def fresh_numbers(spec: Spec, folder: Path) -> Metrics:
    """Trial B as the first trial of this process (run by ``gpu_check.py --fresh STUDY`` in a new one)."""
    return numbers(train(spec, {**spec.config, "seed": B_SEED}, folder / "fresh"))


def speed(spec: Spec, result: Run, sizes: str) -> Speed:
    figure = CPU_FIGURES[spec.study]
    ratio = result.throughput / figure.value if figure.value and sizes == GPU else None
    source = figure.source if sizes == GPU or figure.value is None else (
        f"{figure.source}; not compared: --device cpu trains tiny sizes")
    return Speed(throughput=result.throughput, unit=f"{spec.unit}/s", cpu_figure=figure.value, cpu_source=source,
                 ratio=ratio)
