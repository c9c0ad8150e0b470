"""Configs, the LSTM head, encoder + head and the T5 path on tiny models built here."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch

from trainables.common.config import ConfigError
from trainables.common.errors import DataError
from trainables.tweets import t5
from trainables.tweets.config import ENCODER_TRAININGS, MODEL_TYPES, TweetConfig
from trainables.tweets.model import (
    EncoderClassifier,
    LSTMHead,
    TopClassifier,
    check_available,
    check_split,
    load_encoder,
    load_seq2seq,
    load_tokenizer,
    resolve_encoder,
    split_encoder,
)


@pytest.mark.parametrize("model_type", MODEL_TYPES)
@pytest.mark.parametrize("training", ENCODER_TRAININGS)
def test_every_config_builds(model_type, training):
    cfg = TweetConfig(model_type=model_type, encoder_training=training, frozen_layers=2)
    assert cfg.uses_cache == (model_type == "encoder_lstm" and training in ("frozen", "top"))
    assert cfg.cache_layer == (2 if cfg.uses_cache and training == "top" else None)
    for f in dataclasses.fields(cfg):
        assert f.name in TweetConfig.__dataclass_fields__


@pytest.mark.parametrize(("field", "value", "message"), [
    ("encoder_training", "finetune", "encoder_training: 'finetune' is not one of frozen, top, full"),
    ("frozen_layers", -1, "frozen_layers: -1 is outside"), ("frozen_layers", 1.5, "frozen_layers: expected an integer"),
    ("hashtags", "maybe", "hashtags"), ("max_length", 2, "max_length"), ("dropout", 1.0, "dropout"),
    ("lstm_hidden", 0, "lstm_hidden"), ("encoder", " ", "encoder"), ("lr", "fast", "lr: expected a number"),
])
def test_bad_config_values_are_named(field, value, message):
    with pytest.raises(ConfigError, match=message):
        TweetConfig(**{field: value})
    with pytest.raises(TypeError, match="lstm_size"):
        TweetConfig(lstm_size=3)
    with pytest.raises(TypeError, match="'mode'"):  # renamed encoder_training
        TweetConfig(mode="frozen")


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


def test_loading_a_model_prints_no_progress_bar(tiny_bert, capfd):
    from transformers.utils import logging as hf_logging

    hf_logging.enable_progress_bar()
    load_encoder(tiny_bert)
    assert not hf_logging.is_progress_bar_enabled()
    assert "Loading weights" not in capfd.readouterr().err


@pytest.mark.parametrize("k", [0, 1, 2, 3])
def test_top_layers_on_hidden_state_k_are_the_whole_encoder(tiny_bert3, k):
    """The layers above k, fed hidden state k (padding zeroed, as the cache stores it), give the whole
    encoder's classifier output: the installed transformers' layer call and mask are used right."""
    torch.manual_seed(0)
    tok, enc = load_tokenizer(tiny_bert3), load_encoder(tiny_bert3).eval()
    head = LSTMHead(16, 3, 4, 1, True, 0.0).eval()
    batch = tok(["hate the game today you loser", "sunny"], padding=True, return_tensors="pt")
    whole = EncoderClassifier(enc, head)(batch["input_ids"], batch["attention_mask"])
    with torch.no_grad():
        hidden = enc(**batch, output_hidden_states=True).hidden_states[k] * batch["attention_mask"][..., None]
    top = TopClassifier(split_encoder(enc, k, tiny_bert3), head).eval()
    assert len(top.top.layers) == 3 - k
    assert torch.allclose(top(hidden, batch["attention_mask"].sum(dim=1)), whole, atol=1e-5)
    assert not any(name.startswith(("embeddings", "encoder")) for name, _ in top.named_parameters())


def test_bad_splits_are_one_line_errors(tmp_path, tiny_bert3):
    from tweets_tiny import save_tiny_distilbert

    check_split(tiny_bert3, [0, 2, 3])
    with pytest.raises(DataError, match=r"^frozen_layers 4: .* has 3 layers, so k must be 0 to 3$"):
        check_split(tiny_bert3, [1, 4])
    other = str(save_tiny_distilbert(tmp_path / "distil"))
    with pytest.raises(DataError, match=r"cannot split .* \(DistilBertModel has no BERT-like encoder.layer stack\)"):
        check_split(other, [1])


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
