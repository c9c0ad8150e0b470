"""Loading, label mapping, bad inputs and the stratified split."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from trainables.common.errors import DataError
from trainables.tweets.config import TweetConfig
from trainables.tweets.data import (
    DAVIDSON_CLASSES,
    SYNTHETIC,
    DataOptions,
    StudyData,
    TweetData,
    describe,
    fetch_davidson,
    from_frame,
    load,
    load_tweets,
    manifest,
    read,
    subsample,
    synthetic_tweets,
)
from trainables.tweets.trial_data import baseline_key, baselines_for, check_splittable, prepare, split_indices


def test_davidson_columns_get_class_names(tweets_csv):
    data = load_tweets(tweets_csv)
    assert data.classes == DAVIDSON_CLASSES == ("hate", "offensive", "neither")
    raw = pd.read_csv(tweets_csv)
    assert np.array_equal(data.labels, raw["class"].to_numpy())
    assert data.texts[0] == raw["tweet"][0]


def test_other_csv_with_string_labels(tmp_path):
    path = tmp_path / "t.csv"
    pd.DataFrame({"text": ["a", "b", "c", "d"], "label": ["spam", "ham", "spam", " ham"]}).to_csv(path, index=False)
    data = load_tweets(path, text_column="text", label_column="label")
    assert data.classes == ("ham", "spam")
    assert data.labels.tolist() == [1, 0, 1, 0]


@pytest.mark.parametrize(("content", "message"), [
    ("", "empty"),
    ("tweet,label\nhi,1\n", "missing column(s) class"),
    ("tweet,class\nhi,1\nyo,7\n", "unknown label '7' in row 3"),
    ("tweet,class\nhi,1\nyo,\n", "missing label in row 3"),
    ("tweet,class\nhi,1\n,2\n", "missing text in row 3"),
    ("tweet,class\n", "no rows"),
])
def test_bad_inputs_are_clear(tmp_path, content, message):
    path = tmp_path / "bad.csv"
    path.write_text(content)
    with pytest.raises(DataError, match=message.replace("(", r"\(").replace(")", r"\)")):
        load_tweets(path)


def test_missing_file_and_single_label(tmp_path):
    with pytest.raises(DataError, match="no such file"):
        load_tweets(tmp_path / "nope.csv")
    frame = pd.DataFrame({"t": ["a", "b"], "y": ["x", "x"]})
    with pytest.raises(DataError, match="one label only"):
        from_frame(frame, "t", "y", "mem")


def test_too_few_examples_for_a_stratified_split():
    frame = synthetic_tweets(200)
    frame.loc[frame["class"] == 0, "class"] = 1
    frame.loc[:4, "class"] = 0  # 5 hate tweets: the 10% splits cannot each get one
    data = from_frame(frame, "tweet", "class", "mem")
    with pytest.raises(DataError, match="too few examples .*'hate' has 5; each class needs 11"):
        check_splittable(data, 0.1, 0.1)
    check_splittable(data, 0.25, 0.25)


def test_offline_download_says_how_to_provide_the_data(tmp_path, monkeypatch):
    import urllib.request

    def no_network(*a, **k):
        raise OSError("offline")

    monkeypatch.setattr(urllib.request, "urlopen", no_network)
    with pytest.raises(DataError, match="--data PATH"):
        fetch_davidson(tmp_path)
    assert not list(tmp_path.rglob("*.part"))


def test_split_is_stratified_disjoint_and_seeded():
    labels = np.repeat([0, 1, 2], [100, 700, 200])
    s = split_indices(labels, 0.1, 0.1, seed=3)
    assert len(s.train) + len(s.val) + len(s.test) == 1000
    assert not (set(s.train) & set(s.test)) and not (set(s.val) & set(s.test)) and not (set(s.train) & set(s.val))
    assert np.bincount(labels[s.test]).tolist() == [10, 70, 20]
    assert np.bincount(labels[s.val]).tolist() == [10, 70, 20]
    assert np.array_equal(split_indices(labels, 0.1, 0.1, seed=3).test, s.test)
    assert not np.array_equal(split_indices(labels, 0.1, 0.1, seed=4).test, s.test)


def test_subsample_keeps_every_class():
    data = from_frame(synthetic_tweets(300), "tweet", "class", "mem")
    small = subsample(data, 60)
    assert len(small) == 60 and set(small.counts()) == set(data.classes) and min(small.counts().values()) >= 12
    assert subsample(data, 0) is data and subsample(data, 1000) is data


def test_options_and_sources_are_checked():
    with pytest.raises(DataError, match="--encode-threads -1"):
        DataOptions(encode_threads=-1)
    with pytest.raises(DataError, match="--subsample -2"):
        DataOptions(subsample=-2)
    synthetic = read(DataOptions(data=SYNTHETIC, subsample=90))
    assert len(synthetic) == 90 and synthetic.classes == DAVIDSON_CLASSES


def test_prepare_refuses_an_empty_training_part(tweets_csv):
    with pytest.raises(DataError, match="no training or validation tweet has 50 words"):
        prepare(load_tweets(tweets_csv), TweetConfig(min_words=50))


def test_load_checks_then_builds_the_cache_and_baselines_once(tmp_path, tiny_bert, tweets_csv, capsys):
    arms = [TweetConfig(encoder=tiny_bert, max_length=16, seed=s) for s in (0, 1)]
    arms.append(TweetConfig(encoder=tiny_bert, max_length=16, hashtags="drop"))  # other cleaning
    arms.append(TweetConfig(encoder=tiny_bert, max_length=16, encoder_training="full"))  # reads no cache
    options = DataOptions(data=str(tweets_csv), cache_dir=str(tmp_path))
    shared = load(options, arms)
    out = capsys.readouterr().out
    assert out.count("cache built") == 2 and "cache hit" not in out
    assert len([p for p in (tmp_path / "embeddings").iterdir() if not p.name.startswith(".")]) == 2
    assert set(shared.baselines) == {baseline_key(arms[0]), baseline_key(arms[2])}
    assert shared.baselines[baseline_key(arms[0])] == baselines_for(shared.tweets, arms[1])
    assert shared.encoders == (tiny_bert,) and shared.t5_models == ()
    assert len(shared.lengths) == 150 and shared.lengths["tokens"].min() >= 2
    assert shared.cache_root == str(tmp_path.resolve())
    assert manifest(options, shared)["classes"] == list(DAVIDSON_CLASSES) and "150 tweets" in describe(shared)
    load(options, arms[:1])
    assert "cache hit" in capsys.readouterr().out


def test_fingerprint_sees_texts_and_labels(tweets_csv):
    tweets = load_tweets(tweets_csv)
    changed = TweetData(tweets.texts, tweets.labels.copy(), tweets.classes, tweets.origin)
    changed.labels[0] = (changed.labels[0] + 1) % 3
    assert StudyData(tweets, "", {}).tobytes() != StudyData(changed, "", {}).tobytes()
    assert StudyData(tweets, "", {}).tobytes() == StudyData(load_tweets(tweets_csv), "", {}).tobytes()


def test_t5_must_tell_the_labels_apart(tmp_path, tiny_t5):
    path = tmp_path / "t.csv"
    texts = [f"tweet {i}" for i in range(40)]
    labels = ["zebra", "yak"] * 20  # both unknown to the tiny vocabulary: the same <unk> tokens
    pd.DataFrame({"text": texts, "label": labels}).to_csv(path, index=False)
    arms = [TweetConfig(encoder=tiny_t5, model_type="t5", val_fraction=0.25, test_fraction=0.25)]
    with pytest.raises(DataError, match="cannot tell the labels .*'yak', 'zebra'"):
        load(DataOptions(data=str(path), text_column="text", label_column="label", cache_dir=str(tmp_path)), arms)


def test_load_refuses_a_bad_split_before_any_cache_or_trial(tmp_path, tiny_bert3, tweets_csv, capsys):
    import torch
    from tweets_tiny import save_tiny_distilbert

    options = DataOptions(data=str(tweets_csv), cache_dir=str(tmp_path / "cache"))
    rng = torch.get_rng_state()
    with pytest.raises(DataError, match=r"^frozen_layers 4: .*tiny-bert3.* has 3 layers, so k must be 0 to 3$"):
        load(options, [TweetConfig(encoder=tiny_bert3, encoder_training="top", frozen_layers=k) for k in (1, 4)])
    assert capsys.readouterr().err == ""  # the error is the study's one line: no weights loaded, no progress bar
    assert torch.equal(torch.get_rng_state(), rng)  # the check's random weights leave the study's state alone
    distil = str(save_tiny_distilbert(tmp_path / "distil"))
    with pytest.raises(DataError, match="cannot split"):
        load(options, [TweetConfig(encoder=distil, encoder_training="top", frozen_layers=1)])
    assert not (tmp_path / "cache").exists()
    load(options, [TweetConfig(encoder=distil, encoder_training="frozen", frozen_layers=1)])  # k matters for top only


def test_load_caches_each_hidden_state_once(tmp_path, tiny_bert3, tweets_csv, capsys):
    arms = [TweetConfig(encoder=tiny_bert3, max_length=16, encoder_training="top", frozen_layers=k, seed=s)
            for k in (1, 2) for s in (0, 1)]
    arms.append(TweetConfig(encoder=tiny_bert3, max_length=16))  # frozen: the last hidden state
    load(DataOptions(data=str(tweets_csv), cache_dir=str(tmp_path)), arms)
    out = capsys.readouterr().out
    assert out.count("cache built") == 3 and "hidden state 1)" in out and "hidden state 2)" in out


def test_the_package_has_no_import_cycle():
    """No module of trainables.tweets imports one that imports it back (at any depth, lazily or not)."""
    import ast
    import graphlib
    from pathlib import Path

    import trainables.tweets

    package = Path(trainables.tweets.__file__).parent
    graph = {}
    for path in package.glob("*.py"):
        imported = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module] + [f"{node.module}.{a.name}" for a in node.names]
            elif isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            else:
                continue
            imported |= {n.rsplit(".", 1)[-1] for n in names if n.startswith("trainables.tweets.")}
        graph[path.stem] = {m for m in imported if (package / f"{m}.py").exists()} - {path.stem}
    assert graph["data"] >= {"trial_data", "corpus"} and "data" not in graph["trial_data"]
    list(graphlib.TopologicalSorter(graph).static_order())  # raises CycleError on a cycle
