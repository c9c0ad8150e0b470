"""The benchmarks' own code paths, on tiny data, so they keep up with the trainables."""

import importlib.util
from pathlib import Path

from tests.helpers import synthetic_prices
from trainables.common import metrics as M


def load(name: str):
    path = Path(__file__).resolve().parents[1] / "benchmarks" / f"{name}.py"
    spec = importlib.util.spec_from_file_location(f"bench_{name}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_q1_plain_loop_trains_and_tests_like_the_trainable():
    bench = load("q1_grid")
    out = bench.plain_trial({"epochs": 1, "hidden_size": 8, "batch_size": 16, "window": 10}, synthetic_prices(n=160))
    assert out[M.TEST_MAPE] > 0 and out[M.BASELINE_TEST_MAPE] > 0
