"""Helpers for tests that run a study as its own process and read its run folder."""

from __future__ import annotations

import glob
import json
import os
import signal
import subprocess
import sys
from pathlib import Path

from studies import adapter

ROOT = Path(__file__).resolve().parents[1]


def study_env() -> dict[str, str]:
    # The project first; what the caller added after it (e.g. a driver's extra packages) stays.
    extra = [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p and Path(p).resolve() != ROOT]
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(ROOT), *extra]), RAY_DEDUP_LOGS="0")
    # A local run, whatever the caller's shell says.
    for var in ("RAY_ADDRESS", "STUDY_STORAGE_PATH", "STUDY_OPTUNA_STORAGE"):
        env.pop(var, None)
    return env


def start_study(script: str, args: list[str], log: Path, cwd: Path = ROOT) -> subprocess.Popen:
    """The study in its own session, so its Ray processes can be stopped with it."""
    return subprocess.Popen([sys.executable, str(ROOT / script), *args], cwd=cwd, env=study_env(),
                            stdout=log.open("ab"), stderr=subprocess.STDOUT, start_new_session=True)


def run_study(script: str, args: list[str], log: Path, timeout: float = 400) -> int:
    proc = start_study(script, args, log)
    try:
        return proc.wait(timeout=timeout)
    finally:
        kill_group(proc)


def kill_group(proc: subprocess.Popen) -> None:
    """SIGKILL what is left of the study's process group (only processes it started)."""
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    proc.wait()


def result_rows(trial_dir: Path) -> list[dict]:
    path = trial_dir / "result.json"
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def trial_states(run_dir: Path) -> tuple[dict[str, dict], float]:
    """Per trial id, Tune's saved state (status, num_failures, dir, the epoch of the last report
    it had processed) and the snapshot's mtime."""
    # Newest by name (the session's start time), as Tune picks it: every sync re-uploads
    # the older sessions' files too, so their mtimes say nothing.
    files = sorted(glob.glob(str(run_dir / adapter.state_file_pattern())))
    if not files:
        return {}, 0.0
    try:
        data = json.loads(Path(files[-1]).read_text())
    except (json.JSONDecodeError, OSError):  # caught mid-rewrite: read it next time
        return {}, 0.0
    states = {}
    for trial_json, meta_json in data["trial_data"]:
        trial, meta = json.loads(trial_json), json.loads(meta_json)
        states[trial["trial_id"]] = {"status": trial["status"], "num_failures": meta["num_failures"],
                                     "dir": run_dir / trial["relative_logdir"],
                                     "last_epoch": (meta.get("last_result") or {}).get("epoch", 0)}
    return states, os.path.getmtime(files[-1])


def checkpoint_epochs(trial_dir: Path) -> list[int]:
    """Epochs of the checkpoints on disk."""
    return [epoch for epoch, _ in checkpoint_epochs_with_mtime(trial_dir)]


def checkpoint_epochs_with_mtime(trial_dir: Path) -> list[tuple[int, float]]:
    """(epoch, mtime) of the complete checkpoints on disk (the folder name counts checkpoints, not epochs)."""
    import torch

    found = []
    for d in sorted(trial_dir.glob("checkpoint_*")):
        try:
            mtime = os.path.getmtime(d / "state.pt")
            state = torch.load(d / "state.pt", weights_only=True)
        except (OSError, RuntimeError, EOFError):  # deleted (num_to_keep) or replaced while read
            continue
        found.append((int(state["progress"]["epoch"]), mtime))
    return found


def optuna_trials(run_dir: Path, study_name: str | None = None) -> list:
    """The trials of the run's Optuna study (optuna.db in the run folder, named NAME/RUN_ID)."""
    import optuna

    run_dir = run_dir.resolve()
    storage = f"sqlite:///{run_dir / 'optuna.db'}"
    name = study_name or f"{run_dir.parent.name}/{run_dir.name}"
    return optuna.load_study(study_name=name, storage=storage).get_trials(deepcopy=False)
