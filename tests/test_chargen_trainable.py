"""q2 training: the Trainer's steps and resume without Ray, then the Tune trainable on local Ray."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
import torch
from chargen_helpers import tiny_config, tiny_text
from ray import tune

from trainables.chargen.data import Corpus, majority_accuracy, prepare, val_targets
from trainables.chargen.trainable import VOCAB_FILE, Trainer, train_chargen
from trainables.common import metrics as M
from trainables.common.checkpoint import load_state
from trainables.common.faults import MARKER


@pytest.mark.parametrize("formulation", ["sequence", "report"])
def test_resumed_trainer_continues_exactly(formulation):
    cfg = tiny_config(formulation=formulation)
    data = prepare(Corpus(tiny_text(4000), "t"), cfg)

    def fresh() -> Trainer:
        torch.manual_seed(0)
        return Trainer(cfg, data, torch.device("cpu"), torch.Generator().manual_seed(0))

    first = fresh()
    first.train_steps(4)
    saved = {k: v for k, v in first.state_dict().items()}
    saved = torch.load(_roundtrip(saved), weights_only=True)  # what a checkpoint holds
    expected = first.train_steps(4)
    resumed = fresh()
    resumed.load_state_dict(saved)
    assert resumed.train_steps(4) == pytest.approx(expected, rel=1e-6)
    assert resumed.step == 8 and resumed.chars == 8 * cfg.batch_size * cfg.seq_len


def _roundtrip(state):
    import io

    buf = io.BytesIO()
    torch.save(state, buf)
    buf.seek(0)
    return buf


@pytest.mark.parametrize("formulation, gain", [("sequence", 0.5), ("report", 0.25)])
def test_training_learns_beyond_uniform_guessing(formulation, gain):
    """40 steps; the report's formulation learns from 1/16 as many predictions, so less."""
    cfg = tiny_config(formulation=formulation, lr=1e-2, hidden_size=32)
    data = prepare(Corpus(tiny_text(6000), "t"), cfg)
    torch.manual_seed(0)
    trainer = Trainer(cfg, data, torch.device("cpu"), torch.Generator().manual_seed(0))
    targets = val_targets(data, cfg)
    before, _ = trainer.evaluate(targets)
    trainer.train_steps(40)
    after, acc = trainer.evaluate(targets)
    assert before == pytest.approx(math.log(len(data.vocab)), abs=0.2)
    assert after < before - gain
    assert acc >= majority_accuracy(data, targets) - 0.02


def test_trainable_on_ray_reports_checkpoints_and_survives_a_crash(ray_cluster, tmp_path):
    corpus = Corpus(tiny_text(6000), "tiny")
    space = {**tiny_config().__dict__, "formulation": tune.grid_search(["sequence", "report"]),
             "epochs": 3, "steps_per_epoch": 10, "lr": 1e-2, "fail_at_epoch": 2}
    tuner = tune.Tuner(
        tune.with_resources(tune.with_parameters(train_chargen, corpus=corpus), {"cpu": 1}),
        param_space=space,
        run_config=tune.RunConfig(
            name="chargen", storage_path=str(tmp_path), failure_config=tune.FailureConfig(max_failures=1),
            checkpoint_config=tune.CheckpointConfig(num_to_keep=1, checkpoint_score_attribute=M.VAL_LOSS,
                                                    checkpoint_score_order="min")),
    )
    results = tuner.fit()
    assert not results.errors
    data = prepare(corpus, tiny_config())
    for result in results:
        m = result.metrics
        assert m[M.EPOCH] == 3 and m[M.TRAIN_CHARS] == 30 * 4 * 16  # resumed at epoch 2, not restarted
        assert (Path(result.path) / MARKER).exists()  # the crash happened
        assert m[M.VAL_LOSS] < math.log(len(data.vocab)) - 0.3
        assert m[M.VAL_BPC] == pytest.approx(m[M.VAL_LOSS] / math.log(2))
        assert m[M.BASELINE_MAJORITY_VAL_ACC] == pytest.approx(majority_accuracy(data, val_targets(data, tiny_config())))
        with result.checkpoint.as_directory() as ckpt:
            state = load_state(ckpt)
            assert json.loads((Path(ckpt) / VOCAB_FILE).read_text()) == list(data.vocab.chars) == state["vocab"]
            assert state["epoch"] == 3 and state["config"]["formulation"] == result.config["formulation"]


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
@pytest.mark.parametrize("formulation", ["sequence", "report"])
def test_trainer_runs_on_a_gpu(formulation):
    cfg = tiny_config(formulation=formulation, lr=1e-2)
    data = prepare(Corpus(tiny_text(4000), "t"), cfg)
    trainer = Trainer(cfg, data, torch.device("cuda"), torch.Generator().manual_seed(0))
    targets = val_targets(data, cfg)
    before, _ = trainer.evaluate(targets)
    trainer.train_steps(30)
    assert next(trainer.model.parameters()).is_cuda
    assert trainer.evaluate(targets)[0] < before


def test_stream_validation_equals_one_pass_per_stream():
    """Chunked scoring with the state carried equals one forward pass over each stream."""
    cfg = tiny_config(val_fraction=0.5, val_max_chars=0)
    data = prepare(Corpus(tiny_text(20_000), "t"), cfg)
    trainer = Trainer(cfg, data, torch.device("cpu"), torch.Generator().manual_seed(0))
    targets = val_targets(data, cfg)
    per, warm = len(targets) // 16, 100
    assert per + warm > 512  # the scoring crosses a chunk boundary
    losses, hits = [], []
    with torch.no_grad():
        for s in range(16):
            b = int(targets[0]) + s * per
            logits = trainer.model(data.ids[b - 1 - warm: b - 1 + per].unsqueeze(0))[0][0, warm:]
            y = data.ids[b: b + per]
            losses.append(torch.nn.functional.cross_entropy(logits, y, reduction="sum"))
            hits.append((logits.argmax(-1) == y).sum())
    loss, acc = trainer.evaluate(targets)
    assert loss == pytest.approx(float(sum(losses)) / len(targets), rel=1e-5)
    assert acc == pytest.approx(float(sum(hits)) / len(targets))
