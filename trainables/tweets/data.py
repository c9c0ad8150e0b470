"""q3 data: load labelled tweets, validate them, split them (stratified, seeded).

The study's side (``DataOptions``, ``load``) reads the tweets once, checks
them, the models and every arm's split before Ray starts, builds the frozen
encoders' embedding cache and scores the baselines; trials share the
``StudyData`` it returns. A trial's side, its split and cleaning, is ``split.py``.

The default is Davidson et al. 2017 (column ``tweet``, label column
``class``: 0 hate speech, 1 offensive, 2 neither). Other CSVs name their
text and label columns; their labels may be strings and the mapping from
label to class index is kept with the data (and in the final checkpoint's classes.json).
Every problem raises ``DataError`` naming the file and what is wrong.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from trainables.common import download
from trainables.common.errors import DataError
from trainables.tweets.config import OFFLINE_MINILM, TweetConfig
from trainables.tweets.corpus import TweetData
from trainables.tweets.preprocess import clean_all, cleaning_settings
from trainables.tweets.trial_data import baseline_key, baselines_for, check_splittable

DAVIDSON_URL = ("https://raw.githubusercontent.com/t-davidson/hate-speech-and-offensive-language/"
                "master/data/labeled_data.csv")
# The upstream file as of its last change (2017); a different file is refused.
DAVIDSON_SHA256 = "fcb8bc7c68120ae4af04a5b9acd58585513ede11e1548ebf36a5c2040b6f6281"
DAVIDSON_MAX_BYTES = 16 << 20  # the file is 2.5 MB
DOWNLOAD_DEADLINE_S = 300.0
DAVIDSON_CLASSES = ("hate", "offensive", "neither")
TEXT_COLUMN, LABEL_COLUMN = "tweet", "class"
SYNTHETIC = "synthetic"  # --data value: generated tweets (the smoke test, offline)
LENGTHS_FILE = "token_lengths.csv"  # tokens per cleaned tweet and tokenizer, for the paper's length analysis


def default_cache_dir() -> Path:
    """Where downloads and embeddings are kept (``RNN_STUDIES_CACHE`` overrides)."""
    return Path(os.environ.get("RNN_STUDIES_CACHE") or Path.home() / ".cache" / "rnn-studies")


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
        have = ", ".join(map(str, frame.columns))
        raise DataError(f"{origin}: missing column(s) {', '.join(missing)} (have: {have});"
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


def subsample(data: TweetData, n: int, seed: int = 0) -> TweetData:
    """Up to ``n`` tweets (at least 12 of each class where there are), every class kept."""
    if not n or n >= len(data):
        return data
    rng = np.random.default_rng(seed)
    per_class = max(12, n // len(data.classes))
    keep = np.sort(np.concatenate([rng.permutation(np.flatnonzero(data.labels == c))[:per_class]
                                   for c in range(len(data.classes))]))
    return TweetData(tuple(data.texts[i] for i in keep), data.labels[keep], data.classes, data.origin)


@dataclass(frozen=True)
class DataOptions:
    """q3's data, model and cache flags (the trial config's fields are flags of their own)."""

    data: str | None = None
    """Labelled tweet CSV; default: Davidson 2017, downloaded once into --cache-dir (offline: the path
    to labeled_data.csv); 'synthetic': generated tweets (the smoke test's default)."""
    text_column: str = TEXT_COLUMN
    """Column of the tweet text."""
    label_column: str = LABEL_COLUMN
    """Column of the labels: Davidson's 0/1/2 or any strings."""
    subsample: int = 0
    """Use at most this many tweets, every class kept (0: all; the smoke test: 240)."""
    cache_dir: str | None = None
    """Downloads and the shared embedding cache (default: $RNN_STUDIES_CACHE or ~/.cache/rnn-studies;
    on a cluster, a folder every node sees)."""
    bert: str = "bert-base-uncased"
    """Grid: the BERT encoder (Hugging Face id or local folder)."""
    hatebert: str = "GroNLP/hateBERT"
    """Grid: the HateBERT encoder."""
    t5: str | None = None
    """Grid: the T5 model (default t5-small; in --smoke-test only if given)."""
    encoder: str = OFFLINE_MINILM
    """Optuna and smoke test: the encoder ('offline-minilm' ships with the tweets extra)."""
    encode_threads: int = 0
    """CPU threads for building the embedding cache (0: all)."""

    def __post_init__(self) -> None:
        if self.encode_threads < 0:
            raise DataError(f"--encode-threads {self.encode_threads}: must be 0 (all) or more")
        if self.subsample < 0:
            raise DataError(f"--subsample {self.subsample}: must be 0 (all) or more")


@dataclass(frozen=True)
class StudyData:
    """What every trial of a study shares: the tweets, where the cache is, the baselines per split."""

    tweets: TweetData
    cache_root: str
    baselines: dict[str, dict[str, float]]  # baseline_key -> metrics
    encoders: tuple[str, ...] = ()
    t5_models: tuple[str, ...] = ()
    lengths: pd.DataFrame | None = None  # model, tokens: one row per cleaned tweet and tokenizer

    def tobytes(self) -> bytes:
        """The loaded tweets and labels, for the provenance fingerprint."""
        return "\0".join(self.tweets.texts).encode() + self.tweets.labels.tobytes()


def as_study_data(data: TweetData | StudyData) -> StudyData:
    """A trial run on bare tweets (tests, benchmarks) uses the default cache and scores its own baselines."""
    if isinstance(data, StudyData):
        return data
    return StudyData(data, str(default_cache_dir()), {})


def load(options: DataOptions, arms: list[TweetConfig]) -> StudyData:
    """Everything checkable before Ray starts: models, where top arms split their encoders, data, every arm's
    split; then the cache and baselines."""
    _check_models(arms)
    _check_splits(arms)
    tweets = read(options)
    for cfg in _distinct(arms, lambda a: (a.val_fraction, a.test_fraction)):
        check_splittable(tweets, cfg.val_fraction, cfg.test_fraction)
    _check_t5_labels(tweets, [a for a in arms if a.model_type == "t5"])
    baselines = {}
    for cfg in _distinct(arms, baseline_key):
        print("q3: majority and TF-IDF baselines on the same split")
        baselines[baseline_key(cfg)] = baselines_for(tweets, cfg)
    cache_root = str(Path(options.cache_dir or default_cache_dir()).expanduser().resolve())
    if options.encode_threads:
        torch.set_num_threads(options.encode_threads)
    _build_caches(tweets, [a for a in arms if a.uses_cache], cache_root)
    lstm = [a for a in arms if a.model_type == "encoder_lstm"]
    return StudyData(tweets, cache_root, baselines,
                     encoders=tuple(dict.fromkeys(a.encoder for a in lstm)),
                     t5_models=tuple(dict.fromkeys(a.encoder for a in arms if a.model_type == "t5")),
                     lengths=_token_lengths(tweets, lstm))


def read(options: DataOptions) -> TweetData:
    if options.data == SYNTHETIC:
        frame = synthetic_tweets(options.subsample or 240)
        return from_frame(frame, TEXT_COLUMN, LABEL_COLUMN, "synthetic tweets")
    tweets = load_tweets(options.data, options.text_column, options.label_column, options.cache_dir)
    return subsample(tweets, options.subsample)


def describe(data: StudyData) -> str:
    t = data.tweets
    return f"{len(t)} tweets from {t.origin}: " + ", ".join(f"{c} {n}" for c, n in t.counts().items())


def manifest(options: DataOptions, data: StudyData) -> dict:
    """study.json entries analysis reads back."""
    return {"data": data.tweets.origin, "classes": list(data.tweets.classes), "encoders": list(data.encoders),
            "t5": list(data.t5_models)}


def files(data: StudyData) -> dict[str, str]:
    return {} if data.lengths is None else {LENGTHS_FILE: data.lengths.to_csv(index=False)}


def _distinct(arms: list[TweetConfig], key) -> list[TweetConfig]:
    return list({key(a): a for a in arms}.values())


def _check_models(arms: list[TweetConfig]) -> None:
    """Every model of the run loads (tokenizer and config), without loading weights."""
    from trainables.tweets.model import check_available

    for cfg in _distinct(arms, lambda a: (a.encoder, a.model_type)):
        check_available(cfg.encoder, seq2seq=cfg.model_type == "t5")


def _check_splits(arms: list[TweetConfig]) -> None:
    """encoder_training top: each encoder splits at each k its arms ask for (loads its weights, once)."""
    from trainables.tweets.model import check_split

    top = [a for a in arms if a.model_type == "encoder_lstm" and a.encoder_training == "top"]
    for encoder in dict.fromkeys(a.encoder for a in top):
        check_split(encoder, [a.frozen_layers for a in top if a.encoder == encoder])


def _check_t5_labels(tweets: TweetData, arms: list[TweetConfig]) -> None:
    """T5 predicts label words: its tokenizer must spell every class differently."""
    from trainables.tweets.model import load_tokenizer
    from trainables.tweets.t5 import label_token_ids

    for cfg in _distinct(arms, lambda a: a.encoder):
        try:
            label_token_ids(load_tokenizer(cfg.encoder), tweets.classes)
        except ValueError as exc:
            raise DataError(f"{cfg.encoder}: {exc}") from None


def _build_caches(tweets: TweetData, arms: list[TweetConfig], cache_root: str) -> None:
    """The cached token outputs, once per encoder, hidden state, length and cleaning, before the trials."""
    from trainables.tweets.cache import EmbeddingCache

    for cfg in _distinct(arms, lambda a: (a.encoder, a.cache_layer, a.max_length, cleaning_settings(a))):
        which = "" if cfg.cache_layer is None else f", hidden state {cfg.cache_layer}"
        print(f"q3: token outputs of {cfg.encoder} (max length {cfg.max_length}{which}) for the shared cache "
              f"in {cache_root}")
        _, hit, seconds = EmbeddingCache(cache_root).get_or_build(clean_all(tweets.texts, cfg), cfg.encoder,
                                                                  cfg.max_length, layer=cfg.cache_layer)
        print(f"q3: {'cache hit' if hit else 'cache built'} in {seconds:.1f} s")


def _token_lengths(tweets: TweetData, arms: list[TweetConfig]) -> pd.DataFrame | None:
    from trainables.tweets.model import load_tokenizer
    from trainables.tweets.preprocess import token_lengths

    parts = [pd.DataFrame({"model": cfg.encoder,
                           "tokens": token_lengths(clean_all(tweets.texts, cfg), load_tokenizer(cfg.encoder))})
             for cfg in _distinct(arms, lambda a: a.encoder)]
    return pd.concat(parts, ignore_index=True) if parts else None
