"""The study console: live line on a terminal and off it, the progress callback's numbers, capture of Ray's output."""

from __future__ import annotations

import io
import os
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest
from ray import cloudpickle

from studies import console as C
from studies import eta as E
from studies import progress as P
from trainables.chargen.task import TASK
from trainables.common import metrics as M

CLEAR = "\r\x1b[K"


class Clock:
    def __init__(self, now: float = 0.0):
        self.now = now

    def __call__(self) -> float:
        return self.now


def tty_console(width=40):
    out = io.StringIO()
    return C.Console(out, tty=True, width=width), out


def test_terminal_status_is_rewritten_in_place_and_lines_go_above_it():
    con, out = tty_console()
    con.status("1/4 done")
    con.status("1/4 done")  # unchanged: not redrawn
    con.status("2/4 done")
    assert out.getvalue() == f"{CLEAR}1/4 done{CLEAR}2/4 done"
    con.line("FAILED trial_3: ValueError: boom")
    # The live line is erased, the permanent line printed whole, the live line drawn again below it.
    assert out.getvalue().endswith(f"{CLEAR}FAILED trial_3: ValueError: boom\n2/4 done")
    con.close()
    assert out.getvalue().endswith("2/4 done\n")


def test_terminal_status_is_cut_to_the_width_and_can_be_cleared():
    con, out = tty_console(width=20)
    con.status("x" * 50)
    assert out.getvalue() == CLEAR + "x" * 16 + "..."
    con.clear_status()
    assert out.getvalue().endswith(CLEAR)
    con.line("summary")
    con.close()
    assert out.getvalue().endswith(f"{CLEAR}summary\n")  # no live line redrawn, no stray newline


def test_off_a_terminal_the_status_is_a_line_at_most_every_interval_unless_forced():
    out, clock = io.StringIO(), Clock()
    con = C.Console(out, interval=30, clock=clock)
    assert not con.tty  # a StringIO is no terminal
    for t, text, force in [(0, "a", False), (10, "b", False), (29, "c", False), (30, "d", False), (31, "e", True),
                           (32, "e", True), (40, "f", False)]:
        clock.now = t
        con.status(text, force=force)
    con.line("permanent")
    assert out.getvalue().splitlines() == ["a", "d", "e", "permanent"]
    con.close()  # the newest status was never printed: it is now
    assert out.getvalue().splitlines()[-1] == "f"
    assert "\r" not in out.getvalue()


def test_format_duration():
    assert [P.format_duration(s) for s in (0, 42.4, 185, 7440, -3)] == ["0s", "42s", "3m05s", "2h04m", "0s"]


def test_counts_include_planned_trials_tune_has_not_created():
    c = P.count_trials(["TERMINATED", "ERROR", "RUNNING", "PENDING", "TERMINATED"], total=8)
    assert (c.done, c.running, c.failed, c.pending, c.total) == (2, 1, 1, 4, 8)


def test_best_so_far_counts_only_completed_trials_by_mode():
    results = [({"cell": "gru"}, {"loss": 0.5, M.COMPLETED: 1}),
               ({"cell": "rnn"}, {"loss": 0.1}),  # still running: not yet comparable
               ({"cell": "lstm"}, {"loss": float("nan"), M.COMPLETED: 1}),
               ({"cell": "lstm2"}, {"loss": 0.9, M.COMPLETED: 1})]
    assert P.best_so_far(results, "loss", "min") == (0.5, {"cell": "gru"})
    assert P.best_so_far(results, "loss", "max") == (0.9, {"cell": "lstm2"})
    assert P.best_so_far(results[1:2], "loss", "min") is None


def test_best_so_far_reads_a_trial_at_its_best_epoch_not_its_last():
    # Early stopping ends a trial epochs after its best one; the best epoch's weights are what it is scored with.
    results = [({"lr": 1}, {"val/f1": 0.66, M.best("val/f1"): 0.74, M.COMPLETED: 1}),
               ({"lr": 2}, {"val/f1": 0.70, M.best("val/f1"): 0.72, M.COMPLETED: 1})]
    assert P.best_so_far(results, "val/f1", "max") == (0.74, {"lr": 1})


def test_the_progress_line_names_a_finished_trial_at_its_best_epoch():
    out, _clock, cb, trials = drive()
    t0 = trials[0]
    # Stopped by patience two epochs after its best: Tune keeps each metric's min and max over the epochs.
    t0.status, t0.last_result = "TERMINATED", {M.EPOCH: 6, "val/loss": 0.6, M.COMPLETED: 1}
    t0.has_reported_at_least_once, t0.metric_analysis = True, {"val/loss": {"min": 0.45, "max": 0.9, "last": 0.6}}
    cb.on_trial_complete(iteration=1, trials=trials, trial=t0)
    assert "| best val/loss 0.45 (cell=rnn)" in out.getvalue().splitlines()[-1]


def test_label_names_the_settings_that_differ():
    configs = [{"cell": "gru", "lr": 0.001, "epochs": 5}, {"cell": "rnn", "lr": 0.01, "epochs": 5}]
    keys = P.differing_keys(configs)
    assert keys == ["cell", "lr"]
    assert P.short_label(configs[0], keys) == "cell=gru lr=0.001"
    assert P.short_label({"a": "x" * 100}, ["a"], limit=20) == "a=" + "x" * 15 + "..."


TUNE_ERROR_TEXT = (  # error.txt as Ray 2.60 writes it for a function trainable that raised
    "Failure # 1 (occurred at 2026-12-02_20-32-13)\n"
    "\x1b[36mray::ImplicitFunc.train()\x1b[39m (pid=8423, ip=192.0.2.2, actor_id=5ab9, repr=f)\n"
    "           ^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^\n"
    '  File "/x/ray/tune/trainable/function_trainable.py", line 249, in _trainable_func\n'
    "    output = fn()\n"
    "             ^^^^\n"
    '  File "/tmp/t.py", line 7, in f\n'
    '    raise ValueError("boom at x=3\\nsecond line")\n'
    "ValueError: boom at x=3\n"
    "second line\n"
)


def test_first_error_line_is_the_exception_line():
    assert P.first_error_line(TUNE_ERROR_TEXT) == "ValueError: boom at x=3"
    assert P.first_error_line("Failure # 1 (occurred at now)\nTrial crashed: node lost\n") == \
        "Trial crashed: node lost"
    assert P.first_error_line("") == ""


class FakeTrial(SimpleNamespace):
    """What the callback reads of Ray's Trial."""

    def __str__(self) -> str:
        return self.trial_id


def fake_trial(tid, status, config, result=None, **more):
    return FakeTrial(trial_id=tid, status=status, config=config, last_result=result or {},
                     has_reported_at_least_once=bool(result), **more)


def failed_trial(tmp_path, fs_type="local", config=None):
    staged = tmp_path / "staging" / "t3"
    staged.mkdir(parents=True)
    (staged / "error.txt").write_text(TUNE_ERROR_TEXT)
    return fake_trial("t3", "ERROR", config or {"x": 3}, {M.EPOCH: 1},
                      error_file=str(staged / "error.txt"), pickled_error_file=None, path="/runs/q1/t3",
                      storage=SimpleNamespace(storage_filesystem=SimpleNamespace(type_name=fs_type)))


def test_error_file_is_the_stored_copy_not_rays_staging_one(tmp_path):
    assert P.stored_error_file(failed_trial(tmp_path)) == "/runs/q1/t3/error.txt"
    s3 = failed_trial(tmp_path / "a", "s3")
    s3.path = "bucket/results/q1/t3"  # pyarrow's path, scheme stripped
    assert P.stored_error_file(s3) == "s3://bucket/results/q1/t3/error.txt"
    gcs = failed_trial(tmp_path / "b", "gcs")
    gcs.path = "bucket/q1/t3"
    assert P.stored_error_file(gcs) == "gs://bucket/q1/t3/error.txt"
    assert P.stored_error_file(fake_trial("t", "ERROR", {}, error_file=None)) is None
    assert P.error_line(failed_trial(tmp_path / "c")) == "ValueError: boom at x=3"  # from the text


def test_error_line_prefers_the_pickled_cause(tmp_path):
    trial = failed_trial(tmp_path)
    trial.pickled_error_file = str(tmp_path / "error.pkl")
    wrapped = RuntimeError("ray::ImplicitFunc.train() (pid=1)")
    wrapped.cause = KeyError("lr")  # as RayTaskError carries the trainable's exception
    Path(trial.pickled_error_file).write_bytes(cloudpickle.dumps(wrapped))
    assert P.error_line(trial) == "KeyError: 'lr'"


def drive():
    """Four pending trials of 10 epochs on a fake clock; the console off a terminal, printing every status."""
    out, clock = io.StringIO(), Clock(100.0)
    con = C.Console(out, interval=0, clock=clock)
    cb = P.ProgressCallback(con, total=4, metric="val/loss", mode="min", clock=clock)
    configs = [{"cell": c, "epochs": 10, "seed": 0} for c in ("rnn", "gru", "lstm", "mlp")]
    trials = [fake_trial(f"t{i}", "PENDING", cfg) for i, cfg in enumerate(configs)]
    cb.setup(total_num_samples=4)
    return out, clock, cb, trials


def test_progress_callback_counts_estimates_and_names_the_best():
    out, clock, cb, trials = drive()
    t0, t1 = trials[0], trials[1]
    for t in (t0, t1):
        t.status = "RUNNING"
        cb.on_trial_start(iteration=1, trials=trials, trial=t)
    assert cb.status_text(trials).startswith("trials: 0 done, 2 running, 0 failed of 4 | 0s elapsed, estimating")
    clock.now = 120.0  # t0 did 4 epochs in 20 s (30 s left), t1 2 epochs (80 s left)
    t0.last_result, t0.has_reported_at_least_once = {M.EPOCH: 4, "val/loss": 0.7}, True
    t1.last_result, t1.has_reported_at_least_once = {M.EPOCH: 2, "val/loss": 0.9}, True
    cb.on_trial_result(iteration=2, trials=trials, trial=t1, result=t1.last_result)
    # Pending trials take the projected durations' mean (50 s and 100 s), each in the slot that frees first:
    # 30 + 75 and 80 + 75 s.
    assert "20s elapsed, ~2m35s left" in out.getvalue().splitlines()[-1]
    assert "best" not in out.getvalue()  # nothing completed yet
    clock.now = 150.0
    t0.status, t0.last_result = "TERMINATED", {M.EPOCH: 10, "val/loss": 0.4, M.COMPLETED: 1}
    t1.last_result = {M.EPOCH: 5, "val/loss": 0.6}
    cb.on_trial_complete(iteration=3, trials=trials, trial=t0)
    line = out.getvalue().splitlines()[-1]
    assert line.startswith("trials: 1 done, 1 running, 0 failed of 4 | 50s elapsed")
    assert line.endswith("| best val/loss 0.4 (cell=rnn)")  # only the cell differs between trials
    # Once a trial has finished, every trial takes its 50 s (early stopping makes planned epochs a poor
    # guide): t1 has run its 50 s already, so it gets one more epoch at its pace (10 s); two pending
    # trials, two slots: one starts now, the other after t1's 10 s.
    assert "~1m00s left" in line


def test_the_time_left_costs_each_planned_trial_by_its_arm_also_before_tune_creates_it():
    """Two arms, batch 128 twice batch 64's cost: the trials Tune has not created yet are the plan's, each timed by
    its own arm (a mean duration for all would put the run's end 50 s early)."""
    out, clock = io.StringIO(), Clock(100.0)
    planned = [{"batch": b, "epochs": 10, "seed": s} for s in (0, 1) for b in (64, 128)]
    cb = P.ProgressCallback(C.Console(out, interval=0, clock=clock), total=4, metric="val/loss", mode="min",
                            clock=clock, costs=lambda c: E.Trial(c["batch"], c["batch"] / 64), planned=planned)
    trials = [fake_trial(f"t{i}", "RUNNING", dict(c)) for i, c in enumerate(planned[:2])]
    cb.setup(total_num_samples=4)
    for t in trials:
        cb.on_trial_start(iteration=1, trials=trials, trial=t)
    clock.now = 120.0  # batch 64: 4 of 10 epochs in 20 s (30 s left), batch 128: 2 of 10 (80 s left)
    for t, epoch in zip(trials, (4, 2)):
        t.last_result, t.has_reported_at_least_once = {M.EPOCH: epoch, "val/loss": 0.7}, True
    # Seed 1's batch 64 (50 s) after the first to free (30 s), its batch 128 (100 s) after the other (80 s).
    assert cb.status_text(trials).endswith("20s elapsed, ~3m00s left")
    cb.planned = []  # a search: what is not proposed yet takes the mean of the trials seen, 75 s
    assert cb.status_text(trials).endswith("20s elapsed, ~2m35s left")


def test_a_budgeted_trial_is_paced_by_its_budget_not_its_epoch_cap():
    """A trial that a training-time budget ends plans 100,000 epochs: the estimate follows the budget."""
    out, clock, cb, trials = drive()
    for t in trials:
        t.config = {**t.config, "epochs": 100_000, "budget_s": 60.0}
    t0, t1 = trials[0], trials[1]
    for t in (t0, t1):
        t.status = "RUNNING"
        cb.on_trial_start(iteration=1, trials=trials, trial=t)
    clock.now = 130.0  # 30 s in: 10 epochs in 20 training seconds; 40 of the 60 left buy 20 more epochs
    for t in (t0, t1):
        t.last_result, t.has_reported_at_least_once = {M.EPOCH: 10, M.TIME_TRAIN: 20.0, "val/loss": 1.0}, True
    cb.on_trial_result(iteration=2, trials=trials, trial=t1, result=t1.last_result)
    # Running: 20 epochs at 3 s of wall time each (validation included): 60 s left; the pending two take
    # the running ones' projected 90 s; two slots: (60 + 60 + 2 * 90) / 2 = 150 s.
    assert "30s elapsed, ~2m30s left" in out.getvalue().splitlines()[-1]


def test_progress_callback_failure_line_and_summary(tmp_path):
    out, clock, cb, trials = drive()
    bad = trials[3] = failed_trial(tmp_path, config=trials[3].config)
    for i, t in enumerate(trials):
        t.status = "TERMINATED" if i < 3 else "ERROR"
        if i < 3:
            t.last_result = {M.EPOCH: 10, "val/loss": 1.0 - i / 10, M.COMPLETED: 1}
            t.has_reported_at_least_once = True
    clock.now = 160.0
    cb.on_trial_error(iteration=5, trials=trials, trial=bad)
    lines = out.getvalue().splitlines()
    assert lines[-2] == "FAILED t3: ValueError: boom at x=3 | error file: /runs/q1/t3/error.txt"
    assert lines[-1].startswith("trials: 3 done, 0 running, 1 failed of 4 | 1m00s elapsed, ~0s left")
    cb.on_experiment_end(trials=trials)
    assert out.getvalue().splitlines()[-1] == "finished in 1m00s: 3 done, 1 failed of 4 | best val/loss 0.8 (cell=lstm)"


def test_tunes_steps_refresh_the_line_at_most_twice_a_second():
    out, clock, cb, trials = drive()
    cb.on_step_end(iteration=1, trials=trials)
    trials[0].status = "RUNNING"
    clock.now += 0.2
    cb.on_step_end(iteration=2, trials=trials)
    assert len(out.getvalue().splitlines()) == 1
    clock.now += 0.3
    cb.on_step_end(iteration=3, trials=trials)
    assert out.getvalue().splitlines()[-1].startswith("trials: 0 done, 1 running")


def test_an_interrupted_run_says_what_is_unfinished():
    out, _, cb, trials = drive()
    trials[0].status = "RUNNING"
    cb.on_experiment_end(trials=trials[:2])  # Tune had created two of the four
    assert out.getvalue().splitlines()[-1] == "stopped after 0s: 0 done, 0 failed, 4 unfinished of 4"


def test_the_callback_pickles_without_its_console(tmp_path):
    # Tuner writes RunConfig's callbacks into tuner.pkl (a resumed run replaces them with this start's).
    cb = P.ProgressCallback(C.Console(sys.stdout), total=3, metric="m", mode="max", epochs_of=lambda c: c["n"],
                            costs=E.Costs.of(TASK).trial)
    restored = cloudpickle.loads(cloudpickle.dumps(cb))
    assert restored.console is None and restored.total == 3 and restored.epochs_of({"n": 7}) == 7
    assert restored.costs({"epochs": 4}) == cb.costs({"epochs": 4}) and cb.costs({"epochs": 4}).cost == 4.0
    with pytest.raises(ValueError, match="mode"):
        P.ProgressCallback(None, 1, "m", "best")


def test_capture_sends_python_c_level_and_child_output_to_the_log(tmp_path, capfd):
    log = tmp_path / "logs" / "run.log"
    log.parent.mkdir()
    log.write_text("earlier run\n")
    stdout = sys.stdout
    with C.capture(log) as con:
        print("python stdout")
        print("python stderr", file=sys.stderr)
        os.write(1, b"fd one\n")
        os.write(2, b"fd two\n")
        subprocess.run([sys.executable, "-c", "import os; print('child'); os.write(2, b'child err\\n')"], check=True)
        con.line("for the person")
    assert sys.stdout is stdout
    text = log.read_text()
    assert text.startswith("earlier run\n")  # appended
    for s in ("python stdout", "python stderr", "fd one", "fd two", "child", "child err"):
        assert s in text
    assert "for the person" not in text
    out, err = capfd.readouterr()
    assert out.splitlines() == [f"Ray's output and the full log: {log}", "for the person"]
    assert err == ""
    os.write(1, b"after\n")  # the descriptors are back
    assert capfd.readouterr().out == "after\n"


@pytest.mark.parametrize("error", [KeyboardInterrupt, RuntimeError])
def test_capture_restores_the_descriptors_on_an_interrupt(tmp_path, capfd, error):
    streams = (sys.stdout, sys.stderr)
    with pytest.raises(error), C.capture(tmp_path / "run.log"):
        os.write(2, b"inside\n")
        raise error()
    assert (sys.stdout, sys.stderr) == streams
    os.write(2, b"outside\n")
    assert capfd.readouterr().err == "outside\n"
    assert "inside" in (tmp_path / "run.log").read_text()


def test_verbose_capture_redirects_nothing(tmp_path, capsys):
    with C.capture(tmp_path / "run.log", verbose=True) as con:
        print("ray says")
        con.status("1/2 done")
        con.line("a line")
    assert capsys.readouterr().out.splitlines() == ["ray says", "1/2 done", "a line"]
    assert not (tmp_path / "run.log").exists()


def test_the_progress_line_names_the_seeds_in_flight_when_seeds_are_added():
    _, _, cb, trials = drive()
    trials[0].config["seed"], trials[1].config["seed"] = 3, 4
    for t in trials[:3]:
        t.status = "RUNNING"
    assert ", seeds in flight" not in cb.status_text(trials)
    cb.seeds = True
    assert cb.status_text(trials).startswith("trials: 0 done, 3 running, 0 failed of 4, seeds in flight: 0, 3, 4 |")


def test_on_a_cluster_growing_from_zero_the_line_says_it_waits_for_the_autoscaler():
    _, _, cb, trials = drive()
    cb.autoscaling = 8  # the study started with no node for a trial; the cluster may grow to 8 at once
    assert cb.status_text(trials) == ("trials: 0 done, 0 running, 0 failed of 4 | waiting for the autoscaler to add "
                                      "nodes for 8 trials at once | 0s elapsed, estimating")
    trials[0].status = "RUNNING"  # a node is up: the usual line
    cb.on_trial_start(iteration=1, trials=trials, trial=trials[0])
    assert "autoscaler" not in cb.status_text(trials)
    cb.autoscaling = None  # a cluster with room from the start never says it
    trials[0].status = "PENDING"
    assert "autoscaler" not in cb.status_text(trials)


def test_when_seeds_are_added_the_time_left_is_for_the_seeds_asked_so_far():
    """A run that adds seeds where a verdict is open cannot know the seeds still to come: its estimate says what
    it covers."""
    out, clock, cb, trials = drive()
    cb.seeds = True
    for t in trials[:2]:
        t.status = "RUNNING"
        cb.on_trial_start(iteration=1, trials=trials, trial=t)
    clock.now = 120.0
    for t in trials[:2]:
        t.last_result, t.has_reported_at_least_once = {M.EPOCH: 4, "val/loss": 0.7}, True
    cb.on_trial_result(iteration=2, trials=trials, trial=trials[1], result=trials[1].last_result)
    assert "20s elapsed, ~1m20s left for the seeds asked so far" in out.getvalue().splitlines()[-1]
    cb.seeds = False
    assert cb.status_text(trials).endswith("~1m20s left")  # two at 30 s left, two pending at 50 s, two slots
