"""The shared trial loop, Ray-free: exact resume, best epoch, early stopping, devices."""

from __future__ import annotations

import math

import pytest
import torch

from tests.helpers import synthetic_prices
from trainables.common import checkpoint, loop, task
from trainables.common import metrics as M
from trainables.common.config import TrialConfig
from trainables.common.faults import InjectedFault
from trainables.common.loop import LocalSession, run_trial
from trainables.stock.task import TASK as STOCK

# Dropout on, so a resume that forgot a generator would draw other masks.
STOCK_CFG = {"hidden_size": 8, "batch_size": 16, "window": 10, "epochs": 5, "checkpoint_every": 1,
             "dropout": 0.3, "cell": "lstm"}


def run_interrupted(t, config, data, tmp_path, fail_at: int) -> tuple[LocalSession, dict]:
    """Crash at ``fail_at``, resume from the last checkpoint in the same folder; the final record."""
    session = LocalSession(tmp_path / "interrupted")
    with pytest.raises(InjectedFault):
        task.train_trial(t, {**config, "fail_at_epoch": fail_at}, data, session)
    # A new trainer, as a new worker process would build it, continues from the checkpoint.
    return session, task.train_trial(t, {**config, "fail_at_epoch": fail_at}, data, session)


def assert_same_metrics(a: dict, b: dict) -> None:
    keys = [k for k in a if k.startswith(("train/", "val/", "test/")) or k == M.BEST_EPOCH]
    assert keys
    assert {k: a[k] for k in keys} == {k: b[k] for k in keys}


def test_stock_resume_is_exact_with_dropout(tmp_path):
    prices = synthetic_prices(n=160)
    plain = task.train_trial(STOCK, STOCK_CFG, prices, LocalSession(tmp_path / "plain"))
    session, resumed = run_interrupted(STOCK, STOCK_CFG, prices, tmp_path, fail_at=3)
    assert [r[M.EPOCH] for r in session.records] == [1, 2, 3, 4, 5]
    assert_same_metrics(plain, resumed)


def test_resume_without_the_torch_generator_diverges(tmp_path, monkeypatch):
    """The exact-resume test can fail: restore every generator but torch's and the dropout masks differ."""
    from trainables.common import runtime

    real = runtime.set_rng_state
    monkeypatch.setattr(runtime, "set_rng_state", lambda state: real({**state, "torch": torch.get_rng_state()}))
    prices = synthetic_prices(n=160)
    plain = task.train_trial(STOCK, STOCK_CFG, prices, LocalSession(tmp_path / "plain"))
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
    final = task.train_trial(STOCK, {**STOCK_CFG, "epochs": 6, "lr": 0.05}, synthetic_prices(n=160), session)
    vals = [r[M.VAL_MAPE] for r in session.records]
    best = min(range(len(vals)), key=vals.__getitem__) + 1
    assert final[M.BEST_EPOCH] == best and final[M.COMPLETED] == 1
    assert M.TEST_MAPE in final and all(M.TEST_MAPE not in r for r in session.records[:-1])


def test_patience_stops_early_and_the_checkpoint_says_where(tmp_path):
    session = LocalSession(tmp_path)
    cfg = {**STOCK_CFG, "epochs": 40, "patience": 2, "lr": 0.2}
    final = task.train_trial(STOCK, cfg, synthetic_prices(n=160), session)
    last = final[M.EPOCH]
    assert last < 40 and last - final[M.BEST_EPOCH] == 2
    assert checkpoint.load_state(tmp_path)["progress"]["epoch"] == last
    assert math.isfinite(final[M.TEST_MAPE])


class FakeClock:
    """Stands in for ``loop.clock``: time moves only when a fake trainer says so."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


class ClockTrainer:
    """Each epoch spends ``train_s`` fake seconds training and ``val_s`` validating.

    Its one weight is the number of epochs trained, so the test loss (that
    weight) tells which epoch's weights were scored.
    """

    def __init__(self, clock: FakeClock, train_s: float, val_s: float, val_losses: list[float]):
        self.model, self.device = torch.nn.Linear(1, 1, bias=False), torch.device("cpu")
        self.clock, self.train_s, self.val_s, self.val_losses, self.trained = clock, train_s, val_s, val_losses, 0

    def train_epoch(self) -> dict[str, float]:
        self.clock.now += self.train_s
        self.trained += 1
        with torch.no_grad():
            self.model.weight.fill_(self.trained)
        return {M.TRAIN_LOSS: 1.0}

    def validate(self) -> dict[str, float]:
        self.clock.now += self.val_s
        return {M.VAL_LOSS: self.val_losses[self.trained - 1]}

    def test(self) -> tuple[dict[str, float], dict[str, str]]:
        return {M.TEST_LOSS: float(self.model.weight.detach())}, {}

    def state_dict(self) -> dict:
        return {"model": self.model.state_dict(), "trained": self.trained}

    def load_state_dict(self, state: dict) -> None:
        self.model.load_state_dict(state["model"])
        self.trained = int(state["trained"])


LOSSES = [3.0, 1.0, 2.0, 2.5, 2.6, 2.7, 2.8, 2.9]  # the best validation epoch is the second


def budgeted(monkeypatch, session: LocalSession, budget_s: float, epochs: int = 8, **cfg) -> dict:
    """10 s of training and 100 s of validation an epoch, on a fake clock; the final record."""
    clock = FakeClock()
    monkeypatch.setattr(loop, "clock", clock)
    return run_trial(ClockTrainer(clock, 10.0, 100.0, LOSSES), TrialConfig(epochs=epochs, budget_s=budget_s, **cfg),
                     session, M.VAL_LOSS, "min")


@pytest.mark.parametrize("budget_s, last", [(35.0, 4), (30.0, 3), (0.5, 1), (0.0, 8), (1000.0, 8)])
def test_the_budget_ends_the_trial_after_the_epoch_that_reaches_it(monkeypatch, tmp_path, budget_s, last):
    """Only training time counts: validation takes ten times as long and would end every budget at epoch 1-2."""
    session = LocalSession(tmp_path)
    final = budgeted(monkeypatch, session, budget_s)
    assert [r[M.EPOCH] for r in session.records] == list(range(1, last + 1))
    assert [r[M.TIME_TRAIN] for r in session.records] == [10.0 * e for e in range(1, last + 1)]
    assert [r[M.TIME_TOTAL] for r in session.records] == [110.0 * e for e in range(1, last + 1)]
    assert final[M.COMPLETED] == 1 and all(M.COMPLETED not in r for r in session.records[:-1])
    best = 1 if last == 1 else 2
    assert final[M.BEST_EPOCH] == best and final[M.TEST_LOSS] == best  # scored with the best epoch's weights
    assert checkpoint.load_state(tmp_path)["progress"]["train_s"] == 10.0 * last


def test_a_resumed_trial_keeps_its_spent_budget(monkeypatch, tmp_path):
    """Killed at epoch 3 with 20 s spent, it trains two more epochs, not four (a forgotten budget)."""
    plain = LocalSession(tmp_path / "plain")
    plain_final = budgeted(monkeypatch, plain, 35.0)
    session = LocalSession(tmp_path / "resumed")
    with pytest.raises(InjectedFault):
        budgeted(monkeypatch, session, 35.0, fail_at_epoch=3)
    final = budgeted(monkeypatch, session, 35.0, fail_at_epoch=3)  # a new trainer and clock, as a new worker
    assert [r[M.EPOCH] for r in session.records] == [1, 2, 3, 4]
    assert [r[M.TIME_TRAIN] for r in session.records] == [r[M.TIME_TRAIN] for r in plain.records]
    assert {k: final[k] for k in (M.BEST_EPOCH, M.TEST_LOSS, M.TIME_TRAIN)} == \
        {k: plain_final[k] for k in (M.BEST_EPOCH, M.TEST_LOSS, M.TIME_TRAIN)} == \
        {M.BEST_EPOCH: 2, M.TEST_LOSS: 2.0, M.TIME_TRAIN: 40.0}


def test_cpu_seconds_add_up_over_the_epochs_and_survive_a_resume(monkeypatch, tmp_path):
    """The process's CPU clock (here the fake one: 110 s an epoch) as the trial's cost, kept by its checkpoint."""
    cpu = FakeClock()
    monkeypatch.setattr(loop, "cpu_clock", cpu)
    cpu.now = 1000.0  # the process spent CPU before the trial (imports, an earlier trial): not counted
    session, cfg = LocalSession(tmp_path), TrialConfig(epochs=4, checkpoint_every=1, fail_at_epoch=3)
    with pytest.raises(InjectedFault):
        run_trial(ClockTrainer(cpu, 10.0, 100.0, LOSSES), cfg, session, M.VAL_LOSS, "min")
    cpu.now += 5000.0  # a new worker's clock
    final = run_trial(ClockTrainer(cpu, 10.0, 100.0, LOSSES), cfg, session, M.VAL_LOSS, "min")
    assert [r[M.TIME_CPU] for r in session.records] == [110.0, 220.0, 330.0, 440.0]
    assert final[M.TIME_CPU] == 440.0 and checkpoint.load_state(tmp_path)["progress"]["cpu_s"] == 440.0


def test_every_epoch_reports_training_seconds_on_the_real_clock(tmp_path):
    session = LocalSession(tmp_path)
    task.train_trial(STOCK, {**STOCK_CFG, "epochs": 3}, synthetic_prices(n=160), session)
    train = [r[M.TIME_TRAIN] for r in session.records]
    assert all(b > a >= 0 for a, b in zip([0.0, *train], train))
    assert all(r[M.TIME_TRAIN] < r[M.TIME_TOTAL] for r in session.records)  # validation is off the training clock


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_resume_on_a_gpu_puts_the_state_on_the_gpu(tmp_path):
    prices = synthetic_prices(n=160)
    _, resumed = run_interrupted(STOCK, STOCK_CFG, prices, tmp_path, fail_at=3)
    assert resumed[M.COMPLETED] == 1
    state = checkpoint.move_to(checkpoint.load_state(tmp_path / "interrupted")["trainer"], torch.device("cuda"))
    floats = [t for t in state["model"].values() if t.is_floating_point()]
    assert floats and all(t.is_cuda for t in floats)
