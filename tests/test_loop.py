"""The shared trial loop, Ray-free: exact resume, best epoch, early stopping, devices."""

from __future__ import annotations

import math

import pytest
import torch

from tests.helpers import synthetic_prices
from trainables.common import checkpoint, task
from trainables.common import metrics as M
from trainables.common.faults import InjectedFault
from trainables.common.loop import LocalSession
from trainables.stock.task import TASK as STOCK

# Dropout on, so a resume that forgot a generator would draw other masks.
STOCK_CFG = {"hidden_size": 8, "batch_size": 16, "window": 10, "epochs": 5, "checkpoint_every": 1,
             "dropout": 0.3, "cell": "lstm"}


def run_interrupted(t, config, data, tmp_path, fail_at: int) -> tuple[LocalSession, dict]:
    """Crash at ``fail_at``, resume from the last checkpoint in the same folder; the final report."""
    session = LocalSession(tmp_path / "interrupted")
    with pytest.raises(InjectedFault):
        task.run(t, {**config, "fail_at_epoch": fail_at}, data, session)
    # A new trainer, as a new worker process would build it, continues from the checkpoint.
    return session, task.run(t, {**config, "fail_at_epoch": fail_at}, data, session)


def assert_same_metrics(a: dict, b: dict) -> None:
    keys = [k for k in a if k.startswith(("train/", "val/", "test/")) or k == M.BEST_EPOCH]
    assert keys
    assert {k: a[k] for k in keys} == {k: b[k] for k in keys}


def test_stock_resume_is_exact_with_dropout(tmp_path):
    prices = synthetic_prices(n=160)
    plain = task.run(STOCK, STOCK_CFG, prices, LocalSession(tmp_path / "plain"))
    session, resumed = run_interrupted(STOCK, STOCK_CFG, prices, tmp_path, fail_at=3)
    assert [r[M.EPOCH] for r in session.reports] == [1, 2, 3, 4, 5]
    assert_same_metrics(plain, resumed)


def test_resume_without_the_torch_generator_diverges(tmp_path, monkeypatch):
    """The exact-resume test can fail: restore every generator but torch's and the dropout masks differ."""
    from trainables.common import runtime

    real = runtime.set_rng_state
    monkeypatch.setattr(runtime, "set_rng_state", lambda state: real({**state, "torch": torch.get_rng_state()}))
    prices = synthetic_prices(n=160)
    plain = task.run(STOCK, STOCK_CFG, prices, LocalSession(tmp_path / "plain"))
    _, resumed = run_interrupted(STOCK, STOCK_CFG, prices, tmp_path, fail_at=3)
    assert resumed[M.VAL_LOSS] != plain[M.VAL_LOSS]


def test_rng_state_round_trips_through_a_weights_only_checkpoint(tmp_path):
    import random

    import numpy as np

    from trainables.common import runtime

    runtime.seed_everything(3)
    checkpoint.save_state(tmp_path, {"rng": runtime.rng_state()})
    expected = (random.random(), np.random.rand(), torch.rand(1).item())
    runtime.seed_everything(99)
    runtime.set_rng_state(checkpoint.load_state(tmp_path)["rng"])
    assert (random.random(), np.random.rand(), torch.rand(1).item()) == expected


def test_state_moves_to_the_trial_device_but_generators_stay_on_the_cpu():
    state = {"model": {"w": torch.ones(2)}, "hidden": [torch.zeros(1, 2, 3)], "shuffle": torch.get_rng_state(),
             "pos": torch.tensor([3, 4]), "step": 5}
    moved = checkpoint.move_to(state, torch.device("meta"))
    assert moved["model"]["w"].device.type == "meta" and moved["hidden"][0].device.type == "meta"
    assert moved["shuffle"].device.type == "cpu" and moved["pos"].device.type == "cpu" and moved["step"] == 5


def test_test_part_is_scored_with_the_best_validation_epoch(tmp_path):
    session = LocalSession(tmp_path)
    final = task.run(STOCK, {**STOCK_CFG, "epochs": 6, "lr": 0.05}, synthetic_prices(n=160), session)
    vals = [r[M.VAL_MAPE] for r in session.reports]
    best = min(range(len(vals)), key=vals.__getitem__) + 1
    assert final[M.BEST_EPOCH] == best and final[M.COMPLETED] == 1
    assert M.TEST_MAPE in final and all(M.TEST_MAPE not in r for r in session.reports[:-1])


def test_patience_stops_early_and_the_checkpoint_says_where(tmp_path):
    session = LocalSession(tmp_path)
    cfg = {**STOCK_CFG, "epochs": 40, "patience": 2, "lr": 0.2}
    final = task.run(STOCK, cfg, synthetic_prices(n=160), session)
    last = final[M.EPOCH]
    assert last < 40 and last - final[M.BEST_EPOCH] == 2
    assert checkpoint.load_state(tmp_path)["progress"]["epoch"] == last
    assert math.isfinite(final[M.TEST_MAPE])


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_resume_on_a_gpu_puts_the_state_on_the_gpu(tmp_path):
    prices = synthetic_prices(n=160)
    _, resumed = run_interrupted(STOCK, STOCK_CFG, prices, tmp_path, fail_at=3)
    assert resumed[M.COMPLETED] == 1
    state = checkpoint.move_to(checkpoint.load_state(tmp_path / "interrupted")["trainer"], torch.device("cuda"))
    floats = [t for t in state["model"].values() if t.is_floating_point()]
    assert floats and all(t.is_cuda for t in floats)
