"""The files of an object-store run that need a local disk while its driver runs, kept in its run folder too.

The driver's log (``study.log``) is appended to as it runs and Optuna's
default SQLite database (``optuna.db``) is a file a database engine writes in
place: neither can live in an object store. For an ``s3://`` or ``gs://`` run
each is written to ``NAME-RUN_ID.<file>`` in the driver's current directory
and copied into the run folder under its usual name (as a local run holds
it): whenever Tune saves its experiment state (at most every ``every_s``), at
the end, and when the driver is interrupted (an exception or Ctrl-C; a
SIGKILL leaves the copy of the last save). ``--resume`` fetches them back
when this directory lacks them, so the run continues on another machine. A
local run folder holds them itself, and nothing here applies.
"""

from __future__ import annotations

import math
import sqlite3
import tempfile
import time
from pathlib import Path

from ray import tune

from trainables.common import storage
from trainables.common.layout import LOG_FILE, OPTUNA_DB

MIRRORED = (LOG_FILE, OPTUNA_DB)


def local_path(run_dir: str, name: str) -> Path:
    """Where the file ``name`` of run ``run_dir`` lives while its driver runs: the run folder itself when it is
    local, else ``NAME-RUN_ID.<name>`` in the current directory."""
    if not storage.is_uri(run_dir):
        return Path(run_dir, name)
    study_name, run_id = run_dir.rstrip("/").rsplit("/", 2)[-2:]
    return Path.cwd() / f"{study_name}-{run_id}.{name}"


def push(run_dir: str) -> list[str]:
    """Copy the local files of an object-store run into its run folder; the names copied."""
    if not storage.is_uri(run_dir):
        return []
    pushed = []
    for name in MIRRORED:
        local = local_path(run_dir, name)
        if local.is_file():
            storage.write_bytes(storage.join(run_dir, name), _snapshot(local))
            pushed.append(name)
    return pushed


def fetch(run_dir: str) -> list[str]:
    """Copy an object-store run's files down where this directory lacks them (a resume elsewhere); the names."""
    if not storage.is_uri(run_dir):
        return []
    fetched = []
    for name in MIRRORED:
        local = local_path(run_dir, name)
        data = None if local.exists() else storage.read_bytes(storage.join(run_dir, name))
        if data is not None:
            local.write_bytes(data)
            fetched.append(name)
    return fetched


def _snapshot(path: Path) -> bytes:
    """The file's bytes; a SQLite database through SQLite's backup, so a write in progress is not copied half."""
    if path.name.endswith(OPTUNA_DB):
        with tempfile.TemporaryDirectory() as tmp:
            copy = Path(tmp, OPTUNA_DB)
            with sqlite3.connect(path, timeout=60) as src, sqlite3.connect(copy) as dst:
                src.backup(dst)
            src.close()
            dst.close()
            return copy.read_bytes()
    return path.read_bytes()


class EverySave(tune.Callback):
    """Runs ``act`` each time Tune saves its state (``get_state`` is called then), at most every ``every_s``."""

    def __init__(self, run_dir: str, every_s: float) -> None:
        self.run_dir, self.every_s = run_dir, every_s
        self.last = -math.inf

    def act(self) -> None:
        raise NotImplementedError

    def get_state(self) -> dict | None:
        if time.monotonic() - self.last >= self.every_s:
            self.act()
            self.last = time.monotonic()
        return None  # nothing of its own to save


class Pusher(EverySave):
    """Pushes the run's local files each time Tune saves its state, at most every ``every_s``, and at the
    experiment's end."""

    def __init__(self, run_dir: str, every_s: float = 30.0) -> None:
        super().__init__(run_dir, every_s)

    def act(self) -> None:
        push(self.run_dir)

    def on_experiment_end(self, trials: list, **info) -> None:
        push(self.run_dir)
