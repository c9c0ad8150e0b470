"""Content-addressed cache of a frozen encoder's (or its lower layers') token outputs.

With encoder_training frozen every trial of a study feeds the same encoder
outputs to a different LSTM head; with top, the same hidden state k (the
output of the frozen lower k layers) to its own copy of the layers above
k. Either way they are computed once per (encoder, hidden state, cleaned
texts, maximum length) and kept on disk. The key is a hash of exactly
those: the encoder's files (or its hub id), the layer (absent for the last
layer, so frozen entries keep their keys), the max length and every
cleaned tweet, so a change in preprocessing gives a new key and a stale
entry can never be read. An entry is a folder with ``tokens.npy`` (every
tweet's real tokens, one row each, float16, stacked), ``offsets.npy``
(where each tweet starts) and ``meta.json``; it is written under a
temporary name and renamed into place, so a crash leaves no half entry.
Trials open ``tokens.npy`` memory-mapped: concurrent trials share the
page cache instead of holding a copy each.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch.nn.utils.rnn import pad_sequence

from trainables.tweets.model import load_encoder, load_tokenizer, resolve_encoder

FORMAT = 1  # bump when the entry layout changes


@dataclass(frozen=True)
class TokenStates:
    """Per-tweet token outputs of the encoder, ragged, addressed by tweet index."""

    tokens: np.ndarray  # [total tokens, dim], float16, usually memory-mapped
    offsets: np.ndarray  # [tweets + 1]

    def __len__(self) -> int:
        return len(self.offsets) - 1

    @property
    def dim(self) -> int:
        return int(self.tokens.shape[1])

    def lengths(self, idx: np.ndarray) -> np.ndarray:
        return self.offsets[idx + 1] - self.offsets[idx]

    def batch(self, idx: np.ndarray) -> tuple[torch.Tensor, torch.Tensor]:
        """Padded float32 ``[batch, longest, dim]`` states and the lengths."""
        rows = [torch.from_numpy(np.asarray(self.tokens[self.offsets[i]:self.offsets[i + 1]], dtype=np.float32))
                for i in idx]
        return pad_sequence(rows, batch_first=True), torch.as_tensor(self.lengths(np.asarray(idx)))


def encoder_fingerprint(name: str) -> str:
    """Hash of a local model folder's files; a hub id stands for itself."""
    source = Path(resolve_encoder(name))
    if not source.is_dir():
        return f"hub:{name}"
    digest = hashlib.sha256()
    for path in sorted(p for p in source.rglob("*") if p.is_file() and not p.name.startswith(".")):
        digest.update(str(path.relative_to(source)).encode())
        with path.open("rb") as fh:
            for chunk in iter(lambda: fh.read(1 << 20), b""):
                digest.update(chunk)
    return f"sha256:{digest.hexdigest()}"


def cache_key(fingerprint: str, max_length: int, texts: list[str], layer: int | None = None) -> str:
    """Hash of what an entry holds; ``layer`` k is hidden state k (None: the last hidden state)."""
    what = {"format": FORMAT, "encoder": fingerprint, "max_length": max_length}
    if layer is not None:
        what["layer"] = layer
    digest = hashlib.sha256(json.dumps(what).encode())
    for text in texts:
        digest.update(text.encode())
        digest.update(b"\0")
    return digest.hexdigest()[:32]


class EmbeddingCache:
    """Entries under ``root/embeddings/<key>``."""

    def __init__(self, root: str | os.PathLike):
        self.root = Path(root) / "embeddings"

    def path(self, key: str) -> Path:
        return self.root / key

    def load(self, key: str) -> TokenStates | None:
        entry = self.path(key)
        if not (entry / "meta.json").is_file():
            return None
        return TokenStates(np.load(entry / "tokens.npy", mmap_mode="r"), np.load(entry / "offsets.npy"))

    def get_or_build(
        self, texts: list[str], encoder: str, max_length: int, batch_size: int = 64,
        progress: Callable[[str], None] | None = print, layer: int | None = None,
    ) -> tuple[TokenStates, bool, float]:
        """The entry for these texts (built now if missing), whether it was a hit, and seconds taken;
        ``layer`` k: hidden state k (0: the embeddings' output) instead of the last."""
        started = time.perf_counter()
        key = cache_key(encoder_fingerprint(encoder), max_length, texts, layer)
        states = self.load(key)
        if states is not None:
            return states, True, time.perf_counter() - started
        self.root.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(dir=self.root, prefix=f".{key}-"))
        try:
            encode_to(tmp, texts, load_tokenizer(encoder), load_encoder(encoder), max_length, batch_size, progress,
                      layer)
            (tmp / "meta.json").write_text(json.dumps({"encoder": encoder, "max_length": max_length, "layer": layer,
                                                       "tweets": len(texts), "format": FORMAT}))
            try:
                os.replace(tmp, self.path(key))
            except OSError:  # another process finished the same entry first: theirs is identical
                shutil.rmtree(tmp, ignore_errors=True)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        return self.load(key), False, time.perf_counter() - started


@torch.inference_mode()
def encode_to(
    folder: Path, texts: list[str], tokenizer, encoder: torch.nn.Module, max_length: int, batch_size: int,
    progress: Callable[[str], None] | None = print, layer: int | None = None,
) -> None:
    """Write every text's token outputs (real tokens only) into ``folder``: hidden state ``layer``,
    or the last hidden state when it is None."""
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    encoder = encoder.to(device).eval()
    ids = tokenizer(texts, truncation=True, max_length=max_length)["input_ids"]
    lengths = np.array([len(x) for x in ids], dtype=np.int64)
    offsets = np.concatenate([[0], np.cumsum(lengths)])
    np.save(folder / "offsets.npy", offsets)
    out = np.lib.format.open_memmap(folder / "tokens.npy", mode="w+", dtype=np.float16,
                                    shape=(int(offsets[-1]), int(encoder.config.hidden_size)))
    order = np.argsort(-lengths, kind="stable")  # similar lengths together: little padding
    pad = tokenizer.pad_token_id or 0
    started, batches = time.perf_counter(), range(0, len(order), batch_size)
    for n, start in enumerate(batches, 1):
        rows = order[start:start + batch_size]
        width = int(lengths[rows].max())
        input_ids = torch.full((len(rows), width), pad, dtype=torch.long)
        mask = torch.zeros((len(rows), width), dtype=torch.long)
        for j, i in enumerate(rows):
            input_ids[j, :lengths[i]] = torch.as_tensor(ids[i])
            mask[j, :lengths[i]] = 1
        result = encoder(input_ids=input_ids.to(device), attention_mask=mask.to(device),
                         output_hidden_states=layer is not None)
        states = result.last_hidden_state if layer is None else result.hidden_states[layer]
        states = states.to("cpu", torch.float16).numpy()
        for j, i in enumerate(rows):
            out[offsets[i]:offsets[i + 1]] = states[j, :lengths[i]]
        if progress and (n % max(1, len(batches) // 10) == 0 or n == len(batches)):
            spent = time.perf_counter() - started
            progress(f"encoding {min(start + batch_size, len(order))}/{len(order)} tweets "
                     f"({spent:.0f} s, about {spent / n * (len(batches) - n):.0f} s left)")
    out.flush()
    del out
