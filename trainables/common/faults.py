"""Fault injection: ``fail_at_epoch`` N crashes each trial's worker once, at epoch N.

It ships because a user needs it too (``--set fail_at_epoch=N``): on a new cluster it shows that a crashed
trial is retried (``--max-failures``) from its last checkpoint on storage, as
the fault-tolerance tests show locally.
"""

from __future__ import annotations

import os
import posixpath
from typing import Any

MARKER = ".fault_injected"


class InjectedFault(RuntimeError):
    """Raised instead of killing the process, outside Ray (see ``LocalSession``)."""


def maybe_crash(fail_at_epoch: int, epoch: int, filesystem: Any, trial_folder: str) -> None:
    """Kill this worker process at ``fail_at_epoch``, once per trial.

    The marker lives in the trial's folder on storage (``trial_folder`` on the
    pyarrow ``filesystem``), which outlives the process and is the same for
    every worker the trial runs in, so the retried trial gets past the same
    epoch. ``os._exit`` skips every clean-up, as a real crash (OOM kill, lost
    node) would.
    """
    if fail_at_epoch < 0 or epoch != fail_at_epoch:
        return
    from pyarrow import fs

    marker = posixpath.join(trial_folder, MARKER)
    if filesystem.get_file_info(marker).type != fs.FileType.NotFound:
        return
    filesystem.create_dir(trial_folder, recursive=True)
    with filesystem.open_output_stream(marker) as out:
        out.write(str(epoch).encode())
    os._exit(1)
