"""One q3 trial under the local Ray fixture: metrics, side files, resume after a crash."""

from __future__ import annotations

import json
from pathlib import Path

from ray import tune

from trainables.common import metrics as M
from trainables.tweets.data import load_tweets
from trainables.tweets.trainable import CONFUSION_FILE, train_tweets


def run_one(tmp_path, data, config, max_failures=0, baselines=None):
    trainable = tune.with_parameters(train_tweets, data=data, cache_root=str(tmp_path / "cache"), baselines=baselines)
    tuner = tune.Tuner(
        tune.with_resources(trainable, {"cpu": 1}), param_space=config,
        run_config=tune.RunConfig(storage_path=str(tmp_path / "runs"), name="t",
                                  failure_config=tune.FailureConfig(max_failures=max_failures)),
    )
    (result,) = tuner.fit()
    assert result.error is None, result.error
    return result


def test_frozen_trial_reports_everything_and_resumes(ray_cluster, tmp_path, tiny_bert, tweets_csv):
    data = load_tweets(tweets_csv)
    config = {"encoder": tiny_bert, "epochs": 3, "lstm_hidden": 8, "max_length": 16, "batch_size": 16,
              "fail_at_epoch": 2}
    result = run_one(tmp_path, data, config, max_failures=1)
    history = result.metrics_dataframe
    assert history[M.EPOCH].tolist()[-1] == 3
    assert sorted(set(history[M.EPOCH])) == [1, 2, 3]
    assert (result.path and (tmp_path / "runs").exists())
    m = result.metrics
    for name in (M.TRAIN_LOSS, M.VAL_LOSS, M.VAL_MACRO_F1, M.TIME_TOTAL, M.TEST_ACC, M.TEST_MACRO_F1, M.TEST_WEIGHTED_F1,
                 "test/precision/hate", "test/recall/neither", "test/f1/offensive", M.BASELINE_MAJORITY_TEST_MACRO_F1,
                 M.BASELINE_TFIDF_TEST_MACRO_F1, "baseline/tfidf/test/f1/hate", M.TIME_ENCODE):
        assert name in m, name
    assert 0.0 <= m[M.TEST_MACRO_F1] <= 1.0 and m[M.BASELINE_MAJORITY_TEST_ACC] > 0.3
    with result.checkpoint.as_directory() as ckpt:
        cm = json.loads(Path(ckpt, CONFUSION_FILE).read_text())
    assert cm["classes"] == ["hate", "offensive", "neither"]
    assert sum(map(sum, cm["matrix"])) == 15  # 10% of 150 tweets
    # the crash at epoch 2 was retried from the epoch-1 checkpoint: the time keeps adding up
    assert history[M.TIME_TOTAL].is_monotonic_increasing
