"""Where trials run: the slots of an autoscaling cluster, the placeholders a launch refuses, the study's one note
for GPUs without CUDA, and the GPU-sharing count the launcher test uses."""

from __future__ import annotations

import io
import json
from types import SimpleNamespace

import pytest
import yaml

from analysis.runs.gpu_sharing import attempts, most_at_once, sharing, table
from studies.console import Console
from studies.placement import (
    CLUSTER_CONFIG_ENV,
    GpuFallbackNote,
    cluster_config,
    gpu_fallback,
    grown_slots,
    node_fits,
    placeholders,
    trial_slots,
)
from tests.studyrun import ROOT
from trainables.common import metrics as M
from trainables.common import usage


def report(trial: str, pid: int, gpus: str, timestamp: int, since: float, device: str = "cpu") -> dict:
    return {"trial_id": trial, "pid": pid, M.GPU_IDS: gpus, M.DEVICE: device, "timestamp": timestamp,
            "time_since_restore": since, "node_ip": "10.77.0.2", "hostname": "rnn-worker"}


def test_the_note_is_for_trials_given_gpus_that_trained_on_the_cpu():
    assert gpu_fallback(report("a", 1, "0,1", 10, 1.0)) == (
        "note: Ray gave trials GPUs (ids 0,1 on 10.77.0.2) but CUDA is not available there: they train on the CPU")
    assert gpu_fallback(report("a", 1, "0", 10, 1.0, device="cuda")) is None
    assert gpu_fallback(report("a", 1, "", 10, 1.0)) is None


def test_the_study_prints_the_note_once():
    out = io.StringIO()
    note = GpuFallbackNote(Console(out))
    for gpus in ("", "0", "1", "0"):
        note.on_trial_result(0, [], None, report("a", 1, gpus, 10, 1.0))
    assert out.getvalue().splitlines() == [gpu_fallback(report("a", 1, "0", 10, 1.0))]
    assert note.__getstate__()["console"] is None  # Tune pickles its callbacks; the terminal stays out


def test_most_at_once_counts_overlaps_not_touching_ends():
    assert most_at_once([(0, 10), (5, 15), (9, 20)]) == 3
    assert most_at_once([(0, 10), (10, 20), (20, 30)]) == 1
    assert most_at_once([(0, 10), (2, 3), (4, 5)]) == 2
    assert most_at_once([]) == 0


def test_attempts_split_by_worker_process_and_sharing_is_per_gpu():
    rows = [report("a", 1, "0", 104, 4.0), report("a", 1, "0", 110, 10.0),  # attempt of a: 101 to 110
            report("b", 2, "0", 106, 2.0), report("b", 2, "0", 112, 8.0),  # 105 to 112
            report("c", 3, "0", 120, 3.0),  # 118 to 120, after a and b
            report("a", 4, "1", 130, 5.0), report("a", 4, "1", 140, 15.0),  # a again, elsewhere: 126 to 140
            report("d", 5, "0", 108, 1.0), report("d", 5, "0", 109, 2.0)]  # 108 to 109: a third on GPU 0
    runs = attempts(rows)
    assert [(a.trial_id, a.gpu_ids, a.start, a.end) for a in runs] == [
        ("a", ("0",), 101, 110), ("b", ("0",), 105, 112), ("c", ("0",), 118, 120), ("a", ("1",), 126, 140),
        ("d", ("0",), 108, 109)]
    assert sharing(runs) == {"0": 3, "1": 1}
    assert table(runs).splitlines()[-1] == "| 10.77.0.2 | rnn-worker | 4 | 5 | 0: 4, 1: 1 | 3 |"


# cluster/gpu.yaml as the launcher leaves it on the head: the resources filled in from the instance types.
GROWN = {"max_workers": 4, "head_node_type": "head", "available_node_types": {
    "head": {"resources": {"CPU": 0}, "max_workers": 0},
    "gpu_spot": {"resources": {"CPU": 4, "GPU": 1, "memory": 11811160064}, "min_workers": 0, "max_workers": 4},
    "gpu_ondemand": {"resources": {"CPU": 4, "GPU": 1}, "min_workers": 0, "max_workers": 0}}}


def slot_args(cpus=1.0, gpus=0.5, most=0):
    return SimpleNamespace(cpus_per_trial=cpus, gpus_per_trial=gpus, max_concurrent=most)


def test_an_autoscaling_cluster_keeps_pending_the_trials_it_may_grow_to():
    # At the start only the head is up (0 CPUs, no GPU): sized from that, one trial would be pending.
    up_now = {"CPU": 0.0, "memory": 1e10}
    assert usage.slots(0.0, 1.0, 0, 0.0, 0.5) == 1
    # Four g5.xlarge may come, each fitting two trials of half a GPU and a CPU.
    assert trial_slots(slot_args(), up_now, GROWN) == 8
    assert trial_slots(slot_args(cpus=3.0), up_now, GROWN) == 4  # one a node: its 4 CPUs fit one
    assert trial_slots(slot_args(most=3), up_now, GROWN) == 3  # --max-concurrent caps it
    capped = {**GROWN, "max_workers": 2}
    assert grown_slots(capped, 1.0, 0.5) == 4  # the cluster's max_workers caps each type's
    # More up now than the config says (nodes joined by hand): what is up counts.
    assert trial_slots(slot_args(), {"CPU": 32.0, "GPU": 8.0}, GROWN) == 16


def test_without_known_node_resources_the_slots_are_what_is_up():
    local = {"head_node_type": "local.cluster.node", "max_workers": 2,
             "available_node_types": {"local.cluster.node": {"resources": {}, "max_workers": 2}}}
    assert grown_slots(local, 1.0, 0.5) is None and grown_slots(None, 1.0, 0.5) is None
    assert trial_slots(slot_args(), {"CPU": 4.0, "GPU": 2.0}, local) == 4
    assert trial_slots(slot_args(), {"CPU": 0.0}, None) == 1
    assert node_fits({"CPU": 0}, 1.0, 0.0) == 0 and node_fits({"CPU": 8, "GPU": 2}, 2.0, 0.25) == 4


def test_the_cluster_config_is_the_heads_bootstrap_file_or_the_one_named(tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.delenv(CLUSTER_CONFIG_ENV, raising=False)
    assert cluster_config() is None  # no launcher here
    (tmp_path / "ray_bootstrap_config.yaml").write_text(yaml.safe_dump(GROWN))
    assert cluster_config() == GROWN
    named = tmp_path / "fake.json"
    named.write_text(json.dumps({**GROWN, "max_workers": 1}))  # JSON, as a cluster started by hand may have
    monkeypatch.setenv(CLUSTER_CONFIG_ENV, str(named))
    assert cluster_config()["max_workers"] == 1
    named.write_text("[unclosed")
    assert cluster_config() is None


def test_a_config_left_as_shipped_is_named_in_one_line():
    shipped = yaml.safe_load((ROOT / "cluster" / "gpu.yaml").read_text())
    line = placeholders(shipped)
    assert line == ("this cluster's config still holds my-rnn-studies as shipped (EDIT in cluster/*.yaml): "
                    "set your values (docs/cluster.md) and run `ray up` again")
    both = {"arn": "arn:aws:iam::ACCOUNT:instance-profile/x", "path": "s3://my-rnn-studies/results"}
    assert "holds ACCOUNT, my-rnn-studies as shipped" in placeholders(both)
    edited = yaml.safe_load((ROOT / "cluster" / "gpu.yaml").read_text().replace("my-rnn-studies", "lab-rnn-runs"))
    assert placeholders(edited) is None
    assert placeholders({"path": "s3://my-rnn-studies-2024/x", "note": "ACCOUNTS"}) is None  # other names pass


def test_a_study_on_a_cluster_left_as_shipped_is_refused_before_it_asks_for_nodes(tmp_path, monkeypatch, capsys):
    from studies import launch
    from studies.q1 import STUDY

    shipped = tmp_path / "ray_bootstrap_config.yaml"
    shipped.write_text((ROOT / "cluster" / "gpu.yaml").read_text())
    monkeypatch.setenv(CLUSTER_CONFIG_ENV, str(shipped))
    argv = ["--address", "auto", "--smoke-test", "--storage-path", str(tmp_path / "runs")]
    with pytest.raises(SystemExit) as refused:
        launch.prepare(STUDY, argv)
    assert refused.value.code == 2
    assert capsys.readouterr().err == f"error: {placeholders(yaml.safe_load(shipped.read_text()))}\n"
    assert not (tmp_path / "runs").exists()
    monkeypatch.delenv("RAY_ADDRESS", raising=False)
    launch.prepare(STUDY, argv[2:])  # a local run never reads a cluster's config
