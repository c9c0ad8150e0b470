"""Tiny randomly initialised Hugging Face encoders and tokenizers, built offline.

Built from configs and a small word vocabulary and saved to a folder, so the
real loading code (Auto classes from a local path) runs without any download:
the q3 tests use them, and benchmarks/gpu_check.py trains q3 on one.
"""

from __future__ import annotations

from pathlib import Path

import torch

WORDS = ["hate", "vermin", "go", "back", "scum", "stupid", "trash", "damn", "loser", "ugly", "sunny", "coffee",
         "game", "friends", "today", "offensive", "neither", "<number>", "the", "a", "you", "is"]


def word_tokenizer(specials: list[str], template: str, pair: str):
    from tokenizers import Tokenizer, normalizers, pre_tokenizers, processors
    from tokenizers.models import WordLevel

    vocab = {w: i for i, w in enumerate(specials + WORDS)}
    tok = Tokenizer(WordLevel(vocab, unk_token=specials[-1]))
    tok.normalizer = normalizers.Lowercase()
    tok.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    tok.post_processor = processors.TemplateProcessing(
        single=template, pair=pair, special_tokens=[(s, vocab[s]) for s in specials if s in template])
    return tok, vocab


def save_bert_tokenizer(folder: Path) -> int:
    from transformers import PreTrainedTokenizerFast

    specials = ["[PAD]", "[CLS]", "[SEP]", "[MASK]", "[UNK]"]
    tok, vocab = word_tokenizer(specials, "[CLS] $A [SEP]", "[CLS] $A [SEP] $B [SEP]")
    fast = PreTrainedTokenizerFast(tokenizer_object=tok, pad_token="[PAD]", cls_token="[CLS]", sep_token="[SEP]",
                                   mask_token="[MASK]", unk_token="[UNK]", model_max_length=64)
    fast.save_pretrained(folder)
    return len(vocab)


def save_tiny_bert(folder: Path, hidden: int = 16, seed: int = 0, layers: int = 1) -> Path:
    """A randomly initialised BERT of ``layers`` layers of width ``hidden`` with its word tokenizer, in ``folder``."""
    from transformers import BertConfig, BertModel

    vocab_size = save_bert_tokenizer(folder)
    config = BertConfig(vocab_size=vocab_size, hidden_size=hidden, num_hidden_layers=layers, num_attention_heads=2,
                        intermediate_size=32, max_position_embeddings=64, pad_token_id=0)
    torch.manual_seed(seed)  # the same weights whatever ran before
    BertModel(config).save_pretrained(folder)
    return folder
