"""The launcher's two-host cluster with its results on an S3 bucket and no folder shared between the hosts.

The same head and worker as tests/test_cluster_launcher.py (two SSH sandboxes, each with its own /tmp, home
and network, joined by a veth pair), cluster/local.yaml aimed at them with `STUDY_STORAGE_PATH=s3://...`
and the endpoint and keys of an S3-compatible store in the nodes' environment file, as docs/cluster.md tells
users to set them. The store is moto's S3 server, run on the head's address of the test's network
(10.77.0.1:9000), so the worker's trials write their checkpoints and results over the network. On that
cluster: a q1 study with half a GPU a trial loses the worker's Ray mid-study and resumes the lost trials from
their checkpoints in the bucket; a second study's driver is SIGKILLed and `--resume` finishes it from the
bucket, every trial once; the worker, which ran neither driver, reads both runs with `python -m analysis`.
Slow: a fresh venv and install on each host, then three studies (8-15 minutes on 2 cores).
"""

from __future__ import annotations

import re
import shutil
import sys
import time
from pathlib import Path

import pytest
from launcher import (
    CHECKPOINT_EVERY,
    EPOCHS,
    GPU_STUDY,
    HEAD_ADDRESS,
    LOG_MONITOR,
    RAY,
    ROOT,
    WORKER_ADDRESS,
    assert_no_ray_left,
    check_gpu_run,
    derived_config,
    gpu_study_with_worker_lost,
    poll,
)

from analysis.runs.read import read_run
from tests.sshhost import SSHHost, kill_group
from tests.studyrun import result_rows, trial_states

pytestmark = [pytest.mark.slow, pytest.mark.timeout(1800)]

S3_PORT = 9000
BUCKET = "rnn-studies"
STORAGE = f"s3://{BUCKET}/runs"
# What the nodes' environment file holds for the store: its endpoint and keys (moto takes any), a region, and
# no lookups of EC2's instance metadata.
NODE_ENV = {"AWS_ENDPOINT_URL": f"http://{HEAD_ADDRESS}:{S3_PORT}", "AWS_ACCESS_KEY_ID": "studies",
            "AWS_SECRET_ACCESS_KEY": "secret-key", "AWS_DEFAULT_REGION": "us-east-1",
            "AWS_EC2_METADATA_DISABLED": "true"}
RESUMED_STUDY = "q1-resumed"
RESUMED_EPOCHS = 40
# Three CPU trials (one seed of each network), anywhere on the cluster; killed once a checkpoint is in the bucket.
RESUMED_ARGS = ["--design", "reference", "--seeds", "1", "--hidden-size", "8", "--epochs", str(RESUMED_EPOCHS),
                "--patience", "0", "--checkpoint-every", str(CHECKPOINT_EVERY), "--name", RESUMED_STUDY]
SERVER = re.compile(r" -m moto\.server ")  # the S3 server, which outlives `ray down` on the head
# The bucket seen from the head's network, for the test's own checks: list its keys, print one, copy a prefix.
CLIENT = r"""
import pathlib, sys
import boto3
op, bucket, prefix = sys.argv[1:4]
s3 = boto3.client("s3")  # endpoint and keys from the environment
if op == "mb":
    s3.create_bucket(Bucket=bucket)
elif op == "cat":
    sys.stdout.write(s3.get_object(Bucket=bucket, Key=prefix)["Body"].read().decode())
else:
    pages = s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix)
    keys = [o["Key"] for page in pages for o in page.get("Contents", [])]
    for key in keys:
        if op == "ls":
            print(key)
        elif not key.endswith("/"):  # get PREFIX DEST, as `aws s3 sync` would (folder markers skipped)
            path = pathlib.Path(sys.argv[4]) / key[len(prefix):].lstrip("/")
            path.parent.mkdir(parents=True, exist_ok=True)
            s3.download_file(bucket, key, str(path))
"""


class Bucket:
    """moto's S3 server in the head's sandbox, on its address of the test's network; the bucket made."""

    def __init__(self, head: SSHHost) -> None:
        self.head = head
        self.log = head.work / "s3-server.log"
        self.server = head.popen([sys.executable, "-m", "moto.server", "-H", HEAD_ADDRESS, "-p", str(S3_PORT)],
                                 ROOT, self.log)
        deadline = time.monotonic() + 60
        while not head.port_open(S3_PORT, HEAD_ADDRESS):
            assert self.server.poll() is None and time.monotonic() < deadline, self.log.read_text()[-3000:]
            time.sleep(0.3)
        self.client("mb", "")

    def client(self, op: str, prefix: str, *rest: str) -> str:
        rc, out = self.head.run([sys.executable, "-c", CLIENT, op, BUCKET, prefix, *rest], ROOT,
                                self.head.work / "s3-client.log", timeout=120,
                                env=self.head.client_env(**NODE_ENV))
        assert rc == 0, out[-3000:]
        return out

    def keys(self, prefix: str) -> list[str]:
        return self.client("ls", prefix).split()

    def run_copy(self, name: str, dest: Path) -> Path:
        """The newest run of study ``name`` (its ``latest`` object holds the id), copied to ``dest``/RUN_ID."""
        run_id = self.client("cat", f"runs/{name}/latest").strip()
        shutil.rmtree(dest / run_id, ignore_errors=True)
        self.client("get", f"runs/{name}/{run_id}/", str(dest / run_id))
        return dest / run_id

    def stop(self) -> None:
        kill_group(self.server)


@pytest.fixture
def bucket(hosts):
    server = Bucket(hosts[0])
    yield server
    server.stop()


def running_with_checkpoints(bucket: Bucket, name: str) -> str | None:
    """A trial with two complete checkpoints in the bucket and not past half its epochs; its id.

    Two, so that Tune has taken at least one of them when the worker goes; every trial with a checkpoint and
    epochs left is running, and on the worker (the head has no GPU)."""
    counts: dict[str, int] = {}
    for key in bucket.keys(f"runs/{name}/"):
        if key.endswith("/state.pt"):  # runs/NAME/RUN_ID/train_stock_ID/checkpoint_N/state.pt
            trial = key.split("/")[3]
            counts[trial] = counts.get(trial, 0) + 1
    early = [t for t, n in counts.items() if 2 <= n and n * CHECKPOINT_EVERY <= EPOCHS // 2]
    return early[0].removeprefix("train_stock_") if early else None


def resumable(keys: list[str]) -> bool:
    """Whether a run's keys hold a complete checkpoint and Tune's experiment state."""
    return any(k.endswith("/state.pt") for k in keys) and any("/experiment_state-" in k for k in keys)


def study_killed_and_resumed(head: SSHHost, config: Path, bucket: Bucket) -> str:
    """`ray submit` of a study whose driver is SIGKILLed on the head once a checkpoint and Tune's state are in
    the bucket; then `ray submit ... --resume`. The resumed run's output."""
    log = head.work / "resumed-study.log"
    study = head.popen([RAY, "submit", str(config), "studies/q1.py", "--", *RESUMED_ARGS], ROOT, log)
    try:
        poll(lambda: resumable(bucket.keys(f"runs/{RESUMED_STUDY}/")), study,
             "no checkpoint and experiment state in the bucket")
        # The driver (the Python `ray submit` started on the head) and its shell; `[q]` keeps pkill's own off.
        rc, out = head.ssh(f"pkill -KILL -f '[q]1.py {' '.join(RESUMED_ARGS[:4])}'", timeout=60)
        assert rc == 0, out
        study.wait(timeout=120)
    finally:
        kill_group(study)
    rc, out = head.run([RAY, "submit", str(config), "studies/q1.py", "--", *RESUMED_ARGS, "--resume"], ROOT, log,
                       timeout=900)
    assert rc == 0, f"the resumed study failed (rc {rc}):\n{out[-6000:]}"
    return out


def check_resumed_run(run: Path, resumed_out: str) -> None:
    """Every trial once, each epoch once in its history, finished from the bucket."""
    states, _ = trial_states(run)
    assert len(states) == 3 and {s["status"] for s in states.values()} == {"TERMINATED"}, states
    assert f"Resuming {STORAGE}/{RESUMED_STUDY}/{run.name}" in resumed_out, resumed_out[-3000:]
    pids = {}
    for trial_id, state in states.items():
        rows = result_rows(state["dir"])
        assert rows[-1]["epoch"] == RESUMED_EPOCHS
        pids[trial_id] = len({r["pid"] for r in rows})
    assert max(pids.values()) > 1, f"no trial ran both before the kill and after it: processes per trial {pids}"
    records = read_run(run).every_record()
    assert sorted(records["trial_id"].unique()) == sorted(states)
    for trial_id, rows in records.groupby("trial_id"):
        assert sorted(rows["epoch"]) == list(range(1, RESUMED_EPOCHS + 1)), trial_id


def analysis_on_worker(head: SSHHost, command: str) -> str:
    """``python -m analysis COMMAND`` on the worker, in an empty folder, with the nodes' environment."""
    rc, out = head.ssh(f"source ~/.rnn-studies.env && cd \"$(mktemp -d)\" && python -m analysis {command}",
                       to=WORKER_ADDRESS, timeout=300)
    assert rc == 0, out[-3000:]
    return out


def test_s3_cluster_loses_a_worker_resumes_a_killed_driver_and_is_read_from_the_worker(hosts, bucket, tmp_path):
    head, worker = hosts
    log = head.work / "launcher.log"
    config = derived_config(head, STORAGE, NODE_ENV)
    rc, out = head.run([RAY, "up", "-y", str(config)], ROOT, log, timeout=900, env=head.client_env())
    assert rc == 0, f"`ray up` failed (rc {rc}):\n{out[-6000:]}\n{head.logs()}"
    try:
        victim = gpu_study_with_worker_lost(head, config, log, lambda: running_with_checkpoints(bucket, GPU_STUDY))
        check_gpu_run(bucket.run_copy(GPU_STUDY, head.work / "copy" / GPU_STUDY), victim)

        resumed_out = study_killed_and_resumed(head, config, bucket)
        run = bucket.run_copy(RESUMED_STUDY, head.work / "copy" / RESUMED_STUDY)
        check_resumed_run(run, resumed_out)

        out = analysis_on_worker(head, f"report {STORAGE}/{RESUMED_STUDY}")
        assert f"Report: {STORAGE}/{RESUMED_STUDY}/{run.name}/report.html" in out, out
        out = analysis_on_worker(head, f"claims {STORAGE}/{GPU_STUDY}/latest")
        assert out.startswith("q1: ") and "GRU > LSTM > RNN" in out, out
    finally:
        rc, out = head.run([RAY, "down", "-y", str(config)], ROOT, log, timeout=300, env=head.client_env())
    assert rc == 0, f"`ray down` failed (rc {rc}):\n{out[-3000:]}"
    assert_no_ray_left(head, but=SERVER)
    assert_no_ray_left(worker, timeout=180, but=LOG_MONITOR)
