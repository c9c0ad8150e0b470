"""One q3 trial under the local Ray fixture: metrics, side files, resume after a worker crash."""

from __future__ import annotations

import json
from pathlib import Path

from ray import tune

from trainables.common import metrics as M
from trainables.common.task import trainable
from trainables.tweets.data import StudyData, load_tweets
from trainables.tweets.task import TASK
from trainables.tweets.trainer import CLASSES_FILE, CONFUSION_FILE


def run_one(tmp_path, data, config, max_failures=0):
    fn = tune.with_parameters(trainable(TASK), data=data)
    tuner = tune.Tuner(
        tune.with_resources(fn, {"cpu": 1}), param_space=config,
        run_config=tune.RunConfig(storage_path=str(tmp_path / "runs"), name="t",
                                  failure_config=tune.FailureConfig(max_failures=max_failures)),
    )
    (result,) = tuner.fit()
    assert result.error is None, result.error
    return result


def test_frozen_trial_reports_everything_and_resumes(ray_cluster, tmp_path, tiny_bert, tweets_csv):
    data = StudyData(load_tweets(tweets_csv), str(tmp_path / "cache"), {})
    config = {"encoder": tiny_bert, "epochs": 3, "lstm_hidden": 8, "max_length": 16, "batch_size": 16,
              "fail_at_epoch": 2}
    result = run_one(tmp_path, data, config, max_failures=1)
    assert Path(result.path).name.startswith("train_tweets_")
    history = result.metrics_dataframe.set_index(M.EPOCH)
    # Resumed from the epoch-1 checkpoint: epochs 2 and 3 reported once each, and epoch 2's total
    # time includes epoch 1's. (Ray may lose epoch 1's row when the worker dies right after it.)
    assert history.index.tolist()[-2:] == [2, 3] and history.index.tolist().count(2) == 1
    assert history.loc[2, M.TIME_TOTAL] > history.loc[2, M.TIME_EPOCH]
    m = result.metrics
    for name in (M.TRAIN_LOSS, M.VAL_LOSS, M.VAL_MACRO_F1, M.VAL_ACC, M.TIME_TOTAL, M.TEST_ACC, M.TEST_MACRO_F1,
                 M.TEST_WEIGHTED_F1, "test/precision/hate", "test/recall/neither", "test/f1/offensive",
                 M.BASELINE_MAJORITY_TEST_MACRO_F1, M.BASELINE_TFIDF_TEST_MACRO_F1, "baseline/tfidf/test/f1/hate",
                 M.TIME_ENCODE, M.BEST_EPOCH, M.TEST_TUNED_MACRO_F1, "test/tuned/precision/hate",
                 "tuned/offset/hate", M.BASELINE_TFIDF_TEST_TUNED_MACRO_F1, "baseline/tfidf/test/tuned/recall/hate"):
        assert name in m, name
    assert 0.0 <= m[M.TEST_MACRO_F1] <= 1.0 and m[M.BASELINE_MAJORITY_TEST_ACC] > 0.3
    assert m[M.COMPLETED] == 1 and 1 <= m[M.BEST_EPOCH] <= 3
    with result.checkpoint.as_directory() as ckpt:
        cm = json.loads(Path(ckpt, CONFUSION_FILE).read_text())
        classes = json.loads(Path(ckpt, CLASSES_FILE).read_text())
    assert cm["classes"] == classes == ["hate", "offensive", "neither"]
    assert sum(map(sum, cm["matrix"])) == 15  # 10% of 150 tweets
    assert history[M.TIME_TOTAL].is_monotonic_increasing
    assert (Path(result.path) / ".fault_injected").read_text() == "2"
