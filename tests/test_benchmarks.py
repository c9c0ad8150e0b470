"""The benchmarks' own code paths, on tiny data, so they keep up with the trainables (q1: test_benchmark_q1.py)."""

import importlib.util
from pathlib import Path


def load(name: str):
    path = Path(__file__).resolve().parents[1] / "benchmarks" / f"{name}.py"
    spec = importlib.util.spec_from_file_location(f"bench_{name}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
