"""Shared fixtures: one small local Ray for the whole session."""

from __future__ import annotations

import os

import pytest

os.environ.setdefault("RAY_DEDUP_LOGS", "0")

# Tiny Hugging Face models and tweet CSVs built in tmp folders for the q3 tests; an S3 server (moto's); the
# launcher tests' two SSH hosts.
pytest_plugins = ["tweets_tiny", "s3server", "launcher"]


@pytest.fixture(scope="session")
def ray_cluster():
    """A 2-CPU local Ray with 2 logical GPUs (as `ray start --num-gpus 2` gives them, CUDA or not), started once
    (current Ray has no local_mode)."""
    import ray

    ray.init(num_cpus=2, num_gpus=2, include_dashboard=False, log_to_driver=False, configure_logging=False)
    yield ray
    ray.shutdown()


@pytest.fixture
def no_cpu_bf16(monkeypatch):
    """Every bfloat16 probe answers no in this process, as on a CPU without bfloat16 kernels."""
    from trainables.common import runtime

    monkeypatch.setenv(runtime.CPU_BF16_ENV, "unsupported")
    runtime.cpu_bf16_computes.cache_clear()
    yield
    runtime.cpu_bf16_computes.cache_clear()
