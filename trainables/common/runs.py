"""One folder a run: ``STORAGE/NAME/RUN_ID/``, and ``STORAGE/NAME/latest`` naming the newest.

Repeating a command never writes into a folder that holds another run: each
run gets a folder of its own, named by its start time, so every report
describes exactly one run. ``latest`` is a symbolic link on local storage
(``results/q1/latest/report.html`` opens the newest report) and a small text
file holding the run's id on object storage, where links do not exist.
``--resume`` continues the newest run of a name, or the one it names.
"""

from __future__ import annotations

import os
import posixpath
import re
import time
from pathlib import Path

from trainables.common import storage
from trainables.common.layout import STUDY_FILE

LATEST = "latest"
NAME_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")


def check_name(name: str, what: str = "--name") -> str | None:
    """Why ``name`` cannot name a run folder (separators, ``..``, odd characters), or None when it can."""
    if not NAME_PATTERN.fullmatch(name) or name in (".", "..") or ".." in name:
        return (f"{what} {name!r}: use letters, digits, '.', '_' and '-' only (no path separators or '..'), "
                "starting with a letter or digit")
    if name == LATEST:
        return f"{what} {name!r}: reserved for the link to the newest run"
    return None


def new_run_id(name_dir: str, now: float | None = None) -> str:
    """A run id from the start time, unique under ``name_dir`` (``2026-12-02_20-15-33``, then ``..._2``)."""
    stamp = time.strftime("%Y-%m-%d_%H-%M-%S", time.localtime(now))
    taken = set(storage.list_names(name_dir))
    run_id, n = stamp, 1
    while run_id in taken:
        n += 1
        run_id = f"{stamp}_{n}"
    return run_id


def set_latest(name_dir: str, run_id: str) -> None:
    """Point ``NAME/latest`` at ``run_id`` (replaced atomically on local storage)."""
    path = storage.join(name_dir, LATEST)
    if storage.is_uri(name_dir):
        storage.write_text(path, run_id + "\n")
        return
    tmp = Path(name_dir, f".{LATEST}.tmp")
    tmp.unlink(missing_ok=True)
    os.symlink(run_id, tmp)
    os.replace(tmp, path)


def latest_id(name_dir: str) -> str | None:
    """The id ``NAME/latest`` names (a link, or a file holding the id); None when there is no run yet."""
    return pointed_id(storage.join(name_dir, LATEST))


def pointed_id(pointer: str) -> str | None:
    """The run id a ``latest`` link or text file names; None when ``pointer`` is neither."""
    if not storage.is_uri(pointer) and os.path.islink(pointer):
        return os.path.basename(os.readlink(pointer).rstrip("/"))
    try:
        text = storage.read_text(pointer)
    except (OSError, UnicodeDecodeError):
        return None
    return (text or "").strip() or None


def is_run(path: str) -> bool:
    """Whether the folder ``path`` holds a run (its study.json)."""
    return storage.read_text(storage.join(path, STUDY_FILE)) is not None


def resolve(path: str | Path) -> str:
    """The run folder ``path`` means, local or on object storage: a RUN_ID folder is itself; a NAME folder
    means its newest run; a ``latest`` link or text file, the run it names.

    Raises ``FileNotFoundError`` with a one-line reason otherwise.
    """
    path = str(path).rstrip("/") or "/"  # results/q1/latest/ is the link itself, not the folder it names
    pointed, newest = pointed_id(path), latest_id(path)
    if pointed:
        run_dir = storage.join(posixpath.dirname(path), pointed)
    else:
        run_dir = storage.join(path, newest) if newest and not is_run(path) else path
    if not is_run(run_dir):
        raise FileNotFoundError(f"{path}: no {STUDY_FILE} and no runs under it; is this a study's run folder?")
    return run_dir
