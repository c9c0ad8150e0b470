"""The q3 study end to end (smoke test, offline) and its answers to bad input."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from studies import q3


def smoke_args(tmp_path, *extra):
    return ["--smoke-test", "--storage-path", str(tmp_path / "runs"), "--name", "smoke",
            "--cache-dir", str(tmp_path / "cache"), *extra]


def test_smoke_test_end_to_end(ray_cluster, tmp_path, tiny_bert, tiny_t5, tweets_csv, capsys):
    results = q3.main(smoke_args(tmp_path, "--data", str(tweets_csv), "--encoder", tiny_bert, "--t5", tiny_t5))
    assert len(results) == 2 and not results.errors
    run = tmp_path / "runs" / "smoke"
    info = json.loads((run / "study.json").read_text())
    assert info["study"] == "q3" and info["classes"] == ["hate", "offensive", "neither"]
    out = capsys.readouterr().out
    assert "cache built" in out
    table = (run / "tables" / "s4_models.md").read_text()
    assert "TF-IDF logistic regression" in table and "always majority" in table
    assert "tiny-bert" in table.replace("tiny-bert0", "tiny-bert") and "T5" in table
    models = pd.read_csv(run / "tables" / "s4_models.csv", index_col=0)
    assert len(models) == 4  # two arms, two baselines
    assert (run / "plots" / "token_lengths.png").exists() and (run / "plots" / "loss_curves.png").exists()
    assert len(list((run / "plots").glob("confusion_*.png"))) == 2
    lengths = pd.read_csv(run / "token_lengths.csv")
    assert lengths["tokens"].min() >= 2

    # every trial carries the baselines the study computed once, and T5 predictions are always labels
    trials = pd.concat([r.metrics_dataframe.tail(1) for r in results])
    assert trials["baseline/tfidf/test/macro_f1"].nunique() == 1
    assert trials["test/invalid_rate"].max() == 0.0

    # analysis runs again from the folder alone
    from analysis.__main__ import main as analysis_main

    (run / "report.md").unlink()
    analysis_main(["tables", str(run)])
    assert (run / "report.md").exists()


@pytest.mark.parametrize(("extra", "message"), [
    (["--data", "/no/such/file.csv"], "no such file"),
    (["--text-column", "text"], "missing column(s) text"),
    (["--encoder", "/no/such/model"], "cannot load tokenizer '/no/such/model'"),
    (["--max-length", "2"], "max_length"),
])
def test_bad_input_fails_before_any_trial(tmp_path, tweets_csv, capsys, extra, message):
    args = smoke_args(tmp_path, *(["--data", str(tweets_csv)] if "--data" not in extra else []), *extra)
    if "--max-length" in extra:
        args.remove("--smoke-test")
    with pytest.raises(SystemExit) as exc:
        q3.main(args)
    assert exc.value.code == 2
    assert message in capsys.readouterr().err
    assert not (tmp_path / "runs").exists()


def test_grid_without_network_says_so(tmp_path, tweets_csv, capsys, monkeypatch):
    from trainables.tweets import model

    monkeypatch.setattr(model, "hub_reachable", lambda timeout=3.0: False)
    with pytest.raises(SystemExit):
        q3.main(["--data", str(tweets_csv), "--storage-path", str(tmp_path / "runs"), "--bert", "not-cached/bert-q3"])
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "hub cannot be reached" in err and "not-cached/bert-q3" in err


def test_search_spaces_only_name_config_fields():
    from trainables.tweets.config import TweetConfig

    args = q3.build_parser().parse_args(["--search", "optuna", "--num-samples", "3", "--epochs", "4"])
    space, tune_config = q3.search_space(args, ["offline-minilm"], [])
    assert set(space) <= set(TweetConfig.__dataclass_fields__)
    assert tune_config.metric == "val/macro_f1" and tune_config.mode == "max" and tune_config.num_samples == 3
    args = q3.build_parser().parse_args([])
    encoders, t5_models = q3.arms(args)
    assert encoders == ["bert-base-uncased", "GroNLP/hateBERT"] and t5_models == ["t5-small"]
    space, _ = q3.search_space(args, encoders, t5_models)
    assert set(space) <= set(TweetConfig.__dataclass_fields__)
    pick = space["model_type"].func
    assert pick({"encoder": "t5-small"}) == "t5" and pick({"encoder": "GroNLP/hateBERT"}) == "encoder_lstm"
    assert space["lr"].func({"encoder": "t5-small"}) == args.t5_lr
