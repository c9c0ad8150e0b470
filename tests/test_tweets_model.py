"""Configs, the LSTM head, encoder + head and the T5 path on tiny models built here."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch

from trainables.common.config import ConfigError
from trainables.common.errors import DataError
from trainables.tweets import t5
from trainables.tweets.config import MODEL_TYPES, MODES, TweetConfig
from trainables.tweets.model import (
    EncoderClassifier,
    LSTMHead,
    check_available,
    load_encoder,
    load_seq2seq,
    load_tokenizer,
    resolve_encoder,
)


@pytest.mark.parametrize("model_type", MODEL_TYPES)
@pytest.mark.parametrize("mode", MODES)
def test_every_config_builds(model_type, mode):
    cfg = TweetConfig(model_type=model_type, mode=mode)
    assert cfg.uses_cache == (model_type == "encoder_lstm" and mode == "frozen")
    for f in dataclasses.fields(cfg):
        assert f.name in TweetConfig.__dataclass_fields__


@pytest.mark.parametrize(("field", "value", "message"), [
    ("mode", "thawed", "mode: 'thawed' is not one of frozen, finetune"),
    ("hashtags", "maybe", "hashtags"), ("max_length", 2, "max_length"), ("dropout", 1.0, "dropout"),
    ("lstm_hidden", 0, "lstm_hidden"), ("encoder", " ", "encoder"), ("lr", "fast", "lr: expected a number"),
])
def test_bad_config_values_are_named(field, value, message):
    with pytest.raises(ConfigError, match=message):
        TweetConfig(**{field: value})
    with pytest.raises(TypeError, match="lstm_size"):
        TweetConfig(lstm_size=3)


@pytest.mark.parametrize("bidirectional", [True, False])
def test_lstm_head_ignores_padding(bidirectional):
    torch.manual_seed(0)
    head = LSTMHead(6, 3, hidden=5, layers=2, bidirectional=bidirectional, dropout=0.0).eval()
    x = torch.randn(2, 4, 6)
    out = head(x, torch.tensor([4, 2]))
    assert out.shape == (2, 3)
    padded = torch.cat([x, torch.randn(2, 3, 6)], dim=1)  # junk after the real tokens changes nothing
    assert torch.allclose(head(padded, torch.tensor([4, 2])), out, atol=1e-6)
    assert torch.allclose(head(x[1:, :2], torch.tensor([2])), out[1:], atol=1e-6)


def test_head_parameter_count():
    head = LSTMHead(384, 3, hidden=128, layers=1, bidirectional=True, dropout=0.2)
    lstm = 2 * 4 * (128 * (384 + 128) + 2 * 128)
    assert sum(p.numel() for p in head.parameters()) == lstm + 256 * 3 + 3


def test_encoder_classifier_on_a_tiny_bert(tiny_bert):
    tok, enc = load_tokenizer(tiny_bert), load_encoder(tiny_bert)
    model = EncoderClassifier(enc, LSTMHead(16, 3, 4, 1, True, 0.0)).eval()
    batch = tok(["hate the game", "sunny"], padding=True, return_tensors="pt")
    logits = model(batch["input_ids"], batch["attention_mask"])
    assert logits.shape == (2, 3)
    single = tok(["sunny"], return_tensors="pt")
    assert torch.allclose(model(single["input_ids"], single["attention_mask"]), logits[1:], atol=1e-5)


def test_offline_minilm_ships_with_the_extra():
    folder = resolve_encoder("offline-minilm")
    assert folder.endswith("model")
    tok = load_tokenizer("offline-minilm")
    assert tok("Hello")["input_ids"] == [101, 7592, 102]  # uncased BERT vocabulary


def test_unloadable_models_fail_clearly(tmp_path):
    with pytest.raises(DataError, match="cannot load tokenizer .* folder does not hold a Hugging Face model"):
        check_available(str(tmp_path))
    with pytest.raises(DataError, match="cannot load"):
        check_available("no-such-org-q3/no-such-model")


def test_bert_is_no_t5(tiny_bert):
    with pytest.raises(DataError, match="not an encoder-decoder"):
        check_available(tiny_bert, seq2seq=True)


def test_t5_scores_every_label_and_learns(tiny_t5):
    torch.manual_seed(0)
    tok, model = load_tokenizer(tiny_t5), load_seq2seq(tiny_t5)
    classes = ("hate", "offensive", "neither")
    ids = t5.label_token_ids(tok, classes)
    assert [len(i) for i in ids] == [2, 2, 2]  # the word and </s>
    batch = tok(["classify tweet: vermin scum", "classify tweet: sunny coffee"], padding=True, return_tensors="pt")
    labels = torch.tensor([0, 2])
    targets = t5.targets_for(labels, ids)
    scores = t5.score_labels(model.eval(), batch["input_ids"], batch["attention_mask"], ids)
    assert scores.shape == (2, 3) and torch.all(scores < 0)
    # the score of the true label is minus its loss
    nll = t5.sequence_nll(model(**batch, labels=targets).logits, targets)
    assert torch.allclose(scores[[0, 1], labels], -nll, atol=1e-5)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-2)
    model.train()
    for _ in range(60):
        loss = t5.t5_loss(model, batch["input_ids"], batch["attention_mask"], targets)
        opt.zero_grad()
        loss.backward()
        opt.step()
    model.eval()
    pred = t5.score_labels(model, batch["input_ids"], batch["attention_mask"], ids).argmax(1)
    assert pred.tolist() == [0, 2]
    generated = t5.generate_labels(model, tok, batch["input_ids"], batch["attention_mask"], classes)
    assert generated.tolist() == [0, 2]


def test_t5_weighted_loss_matches_manual(tiny_t5):
    tok, model = load_tokenizer(tiny_t5), load_seq2seq(tiny_t5).eval()
    ids = t5.label_token_ids(tok, ("hate", "neither"))
    batch = tok(["vermin", "sunny today"], padding=True, return_tensors="pt")
    targets = t5.targets_for(torch.tensor([0, 1]), ids)
    nll = t5.sequence_nll(model(**batch, labels=targets).logits, targets)
    w = torch.tensor([3.0, 1.0])
    loss = t5.t5_loss(model, batch["input_ids"], batch["attention_mask"], targets, w)
    assert torch.isclose(loss, (3 * nll[0] + nll[1]) / 4, atol=1e-5)
    assert np.isfinite(loss.item())
