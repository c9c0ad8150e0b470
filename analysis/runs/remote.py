"""Run folders on object storage: analysed from a local copy, outputs written back.

``local_copy(URI)`` copies the run folder down with ``pyarrow.fs.copy_files``
(the filesystem layer Ray Tune writes results through) into a temporary
folder and removes it afterwards; ``upload`` copies the files analysis wrote
back next to the trials. Checkpoint weights are left behind unless the
task's analysis uses them (``Task.uses_weights``): a q3 run's encoder
checkpoints would otherwise be gigabytes for a few tables. Local paths pass through
untouched. Which run a path means (a NAME folder, ``latest``, a RUN_ID
folder) is ``trainables.common.runs.resolve``'s to say.
"""

from __future__ import annotations

import json
import posixpath
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pyarrow.fs as pafs

from trainables.common import runs, storage
from trainables.common.checkpoint import STATE_FILE
from trainables.common.layout import STUDY_FILE


def uses_weights(path: str | Path) -> bool:
    """Whether the run's task loads trained weights in its report (its study.json names the task)."""
    from analysis.runs.trial_tables import load_task

    info = json.loads(storage.read_text(storage.join(path, STUDY_FILE)) or "{}")
    return bool(info.get("task")) and load_task(info).uses_weights


@contextmanager
def local_copy(path: str | Path) -> Iterator[Path]:
    """A local folder holding the run ``path`` means (``runs.resolve``): itself when local, else a temporary
    copy."""
    path = runs.resolve(path)
    if not storage.is_uri(path):
        yield Path(path)
        return
    fs, inner = storage.resolve(path)
    if fs.get_file_info(inner).type != pafs.FileType.Directory:
        raise FileNotFoundError(f"{path}: no such run folder")
    skip = () if uses_weights(path) else (STATE_FILE,)
    with tempfile.TemporaryDirectory(prefix="run-") as tmp:
        local = Path(tmp, posixpath.basename(inner.rstrip("/")) or "run")
        download(fs, inner, local, skip)
        yield local


def download(fs: pafs.FileSystem, inner: str, local: Path, skip: tuple[str, ...]) -> None:
    """Copy the folder ``inner`` of ``fs`` to ``local``, leaving out files named in ``skip``."""
    local_fs = pafs.LocalFileSystem()
    for info in fs.get_file_info(pafs.FileSelector(inner, recursive=True)):
        if info.type != pafs.FileType.File or info.base_name in skip:
            continue
        target = local / posixpath.relpath(info.path, inner)
        target.parent.mkdir(parents=True, exist_ok=True)
        pafs.copy_files(info.path, str(target), source_filesystem=fs, destination_filesystem=local_fs)


def upload(local: Path, written: list[Path], path: str | Path) -> list[str]:
    """Copy ``written`` (files or folders under ``local``) to the same places under ``path``; their URIs."""
    if not storage.is_uri(path):
        return [str(p) for p in written]
    fs, inner = storage.resolve(path)
    out = []
    for item in written:
        rel = Path(item).resolve().relative_to(local.resolve()).as_posix()
        target = posixpath.join(inner.rstrip("/"), rel)
        if Path(item).is_file():
            fs.create_dir(posixpath.dirname(target), recursive=True)
        pafs.copy_files(str(item), target, source_filesystem=pafs.LocalFileSystem(), destination_filesystem=fs)
        out.append(storage.join(path, rel))
    return out
