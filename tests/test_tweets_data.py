"""Loading, label mapping, bad inputs and the stratified split."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from trainables.common.errors import DataError
from trainables.tweets.data import (
    DAVIDSON_CLASSES,
    check_splittable,
    fetch_davidson,
    from_frame,
    load_tweets,
    split_indices,
    synthetic_tweets,
)


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
