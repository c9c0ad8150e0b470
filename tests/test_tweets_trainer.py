"""The q3 trainer in the shared loop, Ray-free: exact resume, the best epoch's test, checkpoints, baselines."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from trainables.common import checkpoint, task
from trainables.common import metrics as M
from trainables.common.config import to_dict
from trainables.common.faults import InjectedFault
from trainables.common.loop import LocalSession
from trainables.tweets.baselines import confusion, tuned_metrics
from trainables.tweets.config import TweetConfig
from trainables.tweets.data import StudyData, load_tweets
from trainables.tweets.model import load_encoder
from trainables.tweets.task import TASK
from trainables.tweets.trainer import CLASSES_FILE, CONFUSION_FILE, TweetTrainer
from trainables.tweets.trial_data import baseline_key, baselines_for

# Dropout on (between two LSTM layers and before the classifier; BERT's own in the layers
# that train), so a resume that forgot a generator would draw other masks.
HEAD = {"epochs": 3, "lstm_hidden": 8, "lstm_layers": 2, "dropout": 0.3, "max_length": 16, "batch_size": 16,
        "lr": 0.01}
ARMS = {
    "frozen": {},
    "full": {"encoder_training": "full", "encoder_lr": 1e-3},
    "top": {"encoder_training": "top", "frozen_layers": 1, "encoder_lr": 1e-3},
    "t5": {"model_type": "t5", "t5_lr": 1e-2},
}


@pytest.fixture
def data(tmp_path, tweets_csv):
    return StudyData(load_tweets(tweets_csv), str(tmp_path / "cache"), {})


def arm_config(arm: str, tiny_bert: str, tiny_t5: str) -> dict:
    return {**HEAD, **ARMS[arm], "encoder": tiny_t5 if arm == "t5" else tiny_bert}


def run_interrupted(config: dict, data, folder, fail_at: int) -> tuple[LocalSession, dict]:
    """Crash at ``fail_at``, resume in the same folder with a new trainer; the final record."""
    session = LocalSession(folder)
    with pytest.raises(InjectedFault):
        task.train_trial(TASK, {**config, "fail_at_epoch": fail_at}, data, session)
    return session, task.train_trial(TASK, {**config, "fail_at_epoch": fail_at}, data, session)


def scores(report: dict) -> dict:
    keys = [k for k in report if k.startswith(("train/", "val/", "test/", "baseline/")) or k == M.BEST_EPOCH]
    assert M.TEST_MACRO_F1 in keys and M.VAL_LOSS in keys
    return {k: report[k] for k in keys}


@pytest.mark.parametrize("arm", ["frozen", "top", pytest.param("full", marks=pytest.mark.slow),
                                 pytest.param("t5", marks=pytest.mark.slow)])
def test_resume_is_exact_with_dropout(arm, data, tmp_path, tiny_bert, tiny_bert3, tiny_t5):
    config = arm_config(arm, tiny_bert3 if arm == "top" else tiny_bert, tiny_t5)
    plain = task.train_trial(TASK, config, data, LocalSession(tmp_path / "plain"))
    session, resumed = run_interrupted(config, data, tmp_path / "resumed", fail_at=2)
    assert [r[M.EPOCH] for r in session.records] == [1, 2, 3]  # epoch 1 from the first try, 2 and 3 resumed
    assert scores(resumed) == scores(plain)


def test_resume_without_the_shuffle_generator_diverges(data, tmp_path, tiny_bert, monkeypatch):
    """The exact-resume test can fail: restore all but the shuffling generator and the batches differ."""
    config = arm_config("frozen", tiny_bert, "")
    plain = task.train_trial(TASK, config, data, LocalSession(tmp_path / "plain"))
    real = TweetTrainer.load_state_dict

    def forgetful(self, state):
        real(self, {**state, "shuffle": self.gen.get_state()})

    monkeypatch.setattr(TweetTrainer, "load_state_dict", forgetful)
    _, resumed = run_interrupted(config, data, tmp_path / "resumed", fail_at=2)
    assert resumed[M.TRAIN_LOSS] != plain[M.TRAIN_LOSS]


def test_checkpoint_holds_optimizer_scaler_and_shuffling(data, tmp_path, tiny_bert):
    session = LocalSession(tmp_path)
    task.train_trial(TASK, {**arm_config("frozen", tiny_bert, ""), "epochs": 2}, data, session)
    state = checkpoint.load_state(tmp_path)
    trainer = state["trainer"]
    assert set(trainer) == {"model", "optimizer", "scaler", "shuffle"}
    assert trainer["optimizer"]["state"] and all("exp_avg" in s for s in trainer["optimizer"]["state"].values())
    assert trainer["shuffle"].dtype == torch.uint8
    assert state["progress"]["epoch"] == 2 and state["config"]["encoder"] == tiny_bert
    assert (tmp_path / CONFUSION_FILE).exists() and (tmp_path / CLASSES_FILE).read_text() == (
        '["hate", "offensive", "neither"]')


def test_gradient_scaler_is_checkpointed_and_restored(data, tmp_path, tiny_bert):
    """The scaler's state (its scale grows while no gradient overflows) survives a checkpoint.

    GPUs use it under ``amp``; a CPU scaler, enabled here by hand, runs the same code on any machine.
    """
    cfg = TweetConfig(**{**arm_config("frozen", tiny_bert, ""), "epochs": 1})
    first = TweetTrainer(cfg, data, torch.device("cpu"))
    first.strategy.precision.scaler = torch.amp.GradScaler("cpu", init_scale=2.0 ** 10, growth_interval=1)
    first.train_epoch()
    checkpoint.save_state(tmp_path, {"trainer": first.state_dict()})
    grown = first.strategy.precision.scaler.get_scale()
    assert grown > 2.0 ** 10
    second = TweetTrainer(cfg, data, torch.device("cpu"))
    second.strategy.precision.scaler = torch.amp.GradScaler("cpu")
    second.load_state_dict(checkpoint.load_state(tmp_path)["trainer"])
    assert second.strategy.precision.scaler.get_scale() == grown
    assert second.strategy.precision.scaler.state_dict()["growth_interval"] == 1


def test_test_part_is_scored_with_the_best_epochs_weights(data, tmp_path, tiny_bert):
    """Six epochs whose best validation epoch is the first: their test scores are a one-epoch run's."""
    config = {**arm_config("frozen", tiny_bert, ""), "epochs": 6, "lstm_layers": 2}
    long = LocalSession(tmp_path / "long")
    final = task.train_trial(TASK, config, data, long)
    best = final[M.BEST_EPOCH]
    assert best < 6, "the setting must have a best epoch before the last"
    vals = [r[M.VAL_MACRO_F1] for r in long.records]
    assert vals[best - 1] == max(vals) and max(vals[:best - 1], default=-1) < max(vals)
    short = task.train_trial(TASK, {**config, "epochs": best}, data, LocalSession(tmp_path / "short"))
    test_keys = [k for k in final if k.startswith("test/")]
    assert {k: final[k] for k in test_keys} == {k: short[k] for k in test_keys}
    # The last epoch's weights (kept in the checkpoint) score otherwise.
    last = TweetTrainer(TweetConfig(**config), data, torch.device("cpu"))
    last.load_state_dict(checkpoint.load_state(tmp_path / "long")["trainer"])
    last_metrics, _ = last.test()
    assert last_metrics[M.TEST_LOSS] != final[M.TEST_LOSS]


def test_top_trains_only_the_layers_above_k(data, tmp_path, tiny_bert3):
    """k = 1 of 3 layers: the trial's model holds encoder layers 2 and 3 (as top.layers.0 and .1) and the
    head, no embeddings and no layer 1; it reads hidden state 1 from the cache; its checkpoint holds
    the trained layers."""
    config = {**arm_config("top", tiny_bert3, ""), "epochs": 2}
    trainer = TweetTrainer(TweetConfig(**config), data, torch.device("cpu"))
    names = list(trainer.model.state_dict())
    assert not any("embeddings" in n for n in names) and any(n.startswith("head.lstm") for n in names)
    assert {n.split(".")[2] for n in names if n.startswith("top.")} == {"0", "1"}
    pretrained = load_encoder(tiny_bert3).encoder.layer
    for i in (0, 1):
        start = pretrained[i + 1].state_dict()
        assert all(torch.equal(v, start[k]) for k, v in trainer.model.top.layers[i].state_dict().items())
    assert [g["lr"] for g in trainer.strategy.optimizer.param_groups] == [1e-3, 0.01]  # encoder_lr, lr
    assert [json.loads(p.read_text())["layer"] for p in Path(data.cache_root, "embeddings").glob("*/meta.json")] == [1]

    task.train_trial(TASK, config, data, LocalSession(tmp_path / "run"))
    saved = checkpoint.load_state(tmp_path / "run")["trainer"]["model"]
    assert set(saved) == set(names)
    for i in (0, 1):
        start = pretrained[i + 1].state_dict()
        assert any(not torch.equal(saved[f"top.layers.{i}.{k}"], v) for k, v in start.items()), i


def test_tuned_rule_is_chosen_on_validation_with_the_best_epochs_weights(data, tmp_path, tiny_bert):
    config = {**arm_config("frozen", tiny_bert, ""), "epochs": 3}
    session = LocalSession(tmp_path)
    final = task.train_trial(TASK, config, data, session)
    best = final[M.BEST_EPOCH]
    assert final[M.TUNED_VAL_MACRO_F1] >= session.records[best - 1][M.VAL_MACRO_F1]  # never worse than argmax
    trainer = TweetTrainer(TweetConfig(**config), data, torch.device("cpu"))
    trainer.model.load_state_dict(checkpoint.load_state(tmp_path)["progress"]["best_model"])
    prep = trainer.prep
    val, test = trainer.strategy.evaluate(prep.val, scores=True), trainer.strategy.evaluate(prep.test, scores=True)
    assert np.array_equal(val.scores.argmax(axis=1), val.pred)
    expected, pred = tuned_metrics(val.scores, prep.labels[prep.val], test.scores, prep.labels[prep.test], prep.classes)
    assert {k: final[k] for k in expected} == expected
    assert M.TEST_TUNED_MACRO_F1 in expected and M.per_target(M.TEST_TUNED_PRECISION, "hate") in expected
    cm = json.loads((tmp_path / CONFUSION_FILE).read_text())
    assert cm["tuned"] == confusion(prep.labels[prep.test], pred, prep.classes)


def test_baselines_come_from_the_study_or_the_trial(data, tmp_path, tiny_bert, monkeypatch):
    monkeypatch.setenv("RNN_STUDIES_CACHE", str(tmp_path / "default-cache"))  # where a lone trial caches
    cfg = TweetConfig(**{**arm_config("frozen", tiny_bert, ""), "epochs": 1})
    given = {**baselines_for(data.tweets, cfg), M.BASELINE_TFIDF_TEST_MACRO_F1: 0.123}  # marked: the study's
    shared = StudyData(data.tweets, data.cache_root, {baseline_key(cfg): given})
    final = task.train_trial(TASK, to_dict(cfg), shared, LocalSession(tmp_path / "given"))
    assert final[M.BASELINE_TFIDF_TEST_MACRO_F1] == 0.123
    alone = task.train_trial(TASK, to_dict(cfg), data.tweets, LocalSession(tmp_path / "alone"))
    expected = baselines_for(data.tweets, cfg)
    assert {k: alone[k] for k in expected} == expected
    assert 0.3 < expected[M.BASELINE_MAJORITY_TEST_ACC] < 0.7
    assert (tmp_path / "default-cache" / "embeddings").is_dir() and alone[M.TIME_ENCODE] >= 0


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_resume_on_a_gpu_puts_the_state_on_the_gpu(data, tmp_path, tiny_bert):
    _, resumed = run_interrupted(arm_config("full", tiny_bert, ""), data, tmp_path, fail_at=2)
    assert resumed[M.COMPLETED] == 1
    state = checkpoint.move_to(checkpoint.load_state(tmp_path)["trainer"], torch.device("cuda"))
    assert all(t.is_cuda for t in state["model"].values() if t.is_floating_point())
    assert state["shuffle"].device.type == "cpu"
