"""Requests a machine can never meet and storage that cannot be written, refused in one line before Ray starts.

On a local Ray, a trial asking for more CPUs or GPUs than the machine has
would wait forever with every trial PENDING; on a cluster the autoscaler may
still add nodes, so the study says what it waits for instead.
"""

from __future__ import annotations

import argparse
import os
import re
import sys
import uuid
from pathlib import Path
from typing import NoReturn

from studies import placement
from trainables.common import storage


def fail(message: str) -> NoReturn:
    """One line on stderr and exit status 2: the CLI's answer to bad input."""
    print(f"error: {message}", file=sys.stderr)
    raise SystemExit(2)


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


def cluster_placeholders(args: argparse.Namespace) -> str | None:
    """On a cluster the launcher started: the values its config still holds as shipped (one line), or None.
    Refused before the study asks the autoscaler for a node."""
    return placement.placeholders(placement.cluster_config()) if on_cluster(args) else None


def shared_note(args: argparse.Namespace, total: dict[str, float], available: dict[str, float]) -> str | None:
    """On a cluster where others' trials hold resources as this study starts: a line saying so (docs/cluster.md,
    "Two studies at once"). Ray places the waiting trials of every study in turn as resources free."""
    if not on_cluster(args):
        return None
    want = {"CPU": args.cpus_per_trial, "GPU": args.gpus_per_trial}
    busy = {k: total.get(k, 0) - available.get(k, 0) for k, n in want.items() if n > 0}
    if not any(used > 1e-9 for used in busy.values()):
        return None
    held = ", ".join(f"{total.get(k, 0) - used:g} of {total.get(k, 0):g} {k}" for k, used in busy.items())
    cap = (f"--max-concurrent {args.max_concurrent} caps this study's share" if args.max_concurrent else
           "--max-concurrent N caps this study's share")
    return (f"the cluster is shared: {held} free now, the rest held by other jobs; this study's trials take "
            f"their turn as resources free ({cap})")


def writable(path: str) -> str | None:
    """Why the folder ``path`` cannot be created or written (one line), or None when it can.

    Decided by trying, locally as on object storage: a small file is written
    into ``path`` (creating the folders it needs) and removed again, with
    every folder the probe created, so a study refused later for bad input
    leaves nothing behind. Asking instead (``os.access``) says yes to root
    where creating then fails, as on pseudo or read-only file systems. On
    ``s3://`` the probe is one object written and deleted (an object store
    has no folders to create), and a failure names its cause: the bucket, the
    credentials or the endpoint (``s3_problem``).
    """
    created = [] if storage.is_uri(path) else _missing(Path(path).expanduser().absolute())
    probe = storage.join(path, f".write-probe-{uuid.uuid4().hex[:8]}")
    try:
        if path.startswith("s3://"):
            _probe_object(probe)
        else:
            storage.write_text(probe, "")
            storage.delete(probe)
    except (OSError, ValueError) as exc:  # pyarrow raises OSError subclasses; a bad URI ValueError
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        if path.startswith("s3://"):
            return f"--storage-path {path}: {s3_problem(reason)}"
        return f"--storage-path: cannot write {path} ({reason})"
    finally:
        for folder in created:
            if folder.is_dir() and not any(folder.iterdir()):
                folder.rmdir()
    return None


def _probe_object(uri: str) -> None:
    """Write and delete one empty object at ``uri`` (no folder markers made on the way)."""
    fs, inner = storage.resolve(uri)
    with fs.open_output_stream(inner) as fh:
        fh.write(b"")
    fs.delete_file(inner)


# The AWS SDK's error names (pyarrow's messages carry them as "AWS Error NAME") that mean "not allowed".
DENIED = ("ACCESS_DENIED", "INVALID_ACCESS_KEY_ID", "SIGNATURE_DOES_NOT_MATCH", "EXPIRED_TOKEN",
          "INVALID_CLIENT_TOKEN_ID", "UNRECOGNIZED_CLIENT")
CREDENTIALS_HOWTO = ("set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (and AWS_SESSION_TOKEN for temporary ones), or "
                     "AWS_PROFILE naming a profile in ~/.aws/credentials, or give the machine an instance profile "
                     "that may write to the bucket")


def s3_problem(reason: str) -> str:
    """What a failed S3 probe means, from pyarrow's message ``reason``, and how to fix it (one line)."""
    found = re.search(r"AWS Error (\w+)", reason)
    code, endpoint = found[1] if found else "", s3_endpoint()
    bucket = re.search(r"[Bb]ucket '([^']+)'", reason)
    if code == "NO_SUCH_BUCKET" or (bucket and "not found" in reason):
        name = f"'{bucket[1]}' " if bucket else ""
        return (f"the bucket {name}does not exist at {endpoint}: create it, or correct the bucket in --storage-path "
                "(or $STUDY_STORAGE_PATH)")
    if code == "NETWORK_CONNECTION" or "curlCode" in reason:
        detail = reason.rsplit("Details: ", 1)[-1] if "Details: " in reason else reason
        return (f"cannot reach the S3 endpoint {endpoint} ({detail}): for an S3-compatible store (MinIO, Ceph, "
                "GCS's S3 API) set AWS_ENDPOINT_URL to its URL, else check the network")
    source = aws_credentials()
    if source is None:
        return (f"refused by {endpoint} ({code or reason}), and no AWS credentials were found here (environment, "
                f"~/.aws): {CREDENTIALS_HOWTO}")
    if code in DENIED:
        return (f"the credentials from {source} were refused by {endpoint} ({code}): correct them, or allow them "
                "to write to the bucket (s3:PutObject, s3:DeleteObject)")
    return f"cannot write there ({reason})"


def s3_endpoint() -> str:
    """The S3 endpoint the AWS SDK talks to: the custom one of an S3-compatible store, else AWS's."""
    custom = os.environ.get("AWS_ENDPOINT_URL_S3") or os.environ.get("AWS_ENDPOINT_URL")
    return custom or "AWS S3 (no AWS_ENDPOINT_URL set)"


def aws_credentials() -> str | None:
    """Where the AWS SDK will find credentials on this machine (a name for the message), or None when nowhere
    it can be seen from here (an EC2 instance profile cannot: it is asked for over the network)."""
    if os.environ.get("AWS_ACCESS_KEY_ID"):
        return "AWS_ACCESS_KEY_ID"
    for var in ("AWS_PROFILE", "AWS_WEB_IDENTITY_TOKEN_FILE", "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
                "AWS_CONTAINER_CREDENTIALS_FULL_URI"):
        if os.environ.get(var):
            return var
    for var, default in (("AWS_SHARED_CREDENTIALS_FILE", "~/.aws/credentials"), ("AWS_CONFIG_FILE", "~/.aws/config")):
        path = Path(os.environ.get(var) or default).expanduser()
        if path.is_file():
            return str(path)
    return None


def _missing(folder: Path) -> list[Path]:
    """``folder`` and its parents that do not exist yet, deepest first."""
    return [p for p in (folder, *folder.parents) if not p.exists()]
