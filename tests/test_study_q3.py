"""The q3 study end to end (smoke test, offline), its command line and its answers to bad input."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from analysis.runs.read import read_run
from studies import cli, launch, q3
from trainables.common import metrics as M
from trainables.tweets.config import TweetConfig
from trainables.tweets.data import DataOptions


def smoke_args(tmp_path, *extra):
    return ["--smoke-test", "--storage-path", str(tmp_path / "runs"), "--name", "smoke",
            "--cache-dir", str(tmp_path / "cache"), *extra]


def plan_of(argv: list[str]):
    return launch.prepare(q3.STUDY, argv + ["--storage-path", "/tmp/never-written"])


def test_smoke_test_end_to_end(ray_cluster, tmp_path, tiny_bert, tiny_t5, tweets_csv, capsys):
    path = q3.main(smoke_args(tmp_path, "--data", str(tweets_csv), "--encoder", tiny_bert, "--t5", tiny_t5))
    run = Path(path)
    assert run.parent == tmp_path / "runs" / "smoke"
    read = read_run(run)
    trials = read.trials
    assert len(trials) == 2 and read.unfinished.empty
    assert sorted(trials["config/model_type"]) == ["encoder_lstm", "t5"]
    assert sorted(p.name.split("_")[1] for p in run.glob("train_*")) == ["tweets", "tweets"]
    info = json.loads((run / "study.json").read_text())
    assert info["study"] == "q3" and info["task"] == "trainables.tweets.task"
    assert info["classes"] == ["hate", "offensive", "neither"]
    assert info["encoders"] == [tiny_bert] and info["t5"] == [tiny_t5] and info["metric"] == M.VAL_MACRO_F1
    out = capsys.readouterr().out
    assert "cache built" in out and "150 tweets from" in out
    table = (run / "tables" / "models.md").read_text()
    assert "TF-IDF logistic regression" in table and "always majority" in table
    assert "tiny-bert" in table.replace("tiny-bert0", "tiny-bert") and "t5" in table
    models = pd.read_csv(run / "tables" / "models.csv", index_col=0)
    assert len(models) == 4  # two arms, two baselines
    assert {"macro_f1", "tuned/macro_f1", "precision/hate", "recall/hate", "f1/hate"} <= set(models.columns)
    assert (run / "plots" / "token_lengths.png").exists() and (run / "plots" / "learning_curves.png").exists()
    assert len(list((run / "plots").glob("confusion_*.png"))) == 2
    lengths = pd.read_csv(run / "token_lengths.csv")
    assert lengths["tokens"].min() >= 2 and len(lengths) == 150
    # every trial carries the baselines the study computed once, and T5 predictions are always labels
    assert trials["baseline/tfidf/test/macro_f1"].nunique() == 1
    assert trials["test/invalid_rate"].max() == 0.0
    provenance = json.loads((run / "provenance.json").read_text())
    assert len(provenance["data_loaded_sha256"]) == 64

    # analysis runs again from the folder alone
    from analysis.__main__ import main as analysis_main

    (run / "report.md").unlink()
    analysis_main(["tables", str(run)])
    assert (run / "report.md").exists()


@pytest.mark.parametrize(("extra", "message"), [
    (["--data", "/no/such/file.csv"], "no such file"),
    (["--text-column", "text"], "missing column(s) text"),
    (["--encoder", "/no/such/model"], "cannot load tokenizer '/no/such/model'"),
    (["--max-length", "2"], "max_length: 2 is outside"),
    (["--t5-lr", "0"], "t5_lr: 0.0 is outside"),
    (["--t5-lr=-1e-3"], "t5_lr: -0.001 is outside"),
    (["--encode-threads", "-1"], "--encode-threads -1: must be 0 (all) or more"),
    (["--encoder-training", "thawed"], "encoder_training: 'thawed' is not one of frozen, top, full"),
    (["--min-words", "99"], "no training or validation tweet has 99 words"),
])
def test_bad_input_fails_before_any_trial(tmp_path, tweets_csv, tiny_bert, capsys, extra, message):
    encoder = [] if "--encoder" in extra else ["--encoder", tiny_bert]
    data = [] if "--data" in extra else ["--data", str(tweets_csv)]
    with pytest.raises(SystemExit) as exc:
        q3.main(smoke_args(tmp_path, *encoder, *data, *extra))
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1 and "Traceback" not in err
    assert not (tmp_path / "runs").exists()


def test_grid_without_network_says_so(tmp_path, tweets_csv, capsys, monkeypatch):
    from trainables.tweets import model

    monkeypatch.setattr(model, "hub_reachable", lambda timeout=3.0: False)
    with pytest.raises(SystemExit):
        q3.main(["--data", str(tweets_csv), "--storage-path", str(tmp_path / "runs"), "--bert", "not-cached/bert-q3"])
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "hub cannot be reached" in err and "not-cached/bert-q3" in err


def test_the_paper_design_is_its_three_model_families():
    _, plan = plan_of(["--seeds", "2"])
    assert sorted((a.encoder, a.model_type, a.seed, a.split_seed) for a in plan.configs) == sorted(
        (e, "t5" if e == "t5-small" else "encoder_lstm", s, s)
        for e in ("bert-base-uncased", "GroNLP/hateBERT", "t5-small") for s in (0, 1))
    assert set(plan.space) <= set(TweetConfig.__dataclass_fields__)


def test_the_search_fine_tunes_the_top_layers():
    _, plan = plan_of(["--search", "optuna", "--num-samples", "3", "--epochs", "4"])
    assert set(plan.space) <= set(TweetConfig.__dataclass_fields__)
    assert plan.space["epochs"] == 4 and plan.space["encoder"] == "offline-minilm"
    assert {a.encoder_training for a in plan.configs} == {"top"} and {a.frozen_layers for a in plan.configs} == {4, 5}
    assert {a.lstm_hidden for a in plan.configs} == {64, 128, 256} and all(a.epochs == 4 for a in plan.configs)


def test_old_flags_keep_working():
    _, plan = plan_of([
        "--epochs", "3", "--batch-size", "8", "--max-length", "24", "--lr", "0.002", "--encoder-lr", "1e-4",
        "--t5-lr", "1e-3", "--no-class-weights", "--hashtags", "drop", "--encoder-training", "full",
        "--bert", "b", "--hatebert", "h", "--t5", "t", "--seeds", "1"])
    arms = plan.configs
    assert {(a.epochs, a.batch_size, a.max_length, a.lr, a.encoder_lr, a.t5_lr, a.class_weighted, a.hashtags,
             a.encoder_training) for a in arms} == {(3, 8, 24, 0.002, 1e-4, 1e-3, False, "drop", "full")}
    assert sorted(a.encoder for a in arms) == ["b", "h", "t"]
    parser = launch.flags.parser(q3.STUDY)
    assert "class_weighted" not in vars(parser.parse_args([]))  # unset: the config's default
    assert vars(parser.parse_args(["--class-weighted"]))["class_weighted"] is True
    args = parser.parse_args(["--data", "x.csv", "--text-column", "t", "--label-column", "l",
                              "--cache-dir", "c", "--encoder", "e", "--encode-threads", "2"])
    options = cli.build(args, DataOptions)
    assert (options.data, options.text_column, options.label_column, options.cache_dir, options.encoder,
            options.encode_threads) == ("x.csv", "t", "l", "c", "e", 2)


def test_smoke_test_defaults_to_offline_synthetic_tweets():
    ctx, plan = plan_of(["--smoke-test", "--encoder", "e"])
    assert [(a.encoder, a.model_type, a.epochs, a.lstm_hidden) for a in plan.configs] == [("e", "encoder_lstm", 1, 8)]
    assert ctx.options.data == "synthetic"
    ctx, _ = plan_of(["--smoke-test", "--encoder", "e", "--data", "x.csv"])
    assert ctx.options.data == "x.csv"
