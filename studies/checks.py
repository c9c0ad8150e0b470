"""Requests a machine can never meet and storage that cannot be written, refused in one line before Ray starts.

On a local Ray, a trial asking for more CPUs or GPUs than the machine has
would wait forever with every trial PENDING; on a cluster the autoscaler may
still add nodes, so the study says what it waits for instead.
"""

from __future__ import annotations

import argparse
import os
import uuid
from pathlib import Path

from trainables.common import storage


def local_cpus() -> int:
    """CPUs a local Ray would see (the cores this process may use, as containers limit them)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def local_gpus() -> int:
    """GPUs a local Ray would see (CUDA devices visible to this process)."""
    import torch

    return torch.cuda.device_count() if torch.cuda.is_available() else 0


def on_cluster(args: argparse.Namespace) -> bool:
    return bool(args.address or os.environ.get("RAY_ADDRESS"))


def resources(args: argparse.Namespace) -> str | None:
    """Why a local machine can never run one trial (one line), or None; on a cluster, nothing to refuse."""
    if on_cluster(args):
        return None
    cpus = local_cpus()
    if args.cpus_per_trial > cpus:
        return (f"--cpus-per-trial {args.cpus_per_trial:g}: this machine has {cpus} CPU(s), so no trial could ever "
                f"start; ask for at most {cpus}, or join a cluster with --address")
    if args.gpus_per_trial > 0:
        gpus = local_gpus()
        if args.gpus_per_trial > gpus:
            have = f"{gpus} GPU(s)" if gpus else "no GPU"
            return (f"--gpus-per-trial {args.gpus_per_trial:g}: this machine has {have}, so no trial could ever "
                    "start; drop the flag to train on CPUs, or join a cluster with --address")
    return None


def cluster_wait_note(args: argparse.Namespace, available: dict[str, float]) -> str | None:
    """On a cluster: a line saying what trials wait for when no node has it yet (the autoscaler may add one)."""
    if not on_cluster(args):
        return None
    want = {"CPU": args.cpus_per_trial, "GPU": args.gpus_per_trial}
    short = [f"{n:g} {kind}" for kind, n in want.items() if n > 0 and available.get(kind, 0) < n]
    if not short:
        return None
    return (f"waiting for the cluster: each trial needs {' and '.join(short)}, and the cluster has "
            f"{', '.join(f'{available.get(k, 0):g} {k}' for k in want)} now; trials start when the autoscaler adds "
            "nodes")


def writable(path: str) -> str | None:
    """Why the folder ``path`` cannot be created or written (one line), or None when it can.

    Decided by trying, locally as on object storage: a small file is written
    into ``path`` (creating the folders it needs) and removed again, with
    every folder the probe created, so a study refused later for bad input
    leaves nothing behind. Asking instead (``os.access``) says yes to root
    where creating then fails, as on pseudo or read-only file systems.
    """
    created = [] if storage.is_uri(path) else _missing(Path(path).expanduser().absolute())
    probe = storage.join(path, f".write-probe-{uuid.uuid4().hex[:8]}")
    try:
        storage.write_text(probe, "")
        storage.delete(probe)
    except (OSError, ValueError) as exc:  # pyarrow raises OSError subclasses; a bad URI ValueError
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        return f"--storage-path: cannot write {path} ({reason})"
    finally:
        for folder in created:
            if folder.is_dir() and not any(folder.iterdir()):
                folder.rmdir()
    return None


def _missing(folder: Path) -> list[Path]:
    """``folder`` and its parents that do not exist yet, deepest first."""
    return [p for p in (folder, *folder.parents) if not p.exists()]
