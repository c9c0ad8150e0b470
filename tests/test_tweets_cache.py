"""The content-addressed embedding cache: miss, hit, invalidation, and exact contents."""

from __future__ import annotations

import numpy as np
import torch
from tweets_tiny import save_tiny_bert

from trainables.tweets.cache import EmbeddingCache, cache_key, encoder_fingerprint
from trainables.tweets.config import TweetConfig
from trainables.tweets.model import load_encoder, load_tokenizer
from trainables.tweets.preprocess import clean_all

RAW = ["RT @a: hate the game!!!", "sunny coffee #today", "you are a loser 100", "http://t.co/x"]


def test_miss_then_hit_then_invalidated(tmp_path, tiny_bert):
    cache = EmbeddingCache(tmp_path)
    texts = clean_all(RAW, TweetConfig())
    states, hit, _ = cache.get_or_build(texts, tiny_bert, 8, batch_size=3, progress=None)
    assert not hit and len(states) == 4 and states.dim == 16
    again, hit, _ = cache.get_or_build(texts, tiny_bert, 8, progress=None)
    assert hit and np.array_equal(np.asarray(again.tokens), np.asarray(states.tokens))
    other = clean_all(RAW, TweetConfig(hashtags="drop"))  # preprocessing changed: new key, new entry
    _, hit, _ = cache.get_or_build(other, tiny_bert, 8, progress=None)
    assert not hit
    _, hit, _ = cache.get_or_build(texts, tiny_bert, 6, progress=None)  # max length changed
    assert not hit
    assert len([p for p in (tmp_path / "embeddings").iterdir() if not p.name.startswith(".")]) == 3


def test_entries_hold_the_encoder_outputs(tmp_path, tiny_bert):
    texts = ["hate the game", "sunny", "a b c d e f g h i j"]
    states, _, _ = EmbeddingCache(tmp_path).get_or_build(texts, tiny_bert, 6, batch_size=2, progress=None)
    tok, enc = load_tokenizer(tiny_bert), load_encoder(tiny_bert).eval()
    assert states.lengths(np.arange(3)).tolist() == [5, 3, 6]  # with [CLS]/[SEP], cut at 6
    x, lengths = states.batch(np.array([2, 1]))
    assert x.shape == (2, 6, 16) and lengths.tolist() == [6, 3]
    for row, text in zip(x, ["a b c d e f g h i j", "sunny"]):
        batch = tok([text], truncation=True, max_length=6, return_tensors="pt")
        with torch.no_grad():
            expected = enc(**batch).last_hidden_state[0]
        assert torch.allclose(row[:len(expected)], expected, atol=2e-3)  # stored as float16
    assert torch.all(x[1, 3:] == 0)


def test_key_depends_on_encoder_files(tmp_path, tiny_bert):
    copy = save_tiny_bert(tmp_path / "other-bert", seed=1)  # same architecture, other weights
    assert encoder_fingerprint(tiny_bert) == encoder_fingerprint(tiny_bert)
    assert encoder_fingerprint(tiny_bert) != encoder_fingerprint(str(copy))
    assert encoder_fingerprint("bert-base-uncased") == "hub:bert-base-uncased"
    assert cache_key("e", 8, ["a", "b"]) != cache_key("e", 8, ["ab"])  # texts are delimited
    assert cache_key("e", 8, ["a"]) != cache_key("f", 8, ["a"])


def test_a_failed_build_leaves_no_entry(tmp_path, tiny_bert, monkeypatch):
    import trainables.tweets.cache as cache_module

    def broken(*a, **k):
        raise RuntimeError("killed")

    monkeypatch.setattr(cache_module, "encode_to", broken)
    cache = EmbeddingCache(tmp_path)
    try:
        cache.get_or_build(["x"], tiny_bert, 8, progress=None)
    except RuntimeError:
        pass
    assert list((tmp_path / "embeddings").iterdir()) == []
    assert cache.load(cache_key(encoder_fingerprint(tiny_bert), 8, ["x"])) is None


def test_key_depends_on_the_layer(tmp_path, tiny_bert3):
    """Hidden state k of the same encoder and tweets is an entry of its own; the last layer's keeps its old key."""
    keys = {cache_key("e", 8, ["a"], layer) for layer in (None, 0, 1, 2)}
    assert len(keys) == 4 and cache_key("e", 8, ["a"]) == cache_key("e", 8, ["a"], None)
    texts = ["hate the game", "sunny", "you are a loser today"]
    cache = EmbeddingCache(tmp_path)
    entries = {layer: cache.get_or_build(texts, tiny_bert3, 8, batch_size=2, progress=None, layer=layer)[0]
               for layer in (None, 0, 1)}
    _, hit, _ = cache.get_or_build(texts, tiny_bert3, 8, progress=None, layer=1)
    assert hit and len([p for p in (tmp_path / "embeddings").iterdir() if not p.name.startswith(".")]) == 3
    tok, enc = load_tokenizer(tiny_bert3), load_encoder(tiny_bert3).eval()
    batch = tok([texts[2]], truncation=True, max_length=8, return_tensors="pt")
    with torch.no_grad():
        hidden = enc(**batch, output_hidden_states=True).hidden_states
    for layer, expected in ((None, hidden[3]), (0, hidden[0]), (1, hidden[1])):
        x, _ = entries[layer].batch(np.array([2]))
        assert torch.allclose(x[0], expected[0], atol=2e-3), layer  # stored as float16
    assert not torch.allclose(hidden[1], hidden[3], atol=1e-2)
