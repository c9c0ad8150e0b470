"""q3 data: load labelled tweets, validate them, split them (stratified, seeded).

The default is Davidson et al. 2017 (column ``tweet``, label column
``class``: 0 hate speech, 1 offensive, 2 neither). Other CSVs name their
text and label columns; their labels may be strings and the mapping from
label to class index is kept with the data (and the model's checkpoint).
Every problem raises ``DataError`` naming the file and what is wrong.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.model_selection import train_test_split

from trainables.common import download
from trainables.common.errors import DataError

DAVIDSON_URL = ("https://raw.githubusercontent.com/t-davidson/hate-speech-and-offensive-language/"
                "master/data/labeled_data.csv")
# The upstream file as of its last change (2017); a different file is refused.
DAVIDSON_SHA256 = "fcb8bc7c68120ae4af04a5b9acd58585513ede11e1548ebf36a5c2040b6f6281"
DAVIDSON_MAX_BYTES = 16 << 20  # the file is 2.5 MB
DOWNLOAD_DEADLINE_S = 300.0
DAVIDSON_CLASSES = ("hate", "offensive", "neither")
TEXT_COLUMN, LABEL_COLUMN = "tweet", "class"


def default_cache_dir() -> Path:
    """Where downloads and embeddings are kept (``RNN_STUDIES_CACHE`` overrides)."""
    return Path(os.environ.get("RNN_STUDIES_CACHE") or Path.home() / ".cache" / "rnn-studies")


@dataclass(frozen=True)
class TweetData:
    """Raw tweets, their class indices, the class names and the split."""

    texts: tuple[str, ...]
    labels: np.ndarray  # int64 class index per tweet
    classes: tuple[str, ...]  # class index -> name (the label word for T5)
    origin: str

    def __len__(self) -> int:
        return len(self.texts)

    def counts(self) -> dict[str, int]:
        return {c: int((self.labels == i).sum()) for i, c in enumerate(self.classes)}


def load_tweets(
    path: str | Path | None = None,
    text_column: str = TEXT_COLUMN,
    label_column: str = LABEL_COLUMN,
    cache_dir: str | Path | None = None,
) -> TweetData:
    """Read a labelled tweet CSV; with no path, Davidson 2017 (downloaded once)."""
    if path is None:
        path = fetch_davidson(cache_dir)
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: no such file")
    try:
        frame = pd.read_csv(path, dtype={text_column: "string"}, keep_default_na=True)
    except pd.errors.EmptyDataError:
        raise DataError(f"{path}: the file is empty") from None
    except (pd.errors.ParserError, UnicodeDecodeError) as exc:
        raise DataError(f"{path}: cannot read as CSV ({exc})") from None
    return from_frame(frame, text_column, label_column, str(path))


def from_frame(frame: pd.DataFrame, text_column: str, label_column: str, origin: str) -> TweetData:
    missing = [c for c in (text_column, label_column) if c not in frame.columns]
    if missing:
        raise DataError(f"{origin}: missing column(s) {', '.join(missing)} (have: {', '.join(map(str, frame.columns))});"
                        " name them with --text-column / --label-column")
    if frame.empty:
        raise DataError(f"{origin}: no rows")
    for col, what in ((label_column, "label"), (text_column, "text")):
        empty = frame[col].isna()
        if empty.any():
            row = int(np.flatnonzero(empty.to_numpy())[0])
            raise DataError(f"{origin}: missing {what} in row {row + 2} ({int(empty.sum())} rows without one)")
    labels, classes = _encode_labels(frame[label_column], text_column, label_column, origin)
    texts = tuple(str(t) for t in frame[text_column])
    return TweetData(texts=texts, labels=labels, classes=classes, origin=origin)


def _encode_labels(values: pd.Series, text_column: str, label_column: str, origin: str):
    """Davidson's 0/1/2 get their names; any other labels are sorted as text."""
    if (text_column, label_column) == (TEXT_COLUMN, LABEL_COLUMN):
        codes = pd.to_numeric(values, errors="coerce")
        bad = ~codes.isin(range(len(DAVIDSON_CLASSES)))
        if bad.any():
            row = int(np.flatnonzero(bad.to_numpy())[0])
            raise DataError(f"{origin}: unknown label {str(values.iloc[row])!r} in row {row + 2} "
                            f"({LABEL_COLUMN} must be 0 hate, 1 offensive or 2 neither)")
        return codes.to_numpy(dtype=np.int64), DAVIDSON_CLASSES
    names = values.astype(str).str.strip()
    classes = tuple(sorted(names.unique()))
    if len(classes) < 2:
        raise DataError(f"{origin}: column {label_column} has one label only ({classes[0]!r}); need at least two")
    index = {c: i for i, c in enumerate(classes)}
    return names.map(index).to_numpy(dtype=np.int64), classes


def fetch_davidson(cache_dir: str | Path | None = None) -> Path:
    """The Davidson CSV from its public repository, downloaded once into the cache."""
    target = Path(cache_dir or default_cache_dir()) / "davidson2017" / "labeled_data.csv"
    if not target.is_file():
        print(f"Downloading the Davidson 2017 tweets from {DAVIDSON_URL}")
    return download.fetch(DAVIDSON_URL, target, max_bytes=DAVIDSON_MAX_BYTES, deadline_s=DOWNLOAD_DEADLINE_S,
                          sha256=DAVIDSON_SHA256, what="the Davidson 2017 tweets",
                          hint="; offline, pass --data PATH to labeled_data.csv from "
                               "github.com/t-davidson/hate-speech-and-offensive-language")


def min_class_count(val_fraction: float, test_fraction: float) -> int:
    """Fewest tweets a class needs so that each split gets at least one."""
    return max(3, math.ceil(1 / min(val_fraction, test_fraction)) + 1)


def check_splittable(data: TweetData, val_fraction: float, test_fraction: float) -> None:
    need = min_class_count(val_fraction, test_fraction)
    small = {c: n for c, n in data.counts().items() if n < need}
    if small:
        listed = ", ".join(f"{c!r} has {n}" for c, n in small.items())
        raise DataError(f"{data.origin}: too few examples for a stratified split ({listed}; each class needs {need})")


@dataclass(frozen=True)
class Split:
    train: np.ndarray
    val: np.ndarray
    test: np.ndarray


def split_indices(labels: np.ndarray, val_fraction: float, test_fraction: float, seed: int) -> Split:
    """Stratified, seeded train / validation / test indices (sorted)."""
    idx = np.arange(len(labels))
    rest, test = train_test_split(idx, test_size=test_fraction, stratify=labels, random_state=seed)
    val_share = val_fraction / (1 - test_fraction)
    train, val = train_test_split(rest, test_size=val_share, stratify=labels[rest], random_state=seed)
    return Split(np.sort(train), np.sort(val), np.sort(test))


def synthetic_tweets(n: int = 120, seed: int = 0) -> pd.DataFrame:
    """A small Davidson-shaped frame for smoke tests (offline, no real data)."""
    rng = np.random.default_rng(seed)
    words = {0: ["hate", "vermin", "go", "back", "scum"], 1: ["stupid", "trash", "damn", "loser", "ugly"],
             2: ["sunny", "coffee", "game", "friends", "today"]}
    labels = rng.choice(3, size=n, p=[0.2, 0.5, 0.3])
    labels[:3] = [0, 1, 2]
    tweets = [f"RT @user{i}: " + " ".join(rng.choice(words[c], size=6)) + f" #{words[c][i % 5]} &amp; {i}"
              for i, c in enumerate(labels)]
    return pd.DataFrame({TEXT_COLUMN: tweets, LABEL_COLUMN: labels})
