"""Weights & Biases at the edge of a study: one Ray Tune callback, online or offline.

``--wandb`` attaches Ray's ``WandbLoggerCallback``: one W&B run per trial
(named after the trial, job type ``trial``), with its config and every
reported metric. Every W&B run of one study run shares one W&B group,
``NAME/RUN_ID`` (``group_name``), recorded in provenance.json: two runs of
one name are two groups, and the run's final plots and tables (job type
``report``) and its W&B Report select exactly that group. Without an API key
or without a network the runs are written offline into the run folder's
``wandb/`` and can be uploaded later with ``wandb sync``. The key is read by
wandb from its usual places (the ``WANDB_API_KEY`` variable or ``wandb
login``) and never passed through the study's files.
"""

from __future__ import annotations

import argparse
import netrc
import os
import socket
from collections.abc import Callable
from typing import Any

WANDB_HOST = ("api.wandb.ai", 443)
TRIAL_JOB = "trial"  # the job type of a trial's W&B run
REPORT_JOB = "report"  # the job type of the W&B run holding a study run's final plots, tables and claims


def group_name(run_dir: str) -> str:
    """The W&B group of the study run in ``run_dir`` (``STORAGE/NAME/RUN_ID``, local or a URI): ``NAME/RUN_ID``."""
    *_, name, run_id = run_dir.rstrip("/").split("/")
    return f"{name}/{run_id}"


def add_flags(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("tracking")
    g.add_argument("--wandb", action="store_true",
                   help="log trials to Weights & Biases (offline, for a later `wandb sync`, without key or network)")
    g.add_argument("--wandb-project", default=None,
                   help="W&B project (default: WANDB_PROJECT, else rnn-studies)")


def callbacks(args: argparse.Namespace, run_dir: str,
              callback_type: Callable[[], type] | None = None) -> tuple[list[Any], dict[str, Any] | None]:
    """The W&B callback for ``--wandb`` (none without it) and what to record in provenance.

    ``callback_type()`` gives the callback's class: Ray's ``WandbLoggerCallback`` or one derived from it
    (the study's, which waits for each trial's run to be written to the end)."""
    if not getattr(args, "wandb", False):
        return [], None
    try:
        import wandb  # noqa: F401
        from ray.air.integrations.wandb import WandbLoggerCallback
    except ImportError:
        raise SystemExit("error: --wandb needs the wandb package: pip install -e '.[wandb]'") from None
    project = args.wandb_project or os.environ.get("WANDB_PROJECT") or "rnn-studies"
    entity = os.environ.get("WANDB_ENTITY") or None  # else the key's default entity, known only online
    group = group_name(run_dir)
    mode, reason = choose_mode()
    if mode == "offline":
        os.environ["WANDB_MODE"] = "offline"  # Ray's set-up then skips its API key check
        where = os.environ.get("WANDB_DIR") or run_dir
        print(f"W&B: offline mode ({reason}). Upload the runs later with:\n  wandb sync {where}/wandb/offline-run-*")
    else:
        print(f"W&B: logging to project {project!r}, group {group!r} ({reason})")
    # On local storage the runs go straight into the run folder: Ray's default,
    # the trial's staging folder, is synced to storage before the last trial's
    # logger finishes, which would leave that trial's offline run behind.
    where = {} if "://" in run_dir or os.environ.get("WANDB_DIR") else {"dir": run_dir}
    kind = callback_type() if callback_type else WandbLoggerCallback
    callback = kind(project=project, group=group, job_type=TRIAL_JOB, mode=mode, log_config=False,
                    **({"entity": entity} if entity else {}), **where)
    return [callback], {"project": project, "entity": entity, "group": group, "mode": mode}


def has_api_key() -> bool:
    """A key in WANDB_API_KEY or stored by `wandb login` (in ~/.netrc); never read beyond yes/no."""
    if os.environ.get("WANDB_API_KEY"):
        return True
    try:
        auth = netrc.netrc(os.environ.get("NETRC") or None).authenticators(WANDB_HOST[0])
    except (OSError, netrc.NetrcParseError):
        return False
    return bool(auth and auth[2])


def reachable(host: tuple[str, int] = WANDB_HOST, timeout: float = 3.0) -> bool:
    try:
        with socket.create_connection(host, timeout=timeout):
            return True
    except OSError:
        return False


def choose_mode() -> tuple[str, str]:
    """(mode, reason): the user's WANDB_MODE if set, else online only with a key and a network."""
    if os.environ.get("WANDB_MODE"):
        return os.environ["WANDB_MODE"], f"WANDB_MODE={os.environ['WANDB_MODE']}"
    if not has_api_key():
        return "offline", "no W&B API key (set WANDB_API_KEY or run `wandb login`)"
    if not reachable():
        return "offline", f"cannot reach {WANDB_HOST[0]}"
    return "online", "API key found and W&B reachable"
