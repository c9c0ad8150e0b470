"""provenance.json: what produced a run folder, so a result can be traced and rerun.

Written when the study starts (command line, code version, input data,
library versions, cluster and trial resources, start time) and completed when
it ends (end time, a fingerprint of the data the study actually loaded, and
what its trials cost the machine: ``usage``, see ``trainables.common.usage``).
No environment variables are recorded, so API keys never reach the file.
"""

from __future__ import annotations

import argparse
import dataclasses
import hashlib
import json
import platform
import subprocess
import sys
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path
from typing import Any

from trainables.common import storage
from trainables.common.layout import PROVENANCE_FILE

PACKAGES = ("ray", "torch", "transformers", "numpy", "pandas", "scikit-learn", "wandb")
PROJECT = Path(__file__).resolve().parents[2]
CHUNK = 1 << 20


def now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def versions() -> dict[str, str | None]:
    found: dict[str, str | None] = {"python": platform.python_version()}
    for name in PACKAGES:
        try:
            found[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            found[name] = None
    return found


def git_state(root: Path = PROJECT) -> dict[str, Any]:
    """Commit and whether tracked files differ from it; nulls outside a git checkout."""
    def git(*cmd: str) -> str | None:
        try:
            done = subprocess.run(["git", "-C", str(root), *cmd], capture_output=True, text=True, timeout=10,
                                  check=False)
        except (OSError, subprocess.TimeoutExpired):
            return None
        return done.stdout.strip() if done.returncode == 0 else None

    commit = git("rev-parse", "HEAD")
    status = git("status", "--porcelain", "--untracked-files=no") if commit else None
    return {"commit": commit, "dirty": None if status is None else bool(status)}


def fingerprint(source: Any) -> str | None:
    """sha256 of a file, a folder's files (names and contents), a pandas object, an array or bytes/str."""
    h = hashlib.sha256()
    short_text = isinstance(source, str) and len(source) < 4096 and "\n" not in source
    looks_like_path = isinstance(source, Path) or short_text
    if looks_like_path and "://" not in str(source) and Path(source).exists():
        path = Path(source)
        files = sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]
        for f in files:
            h.update(str(f.relative_to(path) if path.is_dir() else f.name).encode())
            with f.open("rb") as fh:
                while block := fh.read(CHUNK):
                    h.update(block)
        return h.hexdigest()
    try:
        import pandas as pd

        if isinstance(source, (pd.DataFrame, pd.Series)):
            h.update(pd.util.hash_pandas_object(source, index=True).to_numpy().tobytes())
            names = source.columns if isinstance(source, pd.DataFrame) else [source.name]
            h.update(",".join(map(str, names)).encode())
            return h.hexdigest()
    except ImportError:
        pass
    if hasattr(source, "tobytes"):
        h.update(source.tobytes())
    elif isinstance(source, bytes):
        h.update(source)
    elif isinstance(source, str):
        h.update(source.encode())
    else:
        return None
    return h.hexdigest()


def data_inputs(options: Any) -> dict[str, Any]:
    """Every data option (a field of the study's options dataclass) that names local files, with a fingerprint."""
    found = {}
    for field in dataclasses.fields(options) if dataclasses.is_dataclass(options) else ():
        value = getattr(options, field.name)
        if isinstance(value, (str, Path)) and "://" not in str(value) and Path(value).exists():
            found[field.name] = {"value": str(value), "sha256": fingerprint(value)}
    return found


def cluster_resources() -> dict[str, Any]:
    try:
        import ray

        if ray.is_initialized():
            nodes = [n for n in ray.nodes() if n.get("Alive")]
            return {"total": ray.cluster_resources(), "nodes": len(nodes)}
    except Exception as exc:  # noqa: BLE001 -- provenance must never stop a study
        return {"error": str(exc)}
    return {}


def start(run_dir: str, args: argparse.Namespace, options: Any = None, resumed: bool = False) -> dict[str, Any]:
    """Write provenance.json at the start of a run (a resumed run keeps its first start)."""
    previous = read(run_dir)
    info = {
        "command": [sys.executable, *sys.argv],
        "started": previous.get("started", now()) if resumed else now(),
        "resumed": [*previous.get("resumed", []), now()] if resumed else [],
        "ended": None,
        "git": git_state(),
        "data": data_inputs(options),
        "versions": versions(),
        "platform": platform.platform(),
        "cluster": cluster_resources(),
        "resources_per_trial": {"cpu": getattr(args, "cpus_per_trial", None),
                                "gpu": getattr(args, "gpus_per_trial", None)},
        "wandb": previous.get("wandb") if resumed else None,
    }
    write(run_dir, info)
    return info


def finish(run_dir: str, **extra: Any) -> dict[str, Any]:
    """Stamp the end time and merge ``extra`` (e.g. the loaded data's fingerprint)."""
    info = read(run_dir)
    info.update(extra)
    info["ended"] = now()
    write(run_dir, info)
    return info


def update(run_dir: str, **fields: Any) -> None:
    info = read(run_dir)
    info.update(fields)
    write(run_dir, info)


def read(run_dir: str | Path) -> dict[str, Any]:
    text = storage.read_text(storage.join(run_dir, PROVENANCE_FILE))
    return json.loads(text) if text else {}


def write(run_dir: str | Path, info: dict[str, Any]) -> None:
    storage.write_text(storage.join(run_dir, PROVENANCE_FILE), json.dumps(info, indent=2, default=str))
