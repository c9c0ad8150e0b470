"""benchmarks/q3_davidson.py on tiny models and synthetic tweets: it runs, and it trains as a study trial does."""

from __future__ import annotations

import json

from tests.helpers import load_benchmark
from trainables.common import metrics as M
from trainables.common import task
from trainables.common.config import to_dict
from trainables.common.loop import LocalSession
from trainables.tweets.data import StudyData, load_tweets
from trainables.tweets.task import TASK


def test_benchmark_runs_the_shared_loop(tmp_path, tiny_bert, tweets_csv, capsys):
    bench = load_benchmark("q3_davidson")
    argv = ["--data", str(tweets_csv), "--encoder", tiny_bert, "--max-length", "16", "--frozen-epochs", "2",
            "--finetune-epochs", "1", "--finetune-train", "60", "--trials", "2", "--reencode-trials", "1",
            "--out", str(tmp_path / "q3.json")]
    results = bench.main(argv)
    assert json.loads((tmp_path / "q3.json").read_text())["tweets"] == 150
    assert results["test"] == 15 and results["cache"]["hits"] == 2 and results["cache"]["ratio"] > 0
    frozen = results["frozen"]
    assert frozen[M.COMPLETED] == 1 and frozen[M.BEST_EPOCH] in (1, 2) and frozen[M.EPOCH] == 2
    assert sum(map(sum, frozen["confusion"])) == 15
    assert frozen[M.BASELINE_TFIDF_TEST_MACRO_F1] == results["baselines"][M.BASELINE_TFIDF_TEST_MACRO_F1]
    assert results["finetune_train"] == 60 and 0.0 <= results["finetune"][M.TEST_MACRO_F1] <= 1.0
    assert "frozen epoch 2:" in capsys.readouterr().out

    # The frozen network is exactly a study trial with the same config.
    cfg = bench.frozen_config(bench.parse(argv))
    trial = task.run(TASK, to_dict(cfg), StudyData(load_tweets(tweets_csv), str(tmp_path / "cache"), {}),
                     LocalSession(tmp_path / "trial"))
    shown = [k for k in trial if k.startswith(("test/", "val/", "train/"))]
    assert {k: frozen[k] for k in shown} == {k: trial[k] for k in shown}
