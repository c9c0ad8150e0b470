"""Test-only fault injection, to prove that retries resume from checkpoints."""

from __future__ import annotations

import os
from pathlib import Path

MARKER = ".fault_injected"


class InjectedFault(RuntimeError):
    """Raised instead of killing the process, outside Ray (see ``LocalSession``)."""


def maybe_crash(fail_at_epoch: int, epoch: int, marker_dir: str | os.PathLike) -> None:
    """Kill this worker process at ``fail_at_epoch``, once per trial.

    The marker lives in ``marker_dir`` (the trial's folder), which outlives
    the process, so the retried trial gets past the same epoch. ``os._exit``
    skips every clean-up, as a real crash (OOM kill, lost node) would.
    """
    if fail_at_epoch < 0 or epoch != fail_at_epoch:
        return
    marker = Path(marker_dir) / MARKER
    if marker.exists():
        return
    marker.write_text(str(epoch))
    os._exit(1)
