"""Tiny randomly initialised Hugging Face models and tokenizers for the q3 tests.

Built from configs and a small word vocabulary and saved to a temporary
folder, so the real loading code (Auto classes from a local path) is
exercised without any download.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
import torch

from trainables.tweets.data import synthetic_tweets

WORDS = ["hate", "vermin", "go", "back", "scum", "stupid", "trash", "damn", "loser", "ugly", "sunny", "coffee",
         "game", "friends", "today", "offensive", "neither", "<number>", "the", "a", "you", "is"]


def _word_tokenizer(specials: list[str], template: str, pair: str):
    from tokenizers import Tokenizer, normalizers, pre_tokenizers, processors
    from tokenizers.models import WordLevel

    vocab = {w: i for i, w in enumerate(specials + WORDS)}
    tok = Tokenizer(WordLevel(vocab, unk_token=specials[-1]))
    tok.normalizer = normalizers.Lowercase()
    tok.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    tok.post_processor = processors.TemplateProcessing(
        single=template, pair=pair, special_tokens=[(s, vocab[s]) for s in specials if s in template])
    return tok, vocab


def _save_bert_tokenizer(folder: Path) -> int:
    from transformers import PreTrainedTokenizerFast

    specials = ["[PAD]", "[CLS]", "[SEP]", "[MASK]", "[UNK]"]
    tok, vocab = _word_tokenizer(specials, "[CLS] $A [SEP]", "[CLS] $A [SEP] $B [SEP]")
    fast = PreTrainedTokenizerFast(tokenizer_object=tok, pad_token="[PAD]", cls_token="[CLS]", sep_token="[SEP]",
                                   mask_token="[MASK]", unk_token="[UNK]", model_max_length=64)
    fast.save_pretrained(folder)
    return len(vocab)


def save_tiny_bert(folder: Path, hidden: int = 16, seed: int = 0, layers: int = 1) -> Path:
    from transformers import BertConfig, BertModel

    vocab_size = _save_bert_tokenizer(folder)
    config = BertConfig(vocab_size=vocab_size, hidden_size=hidden, num_hidden_layers=layers, num_attention_heads=2,
                        intermediate_size=32, max_position_embeddings=64, pad_token_id=0)
    torch.manual_seed(seed)  # the same weights whatever ran before
    BertModel(config).save_pretrained(folder)
    return folder


def save_tiny_distilbert(folder: Path) -> Path:
    """An encoder whose layers sit elsewhere (``transformer.layer``) and are called otherwise than BERT's."""
    from transformers import DistilBertConfig, DistilBertModel

    vocab_size = _save_bert_tokenizer(folder)
    config = DistilBertConfig(vocab_size=vocab_size, dim=16, n_layers=2, n_heads=2, hidden_dim=32,
                              max_position_embeddings=64, pad_token_id=0)
    torch.manual_seed(0)
    DistilBertModel(config).save_pretrained(folder)
    return folder


def save_tiny_t5(folder: Path) -> Path:
    from transformers import PreTrainedTokenizerFast, T5Config, T5ForConditionalGeneration

    specials = ["<pad>", "</s>", "<unk>"]
    tok, vocab = _word_tokenizer(specials, "$A </s>", "$A </s> $B </s>")
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
