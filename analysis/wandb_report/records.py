"""What a W&B run wrote to its ``.wandb`` file, read back without a network: ``read_logged(folder)``.

A run that logs (online or offline) writes every message it sends to
``run-ID.wandb``: a LevelDB-style log of protobuf ``Record`` messages
(``wandb.proto``). The installed wandb has no public reader for it, so the
format is known here and only here: a file header (``:W&B``, a 16-bit magic,
a version byte), then 32 KiB blocks of chunks, each with a CRC-32 (of its
type byte, then its data), a length and a type (a whole record, or its first,
middle or last piece). ``tests/test_wandb_records.py`` checks it against
files the installed wandb writes.
"""

from __future__ import annotations

import json
import struct
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

IDENT = b":W&B"
MAGIC = 0xBEE1
VERSION = 0
FILE_HEADER = struct.Struct("<4sHB")
CHUNK_HEADER = struct.Struct("<IHB")
BLOCK = 32768
FULL, FIRST, MIDDLE, LAST = 1, 2, 3, 4
RUN_FILE = "run-*.wandb"
MEDIA_TYPE = "/_type"


class RecordError(ValueError):
    """A ``.wandb`` file this reader does not understand: named, with the byte offset."""


@dataclass
class Logged:
    """One W&B run as its file holds it."""

    path: Path
    run_id: str = ""
    group: str = ""
    job_type: str = ""
    project: str = ""
    config: dict[str, Any] = field(default_factory=dict)
    history: list[dict[str, Any]] = field(default_factory=list)
    summary: dict[str, Any] = field(default_factory=dict)
    exited: bool = False
    """Whether the file ends the run (its exit record): wandb may still be writing one that does not."""

    def attributes(self) -> dict[str, str]:
        """The run's attributes under W&B's own names, as a runset's filters address them."""
        return {"name": self.run_id, "group": self.group, "jobType": self.job_type, "project": self.project}

    def history_keys(self) -> set[str]:
        return {k for row in self.history for k in row}

    def media_keys(self) -> set[str]:
        """Keys logged with media (an image, a table): W&B writes each as fields below the key, ``_type`` one."""
        return {k.removesuffix(MEDIA_TYPE) for k in self.history_keys() if k.endswith(MEDIA_TYPE)}

    def numeric(self, key: str) -> bool:
        """Whether every value logged under ``key`` is a number (what a line plot can draw)."""
        values = [row[key] for row in self.history if key in row]
        return bool(values) and all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values)


def chunks(data: bytes, path: Path) -> Iterator[bytes]:
    """Every record's bytes, pieces joined, each chunk's checksum checked."""
    if len(data) < FILE_HEADER.size:
        raise RecordError(f"{path}: too short for a .wandb file")
    ident, magic, version = FILE_HEADER.unpack_from(data)
    if (ident, magic, version) != (IDENT, MAGIC, VERSION):
        raise RecordError(f"{path}: not a .wandb file of a known version (header {data[:7]!r})")
    pos, pending = FILE_HEADER.size, b""
    while pos + CHUNK_HEADER.size <= len(data):
        left = BLOCK - pos % BLOCK
        if left < CHUNK_HEADER.size:  # a block's tail too short for a header is padding
            pos += left
            continue
        crc, length, kind = CHUNK_HEADER.unpack_from(data, pos)
        if length == 0 and kind == 0:  # zero padding at the end of a block or file
            pos += left
            continue
        body = data[pos + CHUNK_HEADER.size: pos + CHUNK_HEADER.size + length]
        if len(body) < length:  # the last chunk of a file still being written
            return
        if zlib.crc32(body, zlib.crc32(bytes([kind]))) & 0xFFFFFFFF != crc:
            raise RecordError(f"{path}: checksum mismatch at byte {pos}")
        if kind not in (FULL, FIRST, MIDDLE, LAST):
            raise RecordError(f"{path}: unknown chunk type {kind} at byte {pos}")
        pos += CHUNK_HEADER.size + length
        pending = body if kind in (FULL, FIRST) else pending + body
        if kind in (FULL, LAST):
            yield pending
            pending = b""


def records(path: Path) -> Iterator[Any]:
    """The protobuf ``Record`` messages of one ``.wandb`` file, in the order written."""
    from wandb.proto import wandb_internal_pb2 as pb

    for raw in chunks(path.read_bytes(), path):
        record = pb.Record()
        record.ParseFromString(raw)
        yield record


def item_key(item: Any) -> str:
    return item.key or "/".join(item.nested_key)


def read_logged(folder: str | Path) -> Logged:
    """The run in ``folder`` (an ``offline-run-*`` or ``run-*`` folder): its config, history and summary."""
    folder = Path(folder)
    files = sorted(folder.glob(RUN_FILE))
    if not files:
        raise FileNotFoundError(f"{folder}: no {RUN_FILE}")
    out = Logged(path=files[0])
    for record in records(files[0]):
        kind = record.WhichOneof("record_type")
        if kind == "run":
            run = record.run
            out.run_id, out.group, out.job_type, out.project = run.run_id, run.run_group, run.job_type, run.project
            out.config.update({item_key(i): json.loads(i.value_json) for i in run.config.update})
        elif kind == "config":
            out.config.update({item_key(i): json.loads(i.value_json) for i in record.config.update})
        elif kind == "history":
            out.history.append({item_key(i): json.loads(i.value_json) for i in record.history.item})
        elif kind == "summary":
            out.summary.update({item_key(i): json.loads(i.value_json) for i in record.summary.update})
        elif kind == "exit":
            out.exited = True
    return out


def logged_runs(run_dir: str | Path) -> list[Logged]:
    """Every W&B run a study's run folder holds (``wandb/offline-run-*`` and ``wandb/run-*``), by folder name."""
    root = Path(run_dir) / "wandb"
    folders = sorted(p for p in root.glob("*run-*") if p.is_dir() and not p.is_symlink())
    return [read_logged(p) for p in folders]
