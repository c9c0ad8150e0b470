"""Tiny randomly initialised Hugging Face models and tokenizers for the q3 tests (the BERT one is the package's,
``trainables.tweets.tiny_models``, which benchmarks/gpu_check.py builds too)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
import torch

from trainables.tweets.data import synthetic_tweets
from trainables.tweets.tiny_models import save_bert_tokenizer, save_tiny_bert, word_tokenizer


def save_tiny_distilbert(folder: Path) -> Path:
    """An encoder whose layers sit elsewhere (``transformer.layer``) and are called otherwise than BERT's."""
    from transformers import DistilBertConfig, DistilBertModel

    vocab_size = save_bert_tokenizer(folder)
    config = DistilBertConfig(vocab_size=vocab_size, dim=16, n_layers=2, n_heads=2, hidden_dim=32,
                              max_position_embeddings=64, pad_token_id=0)
    torch.manual_seed(0)
    DistilBertModel(config).save_pretrained(folder)
    return folder


def save_tiny_t5(folder: Path) -> Path:
    from transformers import PreTrainedTokenizerFast, T5Config, T5ForConditionalGeneration

    specials = ["<pad>", "</s>", "<unk>"]
    tok, vocab = word_tokenizer(specials, "$A </s>", "$A </s> $B </s>")
    fast = PreTrainedTokenizerFast(tokenizer_object=tok, pad_token="<pad>", eos_token="</s>", unk_token="<unk>",
                                   model_max_length=64)
    fast.save_pretrained(folder)
    config = T5Config(vocab_size=len(vocab), d_model=16, d_ff=32, d_kv=8, num_layers=1, num_decoder_layers=1,
                      num_heads=2, pad_token_id=0, eos_token_id=1, decoder_start_token_id=0, dropout_rate=0.0)
    torch.manual_seed(0)  # the same weights whatever ran before
    T5ForConditionalGeneration(config).save_pretrained(folder)
    return folder


@pytest.fixture(scope="session")
def tiny_bert(tmp_path_factory) -> str:
    return str(save_tiny_bert(tmp_path_factory.mktemp("tiny-bert")))


@pytest.fixture(scope="session")
def tiny_bert3(tmp_path_factory) -> str:
    """Three layers, so that a trial can keep some frozen and train the others."""
    return str(save_tiny_bert(tmp_path_factory.mktemp("tiny-bert3"), layers=3))


@pytest.fixture(scope="session")
def tiny_t5(tmp_path_factory) -> str:
    return str(save_tiny_t5(tmp_path_factory.mktemp("tiny-t5")))


@pytest.fixture(scope="session")
def tweets_csv(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("tweets") / "labeled_data.csv"
    synthetic_tweets(150, seed=1).to_csv(path, index=False)
    return path


def frame(rows: list[tuple[str, object]]) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=["tweet", "class"])
