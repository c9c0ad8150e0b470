"""What a study says about where its trials ran: one note when trials given GPUs trained on the CPU.

Ray schedules GPUs as logical resources: a node started with ``ray start
--num-gpus 2`` hands out GPU ids (and ``CUDA_VISIBLE_DEVICES``) whether or not
CUDA works there. A trial so placed trains on the CPU (``runtime.setup_device``);
every report says so (``metrics.GPU_IDS`` and ``metrics.DEVICE``), and the
study says it once on its console.
"""

from __future__ import annotations

from typing import Any

from ray import tune

from studies.console import Console
from trainables.common import metrics as M


def gpu_fallback(result: dict[str, Any]) -> str | None:
    """The note for a report from a trial given GPUs that trained on the CPU, else None."""
    gpus = result.get(M.GPU_IDS)
    if not gpus or result.get(M.DEVICE) != "cpu":
        return None
    node = result.get("node_ip") or result.get("hostname") or "its node"
    return (f"note: Ray gave trials GPUs (ids {gpus} on {node}) but CUDA is not available there: "
            "they train on the CPU")


class GpuFallbackNote(tune.Callback):
    """Prints ``gpu_fallback``'s note on ``console`` the first time a trial's report calls for it."""

    def __init__(self, console: Console | None) -> None:
        self.console = console
        self.noted = False

    # Tune pickles RunConfig's callbacks with its own state: the terminal stays out.
    def __getstate__(self) -> dict:
        return {**self.__dict__, "console": None}

    def on_trial_result(self, iteration, trials, trial, result, **info) -> None:
        note = None if self.noted else gpu_fallback(result)
        if note is None:
            return
        self.noted = True
        if self.console is not None:
            self.console.line(note)
