"""Checkpoint I/O shared by every trainable.

A checkpoint is a folder holding ``state.pt`` (tensors, numbers, strings,
lists and dicts only, so it loads with ``weights_only=True`` and never runs
pickled code) plus any small side files a task wants to keep with it (test
predictions, a vocabulary). Writes go to a temporary name first and are
renamed into place, so a crash mid-write leaves the previous file intact.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any

import torch
from ray import tune

STATE_FILE = "state.pt"


def save_state(directory: str | os.PathLike, state: dict[str, Any]) -> Path:
    """Write ``state`` to ``directory/state.pt`` atomically."""
    path = Path(directory) / STATE_FILE
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".state-", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            torch.save(state, fh)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def load_state(directory: str | os.PathLike) -> dict[str, Any]:
    """Read a state written by ``save_state``; tensors land on the CPU."""
    return torch.load(Path(directory) / STATE_FILE, map_location="cpu", weights_only=True)


def report(
    metrics: dict[str, Any],
    state: dict[str, Any] | None = None,
    files: dict[str, str] | None = None,
) -> None:
    """``tune.report`` the metrics, with a checkpoint when ``state`` is given.

    ``files`` maps side-file names to text written next to the state.
    """
    if state is None:
        tune.report(metrics)
        return
    with tempfile.TemporaryDirectory(prefix="ckpt-") as tmp:
        save_state(tmp, state)
        for name, text in (files or {}).items():
            Path(tmp, name).write_text(text)
        tune.report(metrics, checkpoint=tune.Checkpoint.from_directory(tmp))


def restore() -> dict[str, Any] | None:
    """The state of the trial's latest checkpoint, or None on a fresh start."""
    ckpt = tune.get_checkpoint()
    if ckpt is None:
        return None
    with ckpt.as_directory() as directory:
        return load_state(directory)
