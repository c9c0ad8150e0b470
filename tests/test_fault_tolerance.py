"""Nothing lost: a killed driver resumes, a crashed trial retries from its checkpoint.

The slow tests run studies/q1.py as a separate process, exactly as a user would.
"""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import pytest
import torch

from studies import common, q1
from tests.studyrun import checkpoint_epochs, kill_group, result_rows, run_study, start_study, trial_states
from trainables.common import checkpoint, runtime


def test_set_parses_json_values_and_rejects_bad_items():
    args = q1.build_parser().parse_args(["--set", "checkpoint_every=1", "--set", "cell=gru", "--set", "amp=true"])
    assert common.trial_options(args) == {"amp": True, "checkpoint_every": 1, "cell": "gru"}
    with pytest.raises(SystemExit):
        common.trial_options(q1.build_parser().parse_args(["--set", "no-equals-sign"]))
    with pytest.raises(SystemExit):  # an unknown field fails before Ray starts
        q1.fixed_config(q1.build_parser().parse_args(["--set", "chekpoint_every=1"]))


def test_storage_path_default_comes_from_the_environment(monkeypatch):
    monkeypatch.setenv(common.STORAGE_ENV, "s3://bucket/runs")
    args = q1.build_parser().parse_args([])
    assert common.run_dir(args) == "s3://bucket/runs/q1"


def test_mixed_precision_is_a_no_op_on_cpu():
    mp = runtime.MixedPrecision(torch.device("cpu"), requested=True)
    assert not mp.enabled
    model = torch.nn.Linear(3, 1)
    opt = torch.optim.SGD(model.parameters(), lr=0.5)
    with mp.autocast():
        out = model(torch.ones(2, 3))
    assert out.dtype == torch.float32
    before = model.weight.detach().clone()
    mp.step(out.pow(2).mean(), opt)
    assert not torch.equal(before, model.weight)
    assert runtime.loader_kwargs(torch.device("cpu")) == {"pin_memory": False}


def test_crash_mid_write_keeps_the_previous_checkpoint(tmp_path, monkeypatch):
    checkpoint.save_state(tmp_path, {"epoch": 1})

    def torn_write(obj, fh):
        fh.write(b"partial")
        raise OSError("disk full")

    monkeypatch.setattr(torch, "save", torn_write)
    with pytest.raises(OSError):
        checkpoint.save_state(tmp_path, {"epoch": 2})
    assert checkpoint.load_state(tmp_path)["epoch"] == 1
    assert [p.name for p in tmp_path.iterdir()] == [checkpoint.STATE_FILE]


class Payload:  # stands for arbitrary code a pickle could run
    pass


def test_checkpoints_load_without_running_pickled_code(tmp_path):
    torch.save({"epoch": 1, "evil": Payload()}, tmp_path / checkpoint.STATE_FILE)
    with pytest.raises(Exception, match="weights_only|Unsupported global"):
        checkpoint.load_state(tmp_path)


def final_val_loss(run_dir: Path) -> dict[str, float]:
    out = {}
    for trial_dir in run_dir.glob("train_stock_*"):
        rows = result_rows(trial_dir)
        out[rows[-1]["config"]["cell"]] = rows[-1]["val/loss"]
    return out


@pytest.mark.slow
def test_max_failures_retries_a_crashed_trial_from_its_checkpoint(tmp_path):
    common_args = ["--smoke-test", "--storage-path", str(tmp_path), "--set", "epochs=4", "--set", "checkpoint_every=1"]
    log = tmp_path / "study.log"
    assert run_study("studies/q1.py", [*common_args, "--name", "clean"], log) == 0, log.read_text()[-3000:]
    rc = run_study("studies/q1.py", [*common_args, "--name", "faulty", "--set", "fail_at_epoch=3",
                                     "--max-failures", "1"], log)
    assert rc == 0, log.read_text()[-3000:]

    states, _ = trial_states(tmp_path / "faulty")
    assert len(states) == 3
    for state in states.values():
        assert state["status"] == "TERMINATED" and state["num_failures"] == 1
        assert (state["dir"] / ".fault_injected").exists()
        epochs = [r["epoch"] for r in result_rows(state["dir"])]
        # Killed at the start of epoch 3, resumed from the epoch-2 checkpoint: no epoch repeats.
        assert epochs == [1, 2, 3, 4]
    # Restored weights, optimizer and shuffling state: the same numbers as an uninterrupted run.
    clean, faulty = final_val_loss(tmp_path / "clean"), final_val_loss(tmp_path / "faulty")
    assert clean.keys() == faulty.keys() == {"rnn", "lstm", "gru"}
    for cell in clean:
        assert faulty[cell] == pytest.approx(clean[cell], rel=1e-5)


def wait_for_kill_point(proc, run_dir: Path, timeout: float = 300) -> dict[str, dict]:
    """Poll until Tune's saved state has a finished trial and a running one whose
    checkpoint predates the snapshot; return that snapshot."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert proc.poll() is None, "the study ended before it could be interrupted"
        states, saved_at = trial_states(run_dir)
        finished = [s for s in states.values() if s["status"] == "TERMINATED"]
        resumable = [s for s in states.values() if s["status"] == "RUNNING"
                     and any(os.path.getmtime(c) < saved_at for c in s["dir"].glob("checkpoint_*/state.pt"))]
        if finished and resumable:
            return states
        time.sleep(0.2)
    raise AssertionError("no moment with a finished and a checkpointed running trial")


@pytest.mark.slow
# Not yet reliable (passed 3 of 5 runs; make test-cluster leaves it out): once,
# after the resume only 2 of the 4 Optuna trials existed, as if the restored
# searcher believed it had proposed the rest; once the final status check failed
# although Tune's last snapshot had all 4 trials TERMINATED.
def test_sigkill_driver_then_resume_loses_nothing(tmp_path):
    samples = 4
    args = ["--search", "optuna", "--num-samples", str(samples), "--epochs", "20", "--max-concurrent", "2",
            "--set", "checkpoint_every=4", "--storage-path", str(tmp_path), "--name", "killed"]
    run_dir, log = tmp_path / "killed", tmp_path / "study.log"
    proc = start_study("studies/q1.py", args, log)
    try:
        at_kill = wait_for_kill_point(proc, run_dir)
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        kill_group(proc)
    rows_at_kill = {tid: len(result_rows(s["dir"])) for tid, s in at_kill.items()}
    saved = {tid: checkpoint_epochs(s["dir"]) for tid, s in at_kill.items()}

    assert run_study("studies/q1.py", [*args, "--resume"], log) == 0, log.read_text()[-3000:]
    final, _ = trial_states(run_dir)
    assert len(final) == samples and all(s["status"] == "TERMINATED" for s in final.values())
    resumed = 0
    for tid, state in at_kill.items():
        new = result_rows(state["dir"])[rows_at_kill[tid]:]
        if state["status"] == "TERMINATED":
            assert not new, f"finished trial {tid} ran again"
        elif saved[tid]:
            # Continued from a checkpoint it had written, not from the first epoch.
            assert new and new[0]["epoch"] > 1 and new[0]["epoch"] - 1 in saved[tid], (new[:1], saved[tid])
            resumed += 1
    assert resumed >= 1
    from analysis.results import load_run

    trials = load_run(run_dir).trials
    assert len(trials) == samples and trials["trial_id"].is_unique
    assert (run_dir / "report.md").exists()
