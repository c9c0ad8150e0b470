"""Run folders on S3 for real: moto's S3 server on 127.0.0.1 (tests/s3server.py), reached the way users reach
an S3-compatible store (AWS_ENDPOINT_URL and keys in the environment).

Fast: the probe before Ray starts, one line per cause. Slow: studies writing to the bucket from Ray's workers,
a killed driver resumed from the bucket, a lost worker's trial resumed from the bucket, the analysis commands
run on the bucket from elsewhere, and a run on the bucket against the same run in a local folder, table by table.
"""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pyarrow.fs as pafs
import pytest

from analysis.runs.read import read_run
from studies import checks, mirror, q1
from tests.localcluster import free_port, two_nodes
from tests.studyrun import kill_group, result_rows, start_study, study_env, trial_states
from trainables.common import storage
from trainables.common.layout import LOG_FILE, OPTUNA_DB, TABLES_DIR


def refusal(capsys, uri: str) -> str:
    """The one line a q1 study with ``--storage-path uri`` stops with (before Ray starts)."""
    with pytest.raises(SystemExit) as info:
        q1.main(["--smoke-test", "--storage-path", uri])
    assert info.value.code == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err, err
    return err


def test_a_writable_bucket_passes_the_probe_and_keeps_no_probe_object(s3_server):
    assert checks.writable(s3_server.uri("runs")) is None
    assert not [k for k in s3_server.objects() if ".write-probe-" in k]


def test_a_missing_bucket_is_named_in_one_line(s3_server, capsys):
    err = refusal(capsys, "s3://no-such-bucket/runs")
    assert err == (f"error: --storage-path s3://no-such-bucket/runs: the bucket 'no-such-bucket' does not exist at "
                   f"{s3_server.endpoint}: create it, or correct the bucket in --storage-path (or "
                   "$STUDY_STORAGE_PATH)\n")


def test_missing_credentials_are_named_with_where_to_put_them(s3_server, monkeypatch, capsys):
    s3_server.require_credentials()
    monkeypatch.delenv("AWS_ACCESS_KEY_ID")
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY")
    err = refusal(capsys, s3_server.uri("runs"))
    assert err.startswith(f"error: --storage-path {s3_server.uri('runs')}: refused by {s3_server.endpoint} (")
    assert "no AWS credentials were found here (environment, ~/.aws): set AWS_ACCESS_KEY_ID and " in err
    assert "AWS_PROFILE naming a profile in ~/.aws/credentials" in err


def test_refused_credentials_say_where_they_came_from(s3_server, monkeypatch, tmp_path, capsys):
    s3_server.require_credentials()
    monkeypatch.delenv("AWS_ACCESS_KEY_ID")
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY")
    home = tmp_path / "home" / ".aws"
    home.mkdir(parents=True)
    (home / "credentials").write_text("[default]\naws_access_key_id = unknown\naws_secret_access_key = wrong\n")
    err = refusal(capsys, s3_server.uri("runs"))
    assert err == (f"error: --storage-path {s3_server.uri('runs')}: the credentials from {home / 'credentials'} were "
                   f"refused by {s3_server.endpoint} (INVALID_ACCESS_KEY_ID): correct them, or allow them to write "
                   "to the bucket (s3:PutObject, s3:DeleteObject)\n")


def test_an_unreachable_endpoint_is_named_with_the_setting_to_fix(s3_server, monkeypatch, capsys):
    endpoint = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    monkeypatch.setenv("AWS_ENDPOINT_URL", endpoint)
    err = refusal(capsys, s3_server.uri("runs"))
    assert err.startswith(f"error: --storage-path {s3_server.uri('runs')}: cannot reach the S3 endpoint {endpoint} (")
    assert err.endswith("): for an S3-compatible store (MinIO, Ceph, GCS's S3 API) set AWS_ENDPOINT_URL to its URL, "
                        "else check the network\n")


def test_an_s3_runs_log_and_sqlite_database_are_pushed_to_its_run_folder_and_fetched_back(s3_server, tmp_path,
                                                                                             monkeypatch):
    run_dir = s3_server.uri("runs", "q1", "r1")
    monkeypatch.chdir(tmp_path)
    log, db = mirror.local_path(run_dir, LOG_FILE), mirror.local_path(run_dir, OPTUNA_DB)
    assert (log, db) == (tmp_path / "q1-r1.study.log", tmp_path / "q1-r1.optuna.db")
    assert mirror.local_path("/runs/q1/r1", OPTUNA_DB) == Path("/runs/q1/r1/optuna.db")  # a local run holds it
    log.write_text("trials: 1 done\n")
    with sqlite3.connect(db) as con:
        con.execute("create table t (v)")
        con.execute("insert into t values (42)")
    con.close()
    assert mirror.push(run_dir) == [LOG_FILE, OPTUNA_DB]
    assert [k for k in s3_server.objects("runs/q1/r1/") if not k.endswith("/")] == ["runs/q1/r1/optuna.db",
                                                                                    "runs/q1/r1/study.log"]
    assert storage.read_text(f"{run_dir}/{LOG_FILE}") == "trials: 1 done\n"

    elsewhere = tmp_path / "elsewhere"  # a resume on another machine
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    assert mirror.fetch(run_dir) == [LOG_FILE, OPTUNA_DB]
    assert (elsewhere / "q1-r1.study.log").read_text() == "trials: 1 done\n"
    with sqlite3.connect(elsewhere / "q1-r1.optuna.db") as con:
        assert con.execute("select v from t").fetchall() == [(42,)]
    con.close()
    (elsewhere / "q1-r1.study.log").write_text("newer, here\n")
    assert mirror.fetch(run_dir) == []  # what this directory holds is never replaced by an older copy
    assert (elsewhere / "q1-r1.study.log").read_text() == "newer, here\n"


def test_the_pusher_pushes_at_most_every_few_seconds_and_at_the_end(s3_server, tmp_path, monkeypatch):
    run_dir = s3_server.uri("runs", "q1", "r2")
    monkeypatch.chdir(tmp_path)
    log = mirror.local_path(run_dir, LOG_FILE)
    pusher = mirror.Pusher(run_dir, every_s=600)
    log.write_text("one\n")
    pusher.get_state()
    log.write_text("one\ntwo\n")
    pusher.get_state()  # too soon: the bucket keeps the first copy
    assert storage.read_text(f"{run_dir}/{LOG_FILE}") == "one\n"
    pusher.on_experiment_end([])
    assert storage.read_text(f"{run_dir}/{LOG_FILE}") == "one\ntwo\n"


# Three trials of 40 epochs, a checkpoint every 2: long enough (seconds a trial) to kill the driver mid-run.
EPOCHS = 40
S3_ARGS = ["--smoke-test", "--set", f"epochs={EPOCHS}", "--set", "checkpoint_every=2", "--set", "patience=0"]


@pytest.fixture
def s3_cluster(s3_server, tmp_path, monkeypatch):
    """A two-node Ray on 127.0.0.1 (tests/localcluster.py) whose nodes see the S3 server's environment, as
    cloud nodes given the same AWS settings do; they share no folder with the driver's storage."""
    with two_nodes(tmp_path, monkeypatch) as c:
        yield c


def wait_for(predicate, proc, timeout: float = 300) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert proc.poll() is None, "the study ended first"
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.2)


def download(uri: str, local):
    """The run folder at ``uri`` copied to ``local`` (as `aws s3 sync` would), for the checks."""
    fs, inner = storage.resolve(uri)
    pafs.copy_files(inner, str(local), source_filesystem=fs, destination_filesystem=pafs.LocalFileSystem())
    return local


def analysis_cli(args: list[str], cwd, tmp) -> str:
    """``python -m analysis ARGS`` in a fresh process, its own working and temporary folders; its output."""
    cwd.mkdir()
    tmp.mkdir()
    done = subprocess.run([sys.executable, "-m", "analysis", *args], cwd=cwd, env={**study_env(), "TMPDIR": str(tmp)},
                          capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_a_study_on_s3_killed_resumed_and_analysed_from_elsewhere(s3_server, s3_cluster, tmp_path):
    """A q1 study on a two-node Ray writes results and checkpoints to the bucket from both nodes; its driver,
    SIGKILLed once a checkpoint is in the bucket, is resumed from the bucket with every trial exactly once;
    the analysis commands then read the run from the bucket in a process that ran none of it."""
    storage_uri = s3_server.uri("runs")
    args = [*S3_ARGS, "--address", s3_cluster.gcs, "--storage-path", storage_uri, "--name", "s3q1"]
    log, driver = tmp_path / "study.log", tmp_path / "driver"
    driver.mkdir()
    proc = start_study("studies/q1.py", args, log, cwd=driver)
    try:
        wait_for(lambda: any(k.endswith("/state.pt") for k in s3_server.objects("runs/s3q1/"))
                 and any("/experiment_state-" in k for k in s3_server.objects("runs/s3q1/")), proc)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
    finally:
        kill_group(proc)
    killed_at = log.stat().st_size
    proc = start_study("studies/q1.py", [*args, "--resume"], log, cwd=driver)
    try:
        assert proc.wait(timeout=400) == 0, log.read_text()[-3000:]
    finally:
        kill_group(proc)
    resumed_log = log.read_text()[killed_at:]
    (run_id,) = {k.split("/")[2] for k in s3_server.objects("runs/s3q1/") if k.count("/") > 2}
    run_uri = s3_server.uri("runs", "s3q1", run_id)
    assert f"Resuming {run_uri}" in resumed_log

    run_dir = download(run_uri, tmp_path / "copy" / run_id)
    states, _ = trial_states(run_dir)
    assert len(states) == 3 and {s["status"] for s in states.values()} == {"TERMINATED"}
    for state in states.values():
        assert result_rows(state["dir"])[-1]["epoch"] == EPOCHS
        assert s3_server.objects(f"runs/s3q1/{run_id}/{state['dir'].name}/checkpoint_")  # its checkpoint, in S3
    run = read_run(run_dir)
    assert sorted(run.every_trial()["trial_id"]) == sorted(states)  # every trial exactly once
    # A trial that started over after the kill appends to the result.json it left; the reader keeps the later
    # record of an epoch, so each trial's history has each epoch once.
    for tid, records in run.every_record().groupby("trial_id"):
        assert sorted(records["epoch"]) == list(range(1, EPOCHS + 1)), tid
    pids = s3_cluster.pid_nodes()
    nodes = {pids.get(r["pid"]) for s in states.values() for r in result_rows(s["dir"])}
    assert s3_cluster.worker_node_id() in nodes  # the worker node wrote its trials' results to the bucket
    assert [p.name for p in driver.iterdir()] == [f"s3q1-{run_id}.study.log"]  # the driver's one local file
    pushed = storage.read_text(f"{run_uri}/{LOG_FILE}")  # and its copy in the run folder, both starts in it
    assert pushed == (driver / f"s3q1-{run_id}.study.log").read_text()
    assert pushed.count(f"studies/q1.py {' '.join(S3_ARGS)}") == 2  # each start's header

    # Analysis from elsewhere: a fresh process, its own working and temporary folders.
    out = analysis_cli(["report", f"{storage_uri}/s3q1"], tmp_path / "analyst", tmp_path / "analyst-tmp")
    assert f"Report: {run_uri}/report.html" in out and f"{run_uri}/tables/trials.csv" in out
    out = analysis_cli(["claims", run_uri], tmp_path / "analyst2", tmp_path / "analyst2-tmp")
    assert out.startswith("q1: ") and "GRU > LSTM > RNN" in out
    out = analysis_cli(["compare", run_uri, f"{storage_uri}/s3q1/latest"], tmp_path / "analyst3",
                       tmp_path / "analyst3-tmp")
    assert "Matched 3 configurations" in out and "B − A +0" in out
    for folder in ("analyst", "analyst-tmp", "analyst2-tmp", "analyst3-tmp"):
        assert not list((tmp_path / folder).iterdir()), folder  # the temporary copies are gone


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_an_optuna_search_on_s3_leaves_its_database_in_the_run_folder(s3_server, tmp_path):
    """The default SQLite database of an s3:// search is in the bucket at the end, as optuna.db beside the
    trials, holding every trial Tune ran; the driver's directory holds its working copy and the log only."""
    import optuna

    driver = tmp_path / "driver"
    driver.mkdir()
    args = ["--search", "optuna", "--num-samples", "2", "--epochs", "2", "--hidden-size", "8", "--num-layers", "1",
            "--window", "10", "--storage-path", s3_server.uri("runs"), "--name", "search"]
    proc = start_study("studies/q1.py", args, tmp_path / "study.log", cwd=driver)
    try:
        assert proc.wait(timeout=400) == 0, (tmp_path / "study.log").read_text()[-3000:]
    finally:
        kill_group(proc)
    (run_id,) = {k.split("/")[2] for k in s3_server.objects("runs/search/") if k.count("/") > 2}
    assert sorted(p.name for p in driver.iterdir()) == [f"search-{run_id}.optuna.db", f"search-{run_id}.study.log"]
    run_dir = download(s3_server.uri("runs", "search", run_id), tmp_path / "copy" / run_id)
    states, _ = trial_states(run_dir)
    db = optuna.load_study(study_name=f"search/{run_id}", storage=f"sqlite:///{run_dir / OPTUNA_DB}")
    trials = db.get_trials(deepcopy=False)
    assert sorted(t.user_attrs["tune_trial_id"] for t in trials) == sorted(states)
    assert {t.state.name for t in trials} <= {"COMPLETE", "PRUNED"} and len(states) == 2


def checkpointed(s3_server, prefix: str) -> dict[str, int]:
    """Complete checkpoints (their state.pt in the bucket) per trial folder under ``prefix`` (NAME/)."""
    counts: dict[str, int] = {}
    for key in s3_server.objects(prefix):
        if key.endswith("/state.pt"):
            trial = key[len(prefix):].split("/")[1]  # RUN_ID/TRIAL/checkpoint_N/state.pt
            counts[trial] = counts.get(trial, 0) + 1
    return counts


def trial_running_on(cluster, node_id: str) -> bool:
    return any("ImplicitFunc" in a["class_name"] and a["state"] == "ALIVE" and a["node_id"] == node_id
               for a in cluster.state_api("actors"))


# About 20 s a trial alone, a checkpoint every 2 epochs: the worker node is stopped while its trial runs.
LOST_EPOCHS = 150


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_a_worker_lost_and_brought_back_resumes_its_trial_from_the_bucket(s3_server, s3_cluster, tmp_path):
    """A cloud worker goes away mid-study: its trial is retried from its last checkpoint in the bucket (the nodes
    share no storage folder: every checkpoint goes through the bucket), and a worker brought back rejoins."""
    args = ["--smoke-test", "--set", f"epochs={LOST_EPOCHS}", "--set", "checkpoint_every=2", "--set", "patience=0",
            "--max-failures", "3", "--address", s3_cluster.gcs, "--storage-path", s3_server.uri("runs"),
            "--name", "lost"]
    log, driver = tmp_path / "study.log", tmp_path / "driver"
    driver.mkdir()
    proc = start_study("studies/q1.py", args, log, cwd=driver)
    try:
        worker = s3_cluster.worker_node_id()
        # Two slots (one a node), so two trial folders past two checkpoints are the two running trials, one of
        # them the worker's: it has a checkpoint to resume from even if Tune had not yet taken its latest.
        wait_for(lambda: sum(n >= 2 for n in checkpointed(s3_server, "runs/lost/").values()) >= 2
                 and trial_running_on(s3_cluster, worker), proc)
        s3_cluster.worker.stop()
        s3_cluster.add_worker()
        s3_cluster.wait_ready(nodes=2)
        assert proc.wait(timeout=600) == 0, log.read_text()[-3000:]
    finally:
        kill_group(proc)
    (run_id,) = {k.split("/")[2] for k in s3_server.objects("runs/lost/") if k.count("/") > 2}
    run_dir = download(s3_server.uri("runs", "lost", run_id), tmp_path / "copy" / run_id)
    states, _ = trial_states(run_dir)
    assert len(states) == 3 and {s["status"] for s in states.values()} == {"TERMINATED"}
    moved = [s for s in states.values() if s["num_failures"] >= 1]
    assert moved, "no trial was on the lost worker"
    for state in moved:
        rows = result_rows(state["dir"])
        assert rows[-1]["epoch"] == LOST_EPOCHS
        last = [r for r in rows if r["pid"] == rows[-1]["pid"]]  # the retry, from a checkpoint (every 2 epochs)
        assert last[0]["epoch"] > 1 and (last[0]["epoch"] - 1) % 2 == 0, [r["epoch"] for r in rows]
    for tid, records in read_run(run_dir).every_record().groupby("trial_id"):
        assert sorted(records["epoch"]) == list(range(1, LOST_EPOCHS + 1)), tid


def comparable(csv: Path) -> pd.DataFrame:
    """A table of a run less what says which trial, when or how fast: ids, seconds, and the comparisons of
    seconds (their words in the summary hold numbers, checked in the comparisons themselves)."""
    frame = pd.read_csv(csv)
    frame = frame.drop(columns=[c for c in frame if c == "trial_id" or c.startswith("time/") or c.endswith("_s")])
    if "metric" in frame:
        frame = frame[~frame["metric"].str.startswith("time/")].reset_index(drop=True)
    if "in words" in frame:
        frame["in words"] = frame["in words"].str.replace(r"[-+−]?\d+(\.\d+)?", "#", regex=True)
    return frame


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_a_run_on_s3_holds_what_the_same_run_holds_locally_table_by_table(s3_server, tmp_path):
    """The same q1 smoke study stored in a local folder and on the bucket, then reported: every table holds the
    same rows and values, but for the columns that say when, how fast or where."""
    tables = {}
    for where, storage_path in (("local", str(tmp_path / "local")), ("s3", s3_server.uri("runs"))):
        driver = tmp_path / f"driver-{where}"
        driver.mkdir()
        proc = start_study("studies/q1.py", ["--smoke-test", "--storage-path", storage_path, "--name", "same"],
                           tmp_path / f"{where}.log", cwd=driver)
        try:
            assert proc.wait(timeout=400) == 0, (tmp_path / f"{where}.log").read_text()[-3000:]
        finally:
            kill_group(proc)
        analysis_cli(["report", f"{storage_path}/same"], tmp_path / f"analyst-{where}", tmp_path / f"tmp-{where}")
        run_dir = (tmp_path / "local" / "same" / "latest").resolve() if where == "local" else download(
            s3_server.uri("runs", "same", storage.read_text(s3_server.uri("runs", "same", "latest")).strip()),
            tmp_path / "copy")
        tables[where] = {p.name: p for p in (run_dir / TABLES_DIR).glob("*.csv")}
    assert sorted(tables["s3"]) == sorted(tables["local"]) and len(tables["local"]) >= 3
    for name, local_csv in tables["local"].items():
        local_table, s3_table = comparable(local_csv), comparable(tables["s3"][name])
        assert len(local_table) and len(local_table.columns) >= 3, name
        pd.testing.assert_frame_equal(local_table, s3_table, check_exact=False, rtol=1e-9, obj=name)
