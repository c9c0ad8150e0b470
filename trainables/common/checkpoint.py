"""Checkpoint I/O shared by every task: one format, one place.

A checkpoint is a folder holding ``state.pt`` plus any small side files a
task keeps with it (test predictions, a vocabulary). ``state.pt`` holds
tensors, numbers, strings, tuples, lists and dicts only, so it loads with
``weights_only=True`` and never runs pickled code. Writes go to a temporary
name first and are renamed into place, so a crash mid-write leaves the
previous file intact.

What the shared trial loop (``trainables.common.loop``) puts in ``state.pt``:

- ``trainer``: the task trainer's own state (model, optimizer, schedule,
  gradient scaler, data-iterator position, shuffling generator, carried
  hidden state);
- ``rng``: every global random generator (Python, NumPy, torch CPU, CUDA);
- ``progress``: epoch, elapsed seconds, the best validation epoch so far and
  its weights, epochs without improvement;
- ``config``: the trial's full config.
"""

from __future__ import annotations

import io
import os
import tempfile
from pathlib import Path
from typing import Any

import torch

from trainables.common import storage

STATE_FILE = "state.pt"
FOLDER_PREFIX = "checkpoint_"  # Ray Tune names a trial's checkpoint folders checkpoint_000000, ...


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
    """Read a state written by ``save_state``; tensors land on the CPU (see ``move_to``)."""
    return torch.load(Path(directory) / STATE_FILE, map_location="cpu", weights_only=True)


def folders(trial_dir: str | os.PathLike) -> list[str]:
    """Names of the trial's checkpoint folders (complete or not), oldest first."""
    return [n for n in storage.list_names(trial_dir) if n.startswith(FOLDER_PREFIX)]


def folder_index(name: str) -> int:
    """The number in a checkpoint folder's name (``checkpoint_000002`` -> 2)."""
    return int(name[len(FOLDER_PREFIX):])


def peek_state(folder: str | os.PathLike) -> dict[str, Any] | None:
    """The state of a checkpoint folder (local or on object storage) if it is complete, else None.

    Complete means ``state.pt`` exists and loads: a folder whose upload a crash
    cut short, or whose file was truncated, is not one. Local files are
    memory-mapped, so large weights are not read just to check them.
    """
    path = storage.join(folder, STATE_FILE)
    try:
        if not storage.is_uri(path):
            return torch.load(path, map_location="cpu", weights_only=True, mmap=True)
        data = storage.read_bytes(path)
        return None if data is None else torch.load(io.BytesIO(data), map_location="cpu", weights_only=True)
    except (OSError, RuntimeError, EOFError, ValueError):
        return None


def latest_folder(trial_dir: str | os.PathLike) -> Path | None:
    """A local trial's newest checkpoint folder (its final one, once the trial completed); None without any."""
    names = folders(trial_dir)
    return Path(trial_dir, names[-1]) if names else None


def move_to(tree: Any, device: torch.device | str) -> Any:
    """``tree`` with every floating-point tensor moved to ``device``.

    Weights, optimizer moments and carried hidden states are floating point
    and belong on the trial's device. Integer and byte tensors stay where
    they are: torch needs generator states on the CPU, and counters and
    token ids index CPU-side data.
    """
    if isinstance(tree, torch.Tensor):
        return tree.to(device) if tree.is_floating_point() else tree
    if isinstance(tree, dict):
        return {k: move_to(v, device) for k, v in tree.items()}
    if isinstance(tree, (list, tuple)):
        return type(tree)(move_to(v, device) for v in tree)
    return tree


def cpu_copy(tree: Any) -> Any:
    """A detached CPU copy of every tensor in ``tree`` (a snapshot that later steps cannot change)."""
    if isinstance(tree, torch.Tensor):
        return tree.detach().to("cpu", copy=True)
    if isinstance(tree, dict):
        return {k: cpu_copy(v) for k, v in tree.items()}
    if isinstance(tree, (list, tuple)):
        return type(tree)(cpu_copy(v) for v in tree)
    return tree
