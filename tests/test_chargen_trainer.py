"""q2 training without Ray: exact resume through the shared loop, learning, scoring, devices."""

from __future__ import annotations

import math

import pytest
import torch
from chargen_helpers import TINY, tiny_text, tiny_trainer

from trainables.chargen.data import Corpus, majority_accuracy, scored_test_part, whole_test_part
from trainables.chargen.losses import lr_factor
from trainables.chargen.model import CELLS, state_to
from trainables.chargen.task import TASK
from trainables.chargen.trainer import WARM_CHARS, CharTrainer
from trainables.common import checkpoint, loop, runtime, task
from trainables.common import metrics as M
from trainables.common.faults import InjectedFault
from trainables.common.loop import LocalSession

# Dropout on and two layers, so a resume that lost a generator draws other masks; 3 steps an
# epoch against ~80 in a pass, so every checkpoint falls mid-pass with a hidden state carried;
# a one-cycle schedule, so a resume that lost the step count would use other learning rates.
RESUME = {**TINY, "num_layers": 2, "dropout": 0.3, "epochs": 4, "checkpoint_every": 1, "lr_schedule": "onecycle"}
CORPUS = Corpus(tiny_text(6000), "tiny")


def run_interrupted(config: dict, folder, fail_at: int) -> tuple[LocalSession, dict]:
    session = LocalSession(folder)
    with pytest.raises(InjectedFault):
        task.train_trial(TASK, {**config, "fail_at_epoch": fail_at}, CORPUS, session)
    return session, task.train_trial(TASK, {**config, "fail_at_epoch": fail_at}, CORPUS, session)


def scores(metrics: dict) -> dict:
    keys = [k for k in metrics if k.startswith(("train/", "val/", "test/")) or k == M.BEST_EPOCH]
    assert M.TEST_LOSS in keys and M.VAL_LOSS in keys
    return {k: metrics[k] for k in keys}


@pytest.mark.parametrize("formulation, cpu_bf16", [("sequence", False), ("paper", False), ("sequence", True)])
def test_resume_mid_pass_is_exact_with_dropout(formulation, cpu_bf16, tmp_path):
    """In whichever precision the CPU runs cpu_bf16 (test_resume_in_float32_fallback_is_exact: the fallback)."""
    config = {**RESUME, "formulation": formulation, "cpu_bf16": cpu_bf16}
    plain = task.train_trial(TASK, config, CORPUS, LocalSession(tmp_path / "plain"))
    session, resumed = run_interrupted(config, tmp_path / "resumed", fail_at=3)
    assert [r[M.EPOCH] for r in session.records] == [1, 2, 3, 4]
    assert scores(resumed) == scores(plain)
    assert resumed[M.TRAIN_STEPS] == 12 and resumed[M.TRAIN_CHARS] == 12 * 4 * 16


def test_resume_in_float32_fallback_is_exact(no_cpu_bf16, tmp_path):
    config = {**RESUME, "cpu_bf16": True}
    plain = task.train_trial(TASK, config, CORPUS, LocalSession(tmp_path / "plain"))
    _, resumed = run_interrupted(config, tmp_path / "resumed", fail_at=3)
    assert scores(resumed) == scores(plain) and resumed[M.TRAIN_PRECISION] == runtime.FLOAT32


def test_the_checkpoint_falls_mid_pass_with_a_hidden_state(tmp_path):
    session = LocalSession(tmp_path)
    with pytest.raises(InjectedFault):
        task.train_trial(TASK, {**RESUME, "fail_at_epoch": 3}, CORPUS, session)
    saved = checkpoint.load_state(tmp_path)["trainer"]
    assert saved["batches"]["step"] == 6 and saved["step"] == 6  # two epochs of 3 steps, same pass
    assert len(saved["hidden"]) == 2 and saved["hidden"][0].shape == (2, 4, 16)  # LSTM (h, c), 2 layers


@pytest.mark.parametrize("lost", [{"hidden": None}, {"step": 0}])
def test_resume_without_the_hidden_state_or_the_step_diverges(lost, tmp_path, monkeypatch):
    """The exact-resume test can fail: lose the carried state (or the schedule's step) on load and the losses differ."""
    real = CharTrainer.load_state_dict
    monkeypatch.setattr(CharTrainer, "load_state_dict", lambda self, state: real(self, {**state, **lost}))
    plain = task.train_trial(TASK, RESUME, CORPUS, LocalSession(tmp_path / "plain"))
    _, resumed = run_interrupted(RESUME, tmp_path / "resumed", fail_at=3)
    assert resumed[M.VAL_LOSS] != plain[M.VAL_LOSS]


def test_checkpoint_every_two_epochs_resumes_from_the_last_one(tmp_path):
    config = {**RESUME, "checkpoint_every": 2}
    plain = task.train_trial(TASK, config, CORPUS, LocalSession(tmp_path / "plain"))
    session, resumed = run_interrupted(config, tmp_path / "resumed", fail_at=4)
    assert [r[M.EPOCH] for r in session.records] == [1, 2, 3, 3, 4]  # epoch 3 was not checkpointed: redone
    assert scores(resumed) == scores(plain)


def test_loaded_hidden_state_lands_on_the_trainers_device():
    trainer = tiny_trainer(num_layers=2)
    trainer.train_epoch()
    state = checkpoint.cpu_copy(trainer.state_dict())
    assert checkpoint.move_to(state, torch.device("meta"))["hidden"][0].device.type == "meta"
    other = tiny_trainer(num_layers=2)
    other.device = torch.device("meta")  # the model stays on the CPU; only where the state goes is checked
    other.load_state_dict(state)
    assert isinstance(other.hidden, tuple) and all(h.device.type == "meta" for h in other.hidden)
    assert state_to(None, torch.device("meta")) is None


class TickClock:
    """A fake ``loop.clock``: every reading is one second after the last, so timings are exact."""

    def __init__(self) -> None:
        self.now = -1.0

    def __call__(self) -> float:
        self.now += 1.0
        return self.now


def test_a_budget_runs_the_schedule_over_its_training_seconds(monkeypatch):
    monkeypatch.setattr(loop, "clock", TickClock())
    budgeted = tiny_trainer(budget_s=100.0, lr_schedule="cosine")
    budgeted.train_epoch()  # clock readings: 0 at the start, 1, 2, 3 at the steps, 4 at the end
    assert budgeted.train_s == 4.0
    assert budgeted.optimizer.param_groups[0]["lr"] == pytest.approx(3e-3 * lr_factor("cosine", 3 / 100))
    stepped = tiny_trainer(lr_schedule="cosine")  # no budget: over 2 epochs x 3 steps
    stepped.train_epoch()
    assert stepped.optimizer.param_groups[0]["lr"] == pytest.approx(3e-3 * lr_factor("cosine", 2 / 6))


BUDGET = {**RESUME, "epochs": 10, "budget_s": 20.0}  # 6 clock seconds of training an epoch: ends after epoch 4


@pytest.mark.parametrize("formulation", ["sequence", "paper"])
def test_resume_with_a_budget_is_exact(formulation, tmp_path, monkeypatch):
    """The spent budget and the schedule's seconds come back from the checkpoint; lose the latter and it diverges."""
    config = {**BUDGET, "formulation": formulation}
    monkeypatch.setattr(loop, "clock", TickClock())
    plain_session = LocalSession(tmp_path / "plain")
    plain = task.train_trial(TASK, config, CORPUS, plain_session)
    session, resumed = run_interrupted(config, tmp_path / "resumed", fail_at=3)
    assert [r[M.TIME_TRAIN] for r in plain_session.records] == [6.0, 12.0, 18.0, 24.0]
    assert [r[M.EPOCH] for r in session.records] == [1, 2, 3, 4] and resumed[M.TIME_TRAIN] == 24.0
    assert scores(resumed) == scores(plain)
    real = CharTrainer.load_state_dict
    monkeypatch.setattr(CharTrainer, "load_state_dict", lambda self, state: real(self, {**state, "train_s": 0.0}))
    _, forgetful = run_interrupted(config, tmp_path / "forgetful", fail_at=3)
    assert forgetful[M.VAL_LOSS] != plain[M.VAL_LOSS]


@pytest.mark.parametrize("formulation, gain", [("sequence", 0.5), ("paper", 0.25)])
def test_training_learns_beyond_uniform_guessing(formulation, gain):
    """40 steps; the paper's formulation learns from 1/16 as many predictions, so less."""
    trainer = tiny_trainer(formulation, n_chars=6000, lr=1e-2, hidden_size=32, steps_per_epoch=40)
    before = trainer.validate()[M.VAL_LOSS]
    trainer.train_epoch()
    after = trainer.validate()
    assert before == pytest.approx(math.log(len(trainer.data.vocab)), abs=0.2)
    assert after[M.VAL_LOSS] < before - gain
    assert after[M.VAL_ACC] >= after[M.BASELINE_MAJORITY_VAL_ACC] - 0.02
    assert after[M.VAL_BPC] == pytest.approx(after[M.VAL_LOSS] / math.log(2))


@pytest.mark.parametrize("cell", ["lstm", "gru"])
def test_cpu_bf16_trains_in_bfloat16_and_learns_as_float32_does(cell, monkeypatch):
    """The forward passes of training run in bfloat16, scoring in float32; 40 steps land near float32's loss.
    Where this CPU cannot compute the cell in bfloat16 the trial trains in float32 (tests/test_precision.py)."""
    if not runtime.cpu_bf16_computes(CELLS[cell]):
        pytest.skip(f"this CPU ({runtime.cpu_capability()}) does not compute {cell} in bfloat16")
    dtypes = []
    real = torch.nn.Linear.forward
    monkeypatch.setattr(torch.nn.Linear, "forward", lambda self, x: (out := real(self, x), dtypes.append(out.dtype))[0])
    losses = {}
    for bf16 in (False, True):
        trainer = tiny_trainer(cell=cell, cpu_bf16=bf16, n_chars=6000, lr=1e-2, hidden_size=32, steps_per_epoch=40)
        dtypes.clear()
        trainer.train_epoch()
        assert set(dtypes) == {torch.bfloat16 if bf16 else torch.float32}
        dtypes.clear()
        losses[bf16] = trainer.validate()[M.VAL_LOSS]
        assert set(dtypes) == {torch.float32}
    assert losses[True] != losses[False] and losses[True] == pytest.approx(losses[False], abs=0.05)


def test_an_epoch_is_a_full_pass_unless_a_round_is_asked_for():
    full = tiny_trainer(steps_per_epoch=0, batch_size=16, seq_len=32)
    assert full.steps_per_epoch == full.batches.steps_per_pass() == (3600 - 1 - 32) // 16 // 32
    out = full.train_epoch()
    assert out[M.TRAIN_PASSES] == 1.0 and out[M.TRAIN_STEPS] == full.steps_per_epoch
    assert tiny_trainer(steps_per_epoch=5).train_epoch()[M.TRAIN_PASSES] == pytest.approx(5 / 55)


def manual_stream_scores(trainer: CharTrainer, starts: list[int], length: int) -> tuple[float, float]:
    """Loss sum and hits of one forward pass over each stream, after its warm-up."""
    ids, warm = trainer.data.ids, WARM_CHARS
    loss, hits = 0.0, 0
    with torch.no_grad():
        for b in starts:
            logits = trainer.model(ids[b - 1 - warm: b - 1 + length].unsqueeze(0))[0][0, warm:]
            y = ids[b: b + length]
            loss += float(torch.nn.functional.cross_entropy(logits, y, reduction="sum"))
            hits += int((logits.argmax(-1) == y).sum())
    return loss, hits


def test_the_test_part_is_scored_whole_in_streams_plus_the_rest():
    """Chunked scoring with the state carried equals one forward pass per stream, remainder included."""
    trainer = tiny_trainer(n_chars=20_000, test_fraction=0.45, val_fraction=0.05)
    targets = whole_test_part(trainer.data)
    n, per = len(targets), len(targets) // 16
    assert n == trainer.data.n_test == 9000 and n % 16 and per + WARM_CHARS > 512  # a rest; chunks cross
    first = int(targets[0])
    loss, hits = manual_stream_scores(trainer, [first + s * per for s in range(16)], per)
    rest = manual_stream_scores(trainer, [first + 16 * per], n - 16 * per)
    metrics, files = trainer.test()
    assert metrics[M.TEST_CHARS] == n
    assert metrics[M.TEST_LOSS] == pytest.approx((loss + rest[0]) / n, rel=1e-5)
    assert metrics[M.TEST_ACC] == pytest.approx((hits + rest[1]) / n)
    assert metrics[M.BASELINE_MAJORITY_TEST_ACC] == pytest.approx(majority_accuracy(trainer.data, targets))
    assert files["vocab.json"].startswith('["\\n", " "')


def test_a_capped_test_scores_the_test_parts_first_characters():
    """The paper formulation's arm scores the first test_max_chars of the test part: a window each."""
    whole = tiny_trainer("paper", n_chars=6000)
    capped = tiny_trainer("paper", n_chars=6000, test_max_chars=50)
    capped.model.load_state_dict(whole.model.state_dict())
    first = whole_test_part(whole.data)[:50]
    assert scored_test_part(capped.data, capped.cfg).tolist() == first.tolist()
    metrics = capped.test()[0]
    assert metrics[M.TEST_CHARS] == 50 < whole.data.n_test
    assert metrics[M.TEST_LOSS] == pytest.approx(whole.evaluate(first)[0], rel=1e-6)
    assert capped.cfg.work - whole.cfg.work == 50 * capped.cfg.seq_len  # the live line's cost counts it


def test_test_metrics_use_the_best_epochs_weights(tmp_path):
    session = LocalSession(tmp_path)
    final = task.train_trial(TASK, {**RESUME, "lr": 0.05, "epochs": 5}, CORPUS, session)
    vals = [r[M.VAL_LOSS] for r in session.records]
    assert final[M.BEST_EPOCH] == 1 + vals.index(min(vals))
    assert all(M.TEST_LOSS not in r for r in session.records[:-1]) and final[M.COMPLETED] == 1
    assert (tmp_path / "vocab.json").exists()


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
@pytest.mark.parametrize("formulation", ["sequence", "paper"])
def test_resume_on_a_gpu_is_exact_and_keeps_the_state_there(formulation, tmp_path):
    config = {**RESUME, "formulation": formulation}
    plain = task.train_trial(TASK, config, CORPUS, LocalSession(tmp_path / "plain"))
    _, resumed = run_interrupted(config, tmp_path / "resumed", fail_at=3)
    assert resumed[M.TEST_LOSS] == pytest.approx(plain[M.TEST_LOSS], rel=1e-4)
    trainer = tiny_trainer(formulation, num_layers=2)
    assert trainer.device.type == "cpu"
    trainer = CharTrainer(trainer.cfg, Corpus(tiny_text(4000), "tiny"), torch.device("cuda"))
    trainer.train_epoch()
    state = checkpoint.cpu_copy(trainer.state_dict())
    trainer.load_state_dict(checkpoint.move_to(state, trainer.device))
    assert next(trainer.model.parameters()).is_cuda
    if formulation == "sequence":
        assert all(h.is_cuda for h in trainer.hidden)
    before = trainer.validate()[M.VAL_LOSS]
    trainer.train_epoch()
    assert math.isfinite(trainer.validate()[M.VAL_LOSS]) and before > 0


@pytest.mark.slow
def test_trainable_on_ray_checkpoints_and_survives_a_crash(ray_cluster, tmp_path):
    """The Ray side of the same loop: a killed worker's trial resumes from its checkpoint, not from scratch."""
    import json
    from pathlib import Path

    from ray import tune

    from trainables.common.faults import MARKER

    space = {**TINY, "formulation": tune.grid_search(["sequence", "paper"]), "epochs": 3, "steps_per_epoch": 10,
             "lr": 1e-2, "fail_at_epoch": 2}
    tuner = tune.Tuner(
        tune.with_resources(tune.with_parameters(task.trainable(TASK), data=CORPUS), {"cpu": 1}),
        param_space=space,
        run_config=tune.RunConfig(name="chargen", storage_path=str(tmp_path),
                                  failure_config=tune.FailureConfig(max_failures=1)),
    )
    results = tuner.fit()
    assert not results.errors
    for result in results:
        m = result.metrics
        assert m[M.EPOCH] == 3 and m[M.TRAIN_STEPS] == 30 and m[M.COMPLETED] == 1  # resumed at epoch 2
        assert (Path(result.path) / MARKER).exists() and Path(result.path).name.startswith("train_chargen_")
        with result.checkpoint.as_directory() as ckpt:
            state = checkpoint.load_state(ckpt)
            assert m[M.TEST_LOSS] < math.log(len(state["trainer"]["vocab"])) - 0.1  # better than uniform
            assert json.loads((Path(ckpt) / "vocab.json").read_text()) == state["trainer"]["vocab"]
            assert state["progress"]["epoch"] == 3 and state["config"]["formulation"] == result.config["formulation"]
