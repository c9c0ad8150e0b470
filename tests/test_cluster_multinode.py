"""A real two-node Ray cluster on one machine: jobs, placement across nodes, a lost node.

Slow (about a minute each on 2 cores); needs the `cluster` extra (Jobs API).
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import pytest

from tests.localcluster import LocalCluster, two_nodes
from tests.studyrun import ROOT, checkpoint_epochs, result_rows, trial_states

pytest.importorskip("aiohttp", reason="the Jobs API needs the cluster extra: pip install -e '.[cluster]'")
pytestmark = pytest.mark.slow
# Workers are reused (the default) in both tests. Nine trials of a few seconds for four slots (two a node):
# each worker the head frees comes while the worker node's first workers are still starting, and must not
# take their trials from them (studies.adapter.keep_placed_workers).
SHORT_TRIALS = ["--cell", "gru", "--optimizer", "adam", "--loss", "mse", "--seeds", "3", "--hidden-size", "32",
                "--num-layers", "1", "--window", "10", "--set", "epochs=6", "--set", "patience=0"]


@pytest.fixture
def cluster(tmp_path, monkeypatch):
    with two_nodes(tmp_path, monkeypatch) as c:
        yield c


def submit(cluster: LocalCluster, args: list[str]):
    from ray.job_submission import JobSubmissionClient

    client = JobSubmissionClient(cluster.dashboard, headers=cluster.headers)
    # As `ray job submit --working-dir . -- python studies/q1.py ...` would.
    job = client.submit_job(entrypoint=" ".join([sys.executable, "studies/q1.py", *args]),
                            runtime_env={"working_dir": str(ROOT), "env_vars": {"RAY_DEDUP_LOGS": "0"}})
    return client, job


def wait_job(client, job: str, timeout: float = 400) -> str:
    from ray.job_submission import JobStatus

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        status = client.get_job_status(job)
        if status in (JobStatus.SUCCEEDED, JobStatus.FAILED, JobStatus.STOPPED):
            return status
        time.sleep(1)
    client.stop_job(job)
    raise TimeoutError(client.get_job_logs(job)[-3000:])


def trial_nodes(cluster: LocalCluster, run_dir: Path) -> dict[str, set[str]]:
    """Nodes each trial reported from (a trial retried elsewhere has two)."""
    pids = cluster.pid_nodes()
    out: dict[str, set[str]] = {}
    for result in run_dir.glob("*/result.json"):
        for row in result_rows(result.parent):
            out.setdefault(row["trial_id"], set()).add(pids.get(row["pid"], f"unknown pid {row['pid']}"))
    return out


def test_job_runs_trials_on_both_nodes_and_stores_everything(cluster, tmp_path):
    storage = tmp_path / "storage"
    client, job = submit(cluster, [*SHORT_TRIALS, "--storage-path", str(storage), "--name", "multi"])
    status = wait_job(client, job)
    logs = client.get_job_logs(job)
    assert status == "SUCCEEDED", logs[-3000:]

    run_dir = storage / "multi" / "latest"
    nodes = trial_nodes(cluster, run_dir)
    assert len(nodes) == 9
    used = set().union(*nodes.values())
    assert cluster.worker_node_id() in used and len(used) == 2, nodes
    for trial_dir in (p.parent for p in run_dir.glob("*/result.json")):
        assert checkpoint_epochs(trial_dir)[-1] == 6  # each trial's final checkpoint, in the storage path
        assert result_rows(trial_dir)[-1]["epoch"] == 6
    assert (run_dir / "report.md").exists() and list(run_dir.glob("experiment_state-*.json"))


def wait_for_checkpoint_on(cluster: LocalCluster, run_dir: Path, node_id: str, timeout: float = 240) -> str:
    """A trial running on ``node_id`` that reported an epoch after one of its checkpoints.

    Tune takes a reported checkpoint in two steps: the result, then a save call to the trial's worker. A node
    lost between them loses that checkpoint to Tune (the retry starts from the one before), so the node is
    stopped only once the worker has gone on past a checkpoint: its save call ran before the next epoch's."""
    deadline, pids = time.monotonic() + timeout, {}
    while time.monotonic() < deadline:
        for trial_dir in run_dir.glob("*/result.json"):
            rows = result_rows(trial_dir.parent)
            if rows and rows[-1]["pid"] not in pids:  # the state API is slow on a busy machine: ask for new pids only
                pids = cluster.pid_nodes()
            if rows and pids.get(rows[-1]["pid"]) == node_id:
                saved = checkpoint_epochs(trial_dir.parent)
                if saved and rows[-1]["epoch"] > min(saved):
                    return rows[-1]["trial_id"]
        time.sleep(0.2)
    raise TimeoutError("no trial checkpointed on the worker node")


# Half the moments of a trial qualify (an odd epoch past the even one saved last), and an epoch takes about
# 0.15 s alone: 150 epochs give the loop above tens of looks at each trial on a busy machine.
LOST_EPOCHS = 150


def test_losing_a_node_mid_study_reschedules_its_trials(cluster, tmp_path):
    storage = tmp_path / "storage"
    # patience=0: every trial runs all its epochs, so the last row says where the moved trial ended; enough
    # epochs (about 20 s a trial) that the worker node is stopped while its trial runs.
    client, job = submit(cluster, ["--smoke-test", "--set", f"epochs={LOST_EPOCHS}", "--set", "checkpoint_every=2",
                                   "--set", "patience=0", "--max-failures", "3", "--storage-path", str(storage),
                                   "--name", "lost"])
    run_dir = storage / "lost" / "latest"
    worker = cluster.worker_node_id()
    victim = wait_for_checkpoint_on(cluster, run_dir, worker)
    cluster.worker.stop()  # the node goes away with its running trial

    status = wait_job(client, job)
    assert status == "SUCCEEDED", client.get_job_logs(job)[-3000:]
    states, _ = trial_states(run_dir)
    assert len(states) == 3 and all(s["status"] == "TERMINATED" for s in states.values())
    assert states[victim]["num_failures"] >= 1
    rows = result_rows(states[victim]["dir"])
    assert rows[-1]["epoch"] == LOST_EPOCHS
    # Finished on the head, resumed from a checkpoint (every 2 epochs), not from epoch 1.
    last = [r for r in rows if r["pid"] == rows[-1]["pid"]]
    assert last[0]["epoch"] > 1 and (last[0]["epoch"] - 1) % 2 == 0, [r["epoch"] for r in rows]
    assert cluster.pid_nodes()[rows[-1]["pid"]] != worker
