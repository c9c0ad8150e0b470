"""What the launcher tests share: the two sandboxes (``hosts``), cluster/local.yaml aimed at them, a q1 study
with half a GPU a trial whose worker is lost mid-study, and the checks of what the launcher leaves.

A pytest plugin (tests/conftest.py): the ``hosts`` fixture is found from every test module.
"""

from __future__ import annotations

import re
import shlex
import shutil
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import yaml

from analysis.runs import gpu_sharing
from tests.sshhost import SSHHost, kill_group, link, why_unavailable
from tests.studyrun import result_rows, trial_states
from trainables.common import metrics as M

ROOT = Path(__file__).resolve().parents[1]
RAY = str(Path(sys.executable).with_name("ray"))
STORAGE_RE = re.compile(r"(export STUDY_STORAGE_PATH=)([^'\"\s]+)")
HEAD_ADDRESS, WORKER_ADDRESS = "10.77.0.1", "10.77.0.2"  # the test's own network between the two sandboxes
NODE_PYTHON = "~/rnn-studies-venv/bin/python"  # the venv cluster/local.yaml makes on every host
WORKER_GPUS = 2
GPU_STUDY = "q1-gpu"
# Long enough that the test sees a trial on the worker with checkpoints in storage before its half-way epoch.
EPOCHS, CHECKPOINT_EVERY = 30, 2
# Six trials of half a GPU and half a CPU: four at once on the worker (2 CPUs, 2 GPUs), two per GPU.
GPU_ARGS = ["--gpus-per-trial", "0.5", "--max-failures", "2", "--design", "reference", "--seeds", "2",
            "--hidden-size", "8", "--epochs", str(EPOCHS), "--patience", "0",
            "--checkpoint-every", str(CHECKPOINT_EVERY),
            "--name", GPU_STUDY]
GPU_TRIALS = 6
GPU_NOTE = "note: Ray gave trials GPUs"
# What may still run in the sandbox after `ray down`: its init, sshd and SSH connections winding down.
PLUMBING = re.compile(r"^(\S*/)?(sshd|ssh)(:|\s|$)")
LOG_MONITOR = re.compile(r"/ray/_private/log_monitor\.py ")


def storage_path(config: dict) -> str:
    paths = [m.group(2) for c in config["setup_commands"] for m in STORAGE_RE.finditer(c)]
    assert len(paths) == 1, f"expected one STUDY_STORAGE_PATH export in setup_commands, got {paths}"
    return paths[0]


def derived_config(host: SSHHost, storage: str | Path, env: dict[str, str] | None = None) -> Path:
    """cluster/local.yaml aimed at the sandboxes, the worker with two logical GPUs; the commands stay the YAML's.
    ``env``: more variables for the nodes' environment file, exported where the YAML exports the storage path
    (as docs/cluster.md tells users of an S3-compatible store to do)."""
    config = yaml.safe_load((ROOT / "cluster" / "local.yaml").read_text())
    storage_path(config)
    config["provider"].update(head_ip=HEAD_ADDRESS, worker_ips=[WORKER_ADDRESS])
    config.update(min_workers=1, max_workers=1)
    config["auth"] = {"ssh_user": "root", "ssh_private_key": str(host.key)}
    setup = []
    for command in config["setup_commands"]:
        setup.append(STORAGE_RE.sub(rf"\g<1>{storage}", command))
        if STORAGE_RE.search(command) and env:
            exports = " ".join(f"{k}={shlex.quote(v)}" for k, v in env.items())
            setup.append(f"echo {shlex.quote('export ' + exports)} >> ~/.rnn-studies.env")
    config["setup_commands"] = setup
    start = config["worker_start_ray_commands"]
    assert start[-1].startswith("ray start --address="), start
    start[-1] += f" --num-gpus={WORKER_GPUS}"
    path = host.work / "local.yaml"
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    return path


def keep_logs(host: SSHHost, dest: Path) -> None:
    """The launcher's, sshd's and the host's Ray logs, kept with pytest's tmp dirs."""
    dest.mkdir(exist_ok=True)
    for path in host.work.glob("*.log"):
        shutil.copy(path, dest / path.name)
    if (host.work / "local.yaml").exists():
        shutil.copy(host.work / "local.yaml", dest / "local.yaml")
    for session in (host.work / "tmp" / "ray").glob("session_2*"):
        shutil.copytree(session / "logs", dest / f"ray-logs-{session.name}", dirs_exist_ok=True,
                        ignore=lambda d, names: [n for n in names if (Path(d) / n).is_dir()
                                                 or (Path(d) / n).stat().st_size > 5_000_000])


@pytest.fixture
def hosts(tmp_path):
    """(head, worker), started and linked; removed with everything in them at the end."""
    reason = why_unavailable()
    if reason:
        pytest.skip(f"no SSH hosts can be started for the launcher: {reason}")
    head = SSHHost("rnn-head", HEAD_ADDRESS)
    worker = SSHHost("rnn-worker", WORKER_ADDRESS, key=head.key)  # the YAML's one key logs in everywhere
    try:
        head.start()
        worker.start()
        link(head, worker)
        yield head, worker
    finally:
        started = time.monotonic()
        left = {h.hostname: h.stop() for h in (worker, head)}
        for h in (head, worker):
            keep_logs(h, tmp_path / h.hostname)
            h.remove()
        print(f"sandboxes removed in {time.monotonic() - started:.0f}s")
        assert not any(left.values()), f"processes outlived the sandboxes: {left}"
        assert not head.work.exists() and not worker.work.exists(), "the key and the hosts' files were not removed"


def wait_for_worker(head: SSHHost, timeout: float = 1200) -> None:
    """Until the worker, which the head's autoscaler sets up after `ray up`, has joined with its GPUs."""
    deadline = time.monotonic() + timeout
    out = ""
    while time.monotonic() < deadline:
        rc, out = head.ssh(f"~/rnn-studies-venv/bin/ray status --address {HEAD_ADDRESS}:6379", timeout=60)
        if rc == 0 and f"/{WORKER_GPUS}.0 GPU" in out:
            return
        time.sleep(5)
    monitor = sorted((head.work / "tmp" / "ray").glob("session_2*/logs/monitor.*"))
    raise TimeoutError(f"the worker never joined: {out[-2000:]}\n" + "\n".join(m.read_text()[-3000:] for m in monitor))


def poll(find: Callable[[], Any], proc, what: str, timeout: float = 600, every: float = 0.5) -> Any:
    """What ``find`` returns once it returns something, while ``proc`` runs."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and proc.poll() is None:
        found = find()
        if found:
            return found
        time.sleep(every)
    raise TimeoutError(f"{what} (exit code {proc.poll()})")


def early_on_worker(rows: list[dict]) -> str | None:
    """The trial id of a history whose last report came from the worker in the first half of training."""
    if rows and rows[-1]["node_ip"] == WORKER_ADDRESS and rows[-1]["epoch"] <= EPOCHS // 2:
        return rows[-1]["trial_id"]
    return None


def gpu_study_with_worker_lost(head: SSHHost, config: Path, log: Path, victim: Callable[[], str | None]) -> str:
    """`ray submit` of a study with half a GPU a trial; the worker's Ray stopped once ``victim`` names a trial
    with a checkpoint in storage, then brought back by the head's autoscaler. The victim's id."""
    wait_for_worker(head)
    out_log = head.work / "gpu-study.log"
    study = head.popen([RAY, "submit", str(config), "studies/q1.py", "--", *GPU_ARGS], ROOT, out_log)
    try:
        trial_id = poll(victim, study, "no trial checkpointed on the worker")
        # The worker's Ray goes away with its trials; the head's autoscaler restarts it (no heartbeat for 30 s).
        rc, out = head.ssh("~/rnn-studies-venv/bin/ray stop --force", to=WORKER_ADDRESS, timeout=120)
        assert rc == 0, out
        rc = study.wait(timeout=1500)
    finally:
        kill_group(study)
    out = out_log.read_text(errors="replace")
    log.open("a").write(out)
    assert rc == 0, f"the GPU study failed (rc {rc}):\n{out[-6000:]}"
    assert out.count(GPU_NOTE) == 1, out[-6000:]
    return trial_id


def check_gpu_run(run: Path, victim: str) -> None:
    """Every trial once, finished, on the worker, two at most a GPU; the lost ones resumed from checkpoints."""
    trials = pd.read_csv(run / "trials.csv", dtype={"gpu_ids": str, "trial_id": str})
    assert len(trials) == GPU_TRIALS and trials["trial_id"].is_unique, trials
    assert set(trials["status"]) == {"finished"} and set(trials["node"]) == {WORKER_ADDRESS}, trials
    assert set(trials["gpu_ids"]) <= {"0", "1"} and set(trials["device"]) == {"cpu"}, trials

    states, _ = trial_states(run)
    assert len(states) == GPU_TRIALS and {s["status"] for s in states.values()} == {"TERMINATED"}, states
    assert states[victim]["num_failures"] >= 1, states[victim]
    rows = [row for state in states.values() for row in result_rows(state["dir"])]
    for trial_id, state in states.items():
        mine = [r for r in rows if r["trial_id"] == trial_id]
        assert mine[-1]["epoch"] == EPOCHS and mine[-1][M.COMPLETED] == 1, mine[-1]
        if state["num_failures"]:
            # Its last attempt began after a checkpoint (every 2 epochs), or at the start.
            first = next(r for r in mine if r["pid"] == mine[-1]["pid"])["epoch"]
            assert (first - 1) % CHECKPOINT_EVERY == 0 and (first > 1 or trial_id != victim), [r["epoch"] for r in mine]

    runs = gpu_sharing.attempts(rows)
    print("GPU placement:\n" + gpu_sharing.table(runs))
    assert {(a.node, a.hostname) for a in runs} == {(WORKER_ADDRESS, "rnn-worker")}, "GPU trials ran off the worker"
    assert all(len(a.gpu_ids) == 1 for a in runs), runs
    shared = gpu_sharing.sharing(runs)
    assert max(shared.values()) == 2, f"most trials on one GPU at once, per GPU id: {shared}"


def assert_no_ray_left(host: SSHHost, timeout: float = 30, but: re.Pattern | None = None) -> None:
    """Nothing but the sandbox's init, sshd and SSH sessions (and what ``but`` matches) runs on ``host``
    within ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        left = [(pid, cmd) for pid, cmd in host.processes() if pid != host.init_pid and not PLUMBING.match(cmd)
                and not (but and but.search(cmd))]
        if not left or time.monotonic() > deadline:
            break
        time.sleep(1)
    assert not left, f"still running on {host.hostname} after `ray down`: {left}"

