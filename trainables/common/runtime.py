"""Seeding, device and thread settings for one trial."""

from __future__ import annotations

import functools
import gc
import os
import random
from contextlib import AbstractContextManager
from typing import Any

import numpy as np
import torch


def reset_process() -> None:
    """Put back a fresh process's settings that an earlier trial in this worker may have changed.

    Ray reuses a worker for the next trial (``--reuse-workers``), so a trial
    starts from these defaults, then sets its own (``setup_device``: threads,
    cuDNN; ``seed_everything``: every generator) and runs exactly as it would
    in a new process. Autocast and grad mode belong to the thread, and each
    trial runs in a thread of its own. On a GPU the earlier trial's tensors
    still held in reference cycles are collected before the CUDA cache is
    emptied; on a CPU they need no collection (a full one walks every object
    in the worker, about 0.1 s a trial).
    """
    torch.use_deterministic_algorithms(False)
    torch.backends.cudnn.deterministic = False
    torch.backends.cudnn.benchmark = False
    if torch.cuda.is_available():
        gc.collect()
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats()


def seed_everything(seed: int) -> None:
    """Seed Python, NumPy and PyTorch (CPU and CUDA) for one trial."""
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def make_generator(seed: int) -> torch.Generator:
    """A generator for data shuffling, apart from the global ones.

    Shuffling draws from its own generator so that the order of batches does
    not depend on how many random numbers the model (dropout) consumed.
    """
    gen = torch.Generator()
    gen.manual_seed(seed)
    return gen


def rng_state() -> dict[str, Any]:
    """Every global generator's state, in a form ``weights_only`` checkpoints accept."""
    np_state = np.random.get_state(legacy=False)
    return {
        "python": random.getstate(),
        "numpy": {"key": torch.from_numpy(np_state["state"]["key"].astype(np.int64)),
                  "pos": int(np_state["state"]["pos"]), "has_gauss": int(np_state["has_gauss"]),
                  "gauss": float(np_state["gauss"])},
        "torch": torch.get_rng_state(),
        "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else [],
    }


def set_rng_state(state: dict[str, Any]) -> None:
    """Put back what ``rng_state`` captured, so dropout masks continue where they were."""
    random.setstate(_as_tuple(state["python"]))
    n = state["numpy"]
    np.random.set_state({"bit_generator": "MT19937",
                         "state": {"key": n["key"].numpy().astype(np.uint32), "pos": n["pos"]},
                         "has_gauss": n["has_gauss"], "gauss": n["gauss"]})
    torch.set_rng_state(state["torch"].cpu())
    if state["cuda"] and torch.cuda.is_available():
        torch.cuda.set_rng_state_all([s.cpu() for s in state["cuda"]])


def _as_tuple(value: Any) -> Any:
    """``random.setstate`` wants tuples; a checkpoint may hand back lists."""
    return tuple(_as_tuple(v) for v in value) if isinstance(value, (list, tuple)) else value


def assigned_cpus(default: int = 1) -> int:
    """CPUs Ray gave this trial (``default`` outside Ray, and where Ray is not installed: a GPU machine's plain
    Python running benchmarks/gpu_check.py)."""
    try:
        import ray
    except ImportError:
        return default
    if not ray.is_initialized():
        return default
    try:
        cpus = ray.get_runtime_context().get_assigned_resources().get("CPU")
    except AssertionError:  # Ray's answer in a driver, which has no assigned resources
        return default
    return max(1, int(cpus)) if cpus else default


CUBLAS_WORKSPACE_ENV, CUBLAS_DETERMINISTIC = "CUBLAS_WORKSPACE_CONFIG", ":4096:8"


def setup_device(threads: int | None = None, deterministic: bool = False) -> torch.device:
    """Pick the trial's device and cap its CPU threads; with ``deterministic``, deterministic algorithms only
    (``TrialConfig.deterministic``: an op that has none warns, naming itself).

    Ray hides the GPUs a trial was not given (``CUDA_VISIBLE_DEVICES``), so
    "CUDA available" here means "this trial owns a GPU". On the CPU each
    trial uses only the cores it was given, so concurrent trials do not
    oversubscribe the machine.
    """
    n = threads if threads is not None else assigned_cpus(default=os.cpu_count() or 1)
    torch.set_num_threads(max(1, n))
    if deterministic:
        # cuBLAS repeats its sums only with a fixed workspace, read when CUDA starts in this process.
        os.environ.setdefault(CUBLAS_WORKSPACE_ENV, CUBLAS_DETERMINISTIC)
        torch.use_deterministic_algorithms(True, warn_only=True)
    if torch.cuda.is_available():
        # cuDNN's fused RNN kernels serve nn.RNN/LSTM/GRU on CUDA; benchmark
        # mode picks the fastest for our fixed shapes (not repeatable: off when deterministic), TF32 speeds
        # the heads.
        torch.backends.cudnn.enabled = True
        torch.backends.cudnn.benchmark = not deterministic
        torch.backends.cudnn.deterministic = deterministic
        torch.set_float32_matmul_precision("high")
        return torch.device("cuda")
    return torch.device("cpu")


def to_device(tensor: torch.Tensor, device: torch.device) -> torch.Tensor:
    """Move a CPU batch to ``device``; on CUDA through pinned memory, asynchronously."""
    if device.type == "cuda" and tensor.device.type == "cpu":
        return tensor.pin_memory().to(device, non_blocking=True)
    return tensor.to(device)


CPU_BF16_ENV = "STUDY_CPU_BF16"
"""Set to ``unsupported`` to make every bfloat16 probe answer no, as on a CPU without bfloat16 kernels
(tests and CI exercise the float32 fallback on any CPU this way); unset, the CPU is probed."""
FLOAT32, BFLOAT16, FLOAT16 = "float32", "bfloat16", "float16"  # what a trial records as its precision


def cpu_capability() -> str:
    """The vector instruction set PyTorch's CPU kernels use here (``AVX2``, ``AVX512``, ...)."""
    return torch.backends.cpu.get_cpu_capability()


@functools.cache
def cpu_bf16_computes(module: type[torch.nn.Module]) -> bool:
    """Whether bfloat16 autocast on this CPU runs ``module`` forward and backward, and computes it in bfloat16.

    Probed, not assumed: oneDNN's bfloat16 LSTM needs AVX-512 BF16 or AMX and raises on other CPUs
    (AVX2 only), while the GRU runs under autocast but stays in float32, gaining nothing. Once per
    process, in the process that trains (a cluster's nodes may differ), on a 4-unit module built
    under a forked random state, so a trial's random streams are the same whether or not it probed.
    """
    forced = os.environ.get(CPU_BF16_ENV, "")
    if forced not in ("", "unsupported"):
        raise ValueError(f"{CPU_BF16_ENV}: 'unsupported' or unset, got {forced!r}")
    if forced:
        return False
    with torch.random.fork_rng(devices=[]):
        layer = module(4, 4, batch_first=True)
        try:
            with torch.autocast("cpu", dtype=torch.bfloat16):
                out = layer(torch.ones(1, 2, 4))[0]
            out.float().sum().backward()
        except RuntimeError:  # oneDNN: "could not create a primitive descriptor ..."
            return False
    return out.dtype == torch.bfloat16


class MixedPrecision:
    """Autocast on CUDA in float16 (with gradient scaling) or bfloat16 (no scaling needed), when asked.

    On the CPU (or when not requested, or bfloat16 on a GPU that lacks it) every method is the plain float32
    path, so training code calls it unconditionally; ``name`` says which precision runs. Float16 is the
    default: every CUDA GPU has it, and the scaler guards its small range.
    """

    def __init__(self, device: torch.device, requested: bool, dtype: str = FLOAT16) -> None:
        cuda = bool(requested) and device.type == "cuda"
        self.enabled = cuda and (dtype == FLOAT16 or torch.cuda.is_bf16_supported(including_emulation=False))
        self.device_type = device.type
        self.dtype = torch.bfloat16 if dtype == BFLOAT16 else torch.float16
        self.name = dtype if self.enabled else FLOAT32
        self.scaler = torch.amp.GradScaler("cuda", enabled=self.enabled and dtype == FLOAT16)

    def autocast(self) -> AbstractContextManager:
        return torch.autocast(self.device_type, dtype=self.dtype, enabled=self.enabled)

    def step(self, loss: torch.Tensor, optimizer: torch.optim.Optimizer, clip_params=None,
             max_norm: float = 0.0) -> None:
        """Backward and optimizer step, with the loss scaled when enabled.

        Gradients are clipped (when ``max_norm`` > 0) after unscaling, so the
        threshold means the same with and without mixed precision.
        """
        self.scaler.scale(loss).backward()
        if clip_params is not None and max_norm > 0:
            self.scaler.unscale_(optimizer)
            torch.nn.utils.clip_grad_norm_(clip_params, max_norm)
        self.scaler.step(optimizer)
        self.scaler.update()

    def state_dict(self) -> dict:
        return self.scaler.state_dict()

    def load_state_dict(self, state: dict) -> None:
        if state:
            self.scaler.load_state_dict(state)


def preload() -> None:
    """Import the heavy libraries a trial needs; Ray runs this in each worker process as it starts.

    Ray starts worker processes ahead of the trials that will use them, so
    with this as the job's ``worker_process_setup_hook`` a trial's worker
    has torch, pandas and scikit-learn loaded before the trial is placed on
    it, instead of every trial paying the imports at its start. What the
    imports made lives as long as the worker: frozen, Python's collector no
    longer walks it at every full collection during the trials.
    """
    import pandas  # noqa: F401
    import sklearn.metrics  # noqa: F401
    import torch  # noqa: F401

    gc.freeze()
