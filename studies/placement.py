"""Where a study's trials run: how many the cluster may run at once, and one note when trials given GPUs
trained on the CPU.

On an autoscaling cluster the nodes that will run the trials are not up when
the study starts (cluster/gpu.yaml: a head with no CPUs, GPU workers from
zero). Tune asks the autoscaler for nodes only for the trials it keeps
pending, so the study sizes that number from what the cluster may grow to:
the launcher's config the head keeps (``CLUSTER_CONFIG``), each node type's
``max_workers`` times the trials one node of it fits.

Ray schedules GPUs as logical resources: a node started with ``ray start
--num-gpus 2`` hands out GPU ids (and ``CUDA_VISIBLE_DEVICES``) whether or not
CUDA works there. A trial so placed trains on the CPU (``runtime.setup_device``);
every report says so (``metrics.GPU_IDS`` and ``metrics.DEVICE``), and the
study says it once on its console.
"""

from __future__ import annotations

import json
import math
import os
import re
from pathlib import Path
from typing import Any

import yaml
from ray import tune

from studies.console import Console
from trainables.common import metrics as M
from trainables.common import usage

CLUSTER_CONFIG = "~/ray_bootstrap_config.yaml"
"""Where Ray's launcher leaves the cluster's config on the head (the file `ray start --autoscaling-config`
reads there, node types' resources filled in from the instance types)."""
CLUSTER_CONFIG_ENV = "STUDY_CLUSTER_CONFIG"
"""Names another file than ``CLUSTER_CONFIG`` (a cluster started by hand with ``--autoscaling-config``)."""
PLACEHOLDERS = ("ACCOUNT", "my-rnn-studies")
"""Values cluster/*.yaml and cluster/iam/*.json ship with, to be replaced before a launch (docs/cluster.md)."""


def cluster_config() -> dict[str, Any] | None:
    """The launcher's config of the cluster this process runs on, or None when there is none (or it is
    unreadable): a local Ray, a cluster started by hand."""
    path = Path(os.environ.get(CLUSTER_CONFIG_ENV) or CLUSTER_CONFIG).expanduser()
    try:
        config = yaml.safe_load(path.read_text())  # YAML or JSON: both are Ray's
    except (OSError, yaml.YAMLError):
        return None
    return config if isinstance(config, dict) else None


def placeholders(config: dict[str, Any] | None) -> str | None:
    """A line naming the ``PLACEHOLDERS`` left in the cluster's config, or None."""
    text = json.dumps(config or {})
    left = [p for p in PLACEHOLDERS if re.search(rf"(?<![\w-]){re.escape(p)}(?![\w-])", text)]
    if not left:
        return None
    return (f"this cluster's config still holds {', '.join(left)} as shipped (EDIT in cluster/*.yaml): "
            "set your values (docs/cluster.md) and run `ray up` again")


def node_fits(resources: dict[str, float], cpus_per_trial: float, gpus_per_trial: float) -> int:
    """Trials one node with ``resources`` runs at once (0: none, as on a head with no CPUs)."""
    fits = [math.floor(resources.get(kind, 0.0) / need + 1e-9)
            for kind, need in (("CPU", cpus_per_trial), ("GPU", gpus_per_trial)) if need > 0]
    return min(fits) if fits else 0


def grown_slots(config: dict[str, Any] | None, cpus_per_trial: float, gpus_per_trial: float) -> int | None:
    """Trials the cluster runs at once when the autoscaler has started every node it may: the head, and each
    worker type's ``max_workers`` (at most the cluster's ``max_workers``) times ``node_fits``. None when the
    config does not say (no config, or a node type whose CPUs are not known, as with the local provider)."""
    types = (config or {}).get("available_node_types") or {}
    if not types or any("CPU" not in (t.get("resources") or {}) for t in types.values()):
        return None
    cap = config.get("max_workers", math.inf)
    head = config.get("head_node_type")
    return sum((1 if name == head else min(t.get("max_workers", 0), cap))
               * node_fits(t["resources"], cpus_per_trial, gpus_per_trial) for name, t in types.items())


def trial_slots(args: Any, resources: dict[str, float], config: dict[str, Any] | None) -> int:
    """Trials to keep pending: what the cluster runs at once now (``resources``), or what it may grow to
    (``grown_slots``) when that is more; at most --max-concurrent."""
    now = usage.slots(resources.get("CPU", 0.0), args.cpus_per_trial, 0,
                      resources.get("GPU", 0.0), args.gpus_per_trial)
    fit = max(now, grown_slots(config, args.cpus_per_trial, args.gpus_per_trial) or 0)
    return min(fit, args.max_concurrent) if args.max_concurrent > 0 else fit


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
