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
            "--top", "0", "--top-epochs", "1", "--out", str(tmp_path / "q3.json")]
    results = bench.main(argv)
    assert json.loads((tmp_path / "q3.json").read_text())["tweets"] == 150
    assert results["test"] == 15 and results["cache"]["hits"] == 2 and results["cache"]["ratio"] > 0
    frozen = results["frozen"]
    assert frozen[M.COMPLETED] == 1 and frozen[M.BEST_EPOCH] in (1, 2) and frozen[M.EPOCH] == 2
    assert sum(map(sum, frozen["confusion"])) == 15
    assert frozen[M.BASELINE_TFIDF_TEST_MACRO_F1] == results["baselines"][M.BASELINE_TFIDF_TEST_MACRO_F1]
    assert results["finetune_train"] == 60 and 0.0 <= results["finetune"][M.TEST_MACRO_F1] <= 1.0
    top = results["top"]["0"]
    assert top[M.COMPLETED] == 1 and top[M.EPOCH] == 1 and top[M.TIME_ENCODE] >= 0 and top["wall_s"] > 0
    out = capsys.readouterr().out
    assert "frozen epoch 2:" in out and "top 0 epoch 1:" in out

    # One table: every model and TF-IDF with both rules, the numbers of the final records.
    lines = results["table"].splitlines()
    assert results["table"] in out and len(lines) == 2 + 1 + 2 * 4
    assert lines[0].startswith("| model | rule | macro-F1 | weighted-F1 | hate P | hate R | hate F1 | wall time |")
    tfidf_tuned = next(x for x in lines if x.startswith("| TF-IDF + logistic regression | tuned |"))
    assert f"| {results['baselines'][M.BASELINE_TFIDF_TEST_TUNED_MACRO_F1]:.3f} |" in tfidf_tuned
    top_tuned = next(x for x in lines if x.startswith("| encoder above layer 0 + LSTM | tuned |"))
    assert top_tuned.split(" | ")[2:7] == [f"{top[f'test/tuned/{m}']:.3f}" for m in (
        "macro_f1", "weighted_f1", "precision/hate", "recall/hate", "f1/hate")]
    frozen_argmax = next(x for x in lines if x.startswith("| encoder frozen + LSTM | argmax |"))
    assert frozen_argmax.split(" | ")[2] == f"{frozen[M.TEST_MACRO_F1]:.3f}"

    # The frozen network is exactly a study trial with the same config.
    cfg = bench.frozen_config(bench.parse(argv))
    trial = task.train_trial(TASK, to_dict(cfg), StudyData(load_tweets(tweets_csv), str(tmp_path / "cache"), {}),
                     LocalSession(tmp_path / "trial"))
    shown = [k for k in trial if k.startswith(("test/", "val/", "train/"))]
    assert {k: frozen[k] for k in shown} == {k: trial[k] for k in shown}


def test_subsample_keeps_the_class_proportions(tweets_csv):
    bench = load_benchmark("q3_davidson")
    data = load_tweets(tweets_csv)
    small = bench.stratified_subsample(data, 60)
    assert len(small) == 60 and set(small.texts) <= set(data.texts)
    for c, n in small.counts().items():
        assert abs(n / 60 - data.counts()[c] / len(data)) < 0.02, c
    assert bench.stratified_subsample(data, 0) is data
