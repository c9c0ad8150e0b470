"""A cluster that grows from zero GPU workers and shrinks back, on this machine: Ray's fake multi-node provider.

The head (no CPUs, no GPUs, as in cluster/gpu.yaml) runs Ray's v1 autoscaler, the one cluster/gpu.yaml pins,
over a GPU worker type with ``min_workers: 0``, ``max_workers: 3`` and logical GPUs; the provider starts each
worker as a Ray node of its own here (``RAY_FAKE_CLUSTER=1``). A q1 study with half a GPU a trial must make the
autoscaler ask for every worker it needs at once (sized from the cluster's config, ``STUDY_CLUSTER_CONFIG``), run
its trials on those workers only, and the workers must go away after the idle timeout. Slow: 2-4 minutes.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import psutil
import pytest

from studies.placement import CLUSTER_CONFIG_ENV
from tests.localcluster import TOKEN, Node, Ports
from tests.studyrun import ROOT, kill_group, study_env

pytestmark = [pytest.mark.slow, pytest.mark.timeout(900)]

WORKERS, GPUS, CPUS = 3, 1, 2  # each worker fits two trials of half a GPU and a CPU
IDLE_MINUTES = 0.25
# Six trials of half a GPU: three workers' worth, asked for together.
STUDY_ARGS = ["--gpus-per-trial", "0.5", "--cpus-per-trial", "1", "--design", "reference", "--seeds", "2",
              "--hidden-size", "8", "--epochs", "4", "--patience", "0", "--name", "grown"]
TRIALS = 6
QUEUED = re.compile(r"StandardAutoscaler: Queue (\d+) new nodes for launch")
IDLE = re.compile(r"StandardAutoscaler: Terminating the node with id \S+ and ip \S+\. \(idle\)")


def fake_config(gcs: str) -> dict:
    """The launcher's config of a fake multi-node cluster: cluster/gpu.yaml's shape, scaled down."""
    return {
        "cluster_name": "grown", "max_workers": WORKERS, "upscaling_speed": 1.0,
        "idle_timeout_minutes": IDLE_MINUTES,
        "provider": {"type": "fake_multinode", "use_node_id_as_ip": True, "disable_node_updaters": True,
                     "disable_launch_config_check": True, "launch_multiple": True, "gcs_address": gcs},
        "head_node_type": "ray.head.default",
        "available_node_types": {
            "ray.head.default": {"resources": {"CPU": 0}, "node_config": {}, "max_workers": 0},
            "gpu_worker": {"resources": {"CPU": CPUS, "GPU": GPUS}, "node_config": {}, "min_workers": 0,
                           "max_workers": WORKERS}},
        "auth": {}, "docker": {}, "file_mounts": {}, "cluster_synced_files": [],
        "file_mounts_sync_continuously": False, "rsync_exclude": [], "rsync_filter": [],
        "initialization_commands": [], "setup_commands": [], "head_setup_commands": [],
        "worker_setup_commands": [], "head_start_ray_commands": [], "worker_start_ray_commands": []}


def ours(temp_dir: Path) -> list[psutil.Process]:
    """Every process of this cluster: its command line names the cluster's temp dir."""
    found = []
    for proc in psutil.process_iter(["cmdline"]):
        try:
            if any(str(temp_dir) in part for part in proc.info["cmdline"] or []):
                found.append(proc)
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            continue
    return found


@pytest.fixture
def cluster(tmp_path):
    """(GCS address, config path, temp dir, auth env) of a running fake cluster with only its head."""
    import tempfile

    temp_dir = Path(tempfile.mkdtemp(prefix="ra-", dir="/tmp"))  # Unix socket paths stay short
    ports = Ports()
    port = ports.one()
    gcs = f"127.0.0.1:{port}"
    config = tmp_path / "bootstrap.json"
    config.write_text(json.dumps(fake_config(gcs)))
    auth = {"RAY_AUTH_MODE": "token", "RAY_AUTH_TOKEN": TOKEN}
    env = {**auth, "RAY_FAKE_CLUSTER": "1", "RAY_enable_autoscaler_v2": "0", "AUTOSCALER_UPDATE_INTERVAL_S": "1"}
    head = Node(["--head", "--port", str(port), "--temp-dir", str(temp_dir), "--num-cpus", "0", "--num-gpus", "0",
                 "--include-dashboard", "false", f"--autoscaling-config={config}",
                 "--ray-client-server-port", str(ports.one()), *ports.node(0)], tmp_path / "nodes.log", env)
    try:
        yield gcs, config, temp_dir, auth
    finally:
        head.stop()
        for proc in ours(temp_dir):  # fake workers the monitor started and left behind
            proc.kill()
        import shutil

        shutil.rmtree(temp_dir, ignore_errors=True)


def monitor_log(temp_dir: Path) -> str:
    return "".join(p.read_text(errors="replace") for p in sorted(temp_dir.glob("session_2*/logs/monitor.log")))


def test_a_study_grows_the_gpu_workers_together_and_they_leave_when_idle(cluster, tmp_path):
    gcs, config, temp_dir, auth = cluster
    storage = tmp_path / "storage"
    log = tmp_path / "study.log"
    env = {**study_env(), **auth, CLUSTER_CONFIG_ENV: str(config)}
    study = subprocess.Popen([sys.executable, str(ROOT / "studies" / "q1.py"), *STUDY_ARGS, "--address", gcs,
                              "--storage-path", str(storage)], cwd=ROOT, env=env, stdout=log.open("ab"),
                             stderr=subprocess.STDOUT, start_new_session=True)
    try:
        rc = study.wait(timeout=600)
    finally:
        kill_group(study)
    out = log.read_text(errors="replace")
    assert rc == 0, out[-6000:] + monitor_log(temp_dir)[-4000:]

    queued = [int(n) for n in QUEUED.findall(monitor_log(temp_dir))]
    # Every worker the six trials need, in one request, not one node after another.
    assert queued and queued[0] == WORKERS, (queued, monitor_log(temp_dir)[-4000:])
    assert "waiting for the cluster: each trial needs 1 CPU and 0.5 GPU" in out, out[-3000:]

    trials = pd.read_csv(storage / "grown" / "latest" / "trials.csv", dtype={"gpu_ids": str})
    assert len(trials) == TRIALS and set(trials["status"]) == {"finished"}, trials
    # Only the workers have GPUs (the head has no CPU either): every trial was given one of theirs.
    assert trials["gpu_ids"].notna().all() and set(trials["gpu_ids"]) == {"0"}, trials

    deadline = time.monotonic() + 60 * IDLE_MINUTES + 120
    while len(IDLE.findall(monitor_log(temp_dir))) < WORKERS and time.monotonic() < deadline:
        time.sleep(2)
    assert len(IDLE.findall(monitor_log(temp_dir))) == WORKERS, monitor_log(temp_dir)[-4000:]
