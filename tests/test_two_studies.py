"""Two studies at once on one Ray cluster: each says the cluster is shared, both finish, neither takes the
other's trials. Slow: a two-node Ray on 127.0.0.1 (tests/localcluster.py) and two drivers."""

from __future__ import annotations

import json
import time

import pytest

from studies import checks, flags, q1
from tests.localcluster import two_nodes
from tests.studyrun import kill_group, result_rows, start_study


def test_a_study_joining_a_busy_cluster_says_it_is_shared():
    on_cluster = flags.parser(q1.STUDY).parse_args(["--address", "auto"])
    assert checks.shared_note(on_cluster, {"CPU": 4.0}, {"CPU": 1.0}) == (
        "the cluster is shared: 1 of 4 CPU free now, the rest held by other jobs; this study's trials take their "
        "turn as resources free (--max-concurrent N caps this study's share)")
    capped = flags.parser(q1.STUDY).parse_args(["--address", "auto", "--max-concurrent", "2"])
    assert checks.shared_note(capped, {"CPU": 4.0, "GPU": 2.0}, {"CPU": 4.0, "GPU": 0.5}) is None  # no GPU asked
    assert checks.shared_note(capped, {"CPU": 4.0}, {"CPU": 0.0}).endswith(
        "(--max-concurrent 2 caps this study's share)")
    assert checks.shared_note(on_cluster, {"CPU": 4.0}, {"CPU": 4.0}) is None  # nobody else there
    local = flags.parser(q1.STUDY).parse_args([])
    assert checks.shared_note(local, {"CPU": 4.0}, {"CPU": 1.0}) is None  # a private local Ray is never shared


TINY = ["--hidden-size", "8", "--num-layers", "1", "--window", "10", "--set", "patience=0"]
# The paper design's trials are long enough (about 10 s each, two at once) to hold the cluster while the search
# starts.
PAPER = ["--cell", "gru", "--optimizer", "adam", "--loss", "mse", "--seeds", "2", "--set", "epochs=80", *TINY]
SEARCH = ["--search", "optuna", "--num-samples", "3", "--epochs", "8", *TINY]


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_two_studies_at_once_on_one_cluster_both_finish_with_their_own_trials(tmp_path, monkeypatch):
    storage, procs = tmp_path / "storage", {}
    with two_nodes(tmp_path, monkeypatch) as cluster:
        try:
            common = ["--address", cluster.gcs, "--storage-path", str(storage)]
            procs["paper"] = start_study("studies/q1.py", [*PAPER, *common, "--name", "paper"], tmp_path / "paper.log")
            deadline = time.monotonic() + 300  # the second starts once the first's trials hold the cluster
            while not list((storage / "paper").glob("*/train_stock_*/result.json")):
                assert procs["paper"].poll() is None and time.monotonic() < deadline, "the first study never ran"
                time.sleep(0.2)
            search = [*SEARCH, *common, "--name", "search"]
            procs["search"] = start_study("studies/q1.py", search, tmp_path / "search.log")
            for name, proc in procs.items():
                assert proc.wait(timeout=500) == 0, (tmp_path / f"{name}.log").read_text()[-3000:]
        finally:
            for proc in procs.values():
                kill_group(proc)
    assert "the cluster is shared: " in (tmp_path / "search.log").read_text()
    ids = {}
    for name in procs:
        (run_dir,) = [p for p in (storage / name).iterdir() if not p.is_symlink()]
        planned = json.loads((run_dir / "study.json").read_text())["trials"]
        ids[name] = {r["trial_id"] for d in run_dir.glob("train_stock_*") for r in result_rows(d)}
        assert len(ids[name]) == planned, name  # every planned trial, in its own run folder
    assert not ids["paper"] & ids["search"]
