"""Resuming a run after its driver died: Tune's saved state checked, mended, and made true to storage.

A driver can die at any moment, and two of those moments leave state that
Ray itself cannot resume from:

- while a state file is being written: Ray writes them in place (the Tuner's
  file, the experiment snapshot, the searcher's state), so a kill or a full disk can
  leave one cut short (cf. ray-project/ray#58179). ``SnapshotGuard`` keeps the
  last intact copy of each in ``RUN_DIR/.resume-backup/``; ``recover`` puts it
  back, or refuses in one line that says what is damaged;
- between Tune deleting a trial's older checkpoint (``num_to_keep``) and
  saving a snapshot that names the newer one: the snapshot names a checkpoint
  that is gone, and Ray refuses the trial before it starts.
  ``repair_checkpoints`` points every unfinished trial at a checkpoint that
  exists before ``Tuner.restore`` reads the snapshot.

Both work on local folders and object storage alike (``trainables.common.storage``).
"""

from __future__ import annotations

import fnmatch
import json
import pickletools
from dataclasses import dataclass
from typing import Any

from studies import adapter
from studies.mirror import EverySave
from trainables.common import checkpoint, storage
from trainables.common.layout import RESUME_BACKUP, TRIAL_RESULTS

DAMAGED_PREFIX = "damaged-"  # a damaged state file is kept under this prefix, out of Tune's sight


class ResumeError(RuntimeError):
    """A run that cannot be resumed; the message is the one line the user reads."""


@dataclass(frozen=True)
class Mended:
    """What mending a killed run's state did (notes for the console), and whether the run must start over."""

    notes: list[str]
    start_over: bool = False
    """No snapshot is left (the driver died as the run started, before Tune saved one, or damaged it)."""


def intact(data: bytes | None) -> bool:
    """Whether a state file is whole: JSON that parses, or a pickle stream that reaches its STOP.

    Some of Ray's ``.json`` files are pickles (``_atomic_save``), so the
    content decides, not the name.
    """
    if not data:
        return False
    try:
        if data[:1] in (b"{", b"["):
            json.loads(data)
        else:  # walked, never executed: checking must not run pickled code
            ops = list(pickletools.genops(data))
            if not ops or ops[-1][0].name != "STOP":
                return False
    except (ValueError, UnicodeDecodeError):
        return False
    return True


def state_files(folder: str) -> dict[str, str]:
    """The file Tune reads back for each state pattern (the newest by name), pattern -> name."""
    names = storage.list_names(folder)
    found = {}
    for pattern in adapter.restored_file_patterns():
        matching = fnmatch.filter(names, pattern)
        if matching:
            found[pattern] = max(matching)
    return found


def backup(run_dir: str) -> list[str]:
    """Copy each intact state file of ``run_dir`` into its backup folder; the names copied."""
    saved_dir = storage.join(run_dir, RESUME_BACKUP)
    copied = []
    for name in state_files(run_dir).values():
        data = storage.read_bytes(storage.join(run_dir, name))
        if intact(data) and storage.read_bytes(storage.join(saved_dir, name)) != data:
            storage.write_bytes(storage.join(saved_dir, name), data)
            copied.append(name)
    return copied


class SnapshotGuard(EverySave):
    """Backs up Tune's state files each time Tune saves its state, at most every ``every_s``.

    Ray uploads its state files to the run folder in the background; a file
    caught mid-upload is not intact and is skipped, so the backup always
    holds the last intact copy of each. Tune may snapshot after every
    checkpoint: a copy every few seconds keeps what a resume needs.
    """

    def __init__(self, run_dir: str, every_s: float = 5.0) -> None:
        super().__init__(run_dir, every_s)

    def act(self) -> None:
        backup(self.run_dir)


def recover(run_dir: str) -> Mended:
    """Put back the last intact copy of every damaged state file.

    A damaged file is kept under ``damaged-NAME`` for inspection. When no
    snapshot is left the run starts over. Raises ``ResumeError`` when a
    damaged file has no intact copy and nothing older of its kind is left.
    """
    damaged = {}
    for pattern, name in state_files(run_dir).items():
        path = storage.join(run_dir, name)
        data = storage.read_bytes(path)
        if not intact(data):
            storage.write_bytes(storage.join(run_dir, DAMAGED_PREFIX + name), data or b"")
            storage.delete(path)
            damaged[pattern] = name
    if not damaged:
        # Tune restores a Tuner without a snapshot as a new run of one trial (its resume passes no
        # num_samples), so a run killed before its first snapshot starts over here instead.
        return Mended([], start_over=adapter.state_file_pattern() not in state_files(run_dir))
    notes = [f"{name} was damaged (cut short); kept as {DAMAGED_PREFIX}{name}" for name in damaged.values()]
    saved = state_files(storage.join(run_dir, RESUME_BACKUP))
    for pattern in damaged:
        if pattern in saved:
            name = saved[pattern]
            kept = storage.read_bytes(storage.join(run_dir, RESUME_BACKUP, name))
            storage.write_bytes(storage.join(run_dir, name), kept)
            notes.append(f"{name} restored from its last intact copy")
    left = state_files(run_dir)
    if adapter.state_file_pattern() not in left:
        return Mended(notes, start_over=True)
    lost = [name for pattern, name in damaged.items() if pattern not in left]
    if lost:
        raise ResumeError(f"cannot resume {run_dir}: Tune's state file {lost[0]} is damaged and no intact copy is "
                          f"left; start the run again without --resume (or with another --name)")
    return Mended(notes)


def repair_checkpoints(run_dir: str) -> list[str]:
    """Point every unfinished trial of the newest snapshot at a checkpoint that exists; notes of what changed.

    A trial whose named checkpoint is gone continues from its newest complete
    checkpoint that is no newer than the last epoch its ``result.json``
    records (so its history has no gap), or starts over when there is none.
    Every unfinished trial's checkpoint counter is moved past the folders on
    storage, so a new checkpoint never overwrites one a resume may read.
    """
    snapshot = adapter.read_snapshot(run_dir)
    if snapshot is None:
        return []
    notes, changed = [], False
    for trial in snapshot.trials:
        if trial.status == "TERMINATED":
            continue
        trial_dir = storage.join(run_dir, trial.relative_dir)
        folders = checkpoint.folders(trial_dir)
        top = max((checkpoint.folder_index(n) for n in folders), default=-1)
        if top > trial.checkpoint_index:
            trial.set_checkpoint_index(top)
            changed = True
        named = trial.checkpoint_name
        if named is None or checkpoint.peek_state(storage.join(trial_dir, named)) is not None:
            continue
        found, metrics = resumable(trial_dir, folders)
        trial.point_at(found, metrics)
        changed = True
        notes.append(f"trial {trial.trial_id}: its checkpoint {named} is gone; "
                     + (f"continuing from {found}" if found else "starting over"))
    if changed:
        snapshot.write()
    return notes


def resumable(trial_dir: str, folders: list[str]) -> tuple[str | None, dict[str, Any]]:
    """(folder, metrics Tune restores its counters from) of the newest usable checkpoint; (None, {}) if none."""
    rows = recorded_rows(trial_dir)
    last = max((r.get("epoch", 0) for r in rows), default=0)
    for name in reversed(folders):
        state = checkpoint.peek_state(storage.join(trial_dir, name))
        epoch = state["progress"]["epoch"] if state else None
        if epoch is not None and epoch <= last:
            row = next((r for r in rows if r.get("epoch") == epoch), {})
            # One report an epoch: Tune's counter of reports is the epoch.
            return name, {**row, "training_iteration": epoch}
    return None, {}


def recorded_rows(trial_dir: str) -> list[dict[str, Any]]:
    """The reports in the trial's ``result.json`` (a line cut short by a crash is skipped)."""
    rows = []
    for line in (storage.read_text(storage.join(trial_dir, TRIAL_RESULTS)) or "").splitlines():
        try:
            rows.append(json.loads(line))
        except ValueError:
            continue
    return rows


def prepare(run_dir: str) -> Mended:
    """Everything before ``Tuner.restore``: damaged state recovered, then checkpoint references repaired."""
    mended = recover(run_dir)
    if mended.start_over:
        return mended
    return Mended(mended.notes + repair_checkpoints(run_dir))
