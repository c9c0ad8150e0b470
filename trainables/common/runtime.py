"""Seeding, device and thread settings for one trial."""

from __future__ import annotations

import os
import random

import numpy as np
import torch


def seed_everything(seed: int) -> torch.Generator:
    """Seed Python, NumPy and PyTorch; return a generator for data shuffling.

    Shuffling draws from its own generator so that a resumed trial can put
    it back to where it was without touching the global state.
    """
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)
    gen = torch.Generator()
    gen.manual_seed(seed)
    return gen


def assigned_cpus(default: int = 1) -> int:
    """CPUs Ray gave this trial (``default`` outside Ray)."""
    try:
        import ray

        if ray.is_initialized():
            cpus = ray.get_runtime_context().get_assigned_resources().get("CPU")
            if cpus:
                return max(1, int(cpus))
    except Exception:  # outside a Ray worker there is nothing to ask
        pass
    return default


def setup_device(threads: int | None = None) -> torch.device:
    """Pick the trial's device and cap its CPU threads.

    Ray hides the GPUs a trial was not given (``CUDA_VISIBLE_DEVICES``), so
    "CUDA available" here means "this trial owns a GPU". On the CPU each
    trial uses only the cores it was given, so concurrent trials do not
    oversubscribe the machine.
    """
    n = threads if threads is not None else assigned_cpus(default=os.cpu_count() or 1)
    torch.set_num_threads(max(1, n))
    if torch.cuda.is_available():
        torch.backends.cudnn.benchmark = True
        return torch.device("cuda")
    return torch.device("cpu")
