"""The q1 benchmarks on tiny budgets, so they keep up with the study and the shared loop."""

import json
import re
import shutil
from pathlib import Path

import pytest

from tests.helpers import load_benchmark
from trainables.common import metrics as M


def test_q1_grid_runs_the_study_and_the_same_arms_in_the_plain_loop(ray_cluster, tmp_path):
    bench = load_benchmark("q1_grid")
    result = bench.run_benchmark(["--smoke-test", "--epochs", "1"], tmp_path)
    trials, plain = result["trials"], result["plain"]
    assert len(trials) == len(plain) == 3 and (trials["status"] == "finished").all()
    assert all(p[M.COMPLETED] == 1 and p[M.EPOCH] == 1 for p in plain)
    # The same arms in the same order (the study's own), so the same persistence days and errors.
    ray_mape = sorted(trials[M.PERSISTENCE_TEST_MAPE].round(6))
    assert ray_mape == sorted(round(p[M.PERSISTENCE_TEST_MAPE], 6) for p in plain)
    assert sorted(trials[M.TEST_MAPE]) == pytest.approx(sorted(p[M.TEST_MAPE] for p in plain), rel=1e-3)
    assert result["wall_a"] > 0 and result["wall_b"] > 0 and result["peak_b"] > 0
    assert result["cpu_a"]["driver"] > 0  # the session's Ray is not this process's child: the driver alone
    # The study records what its trials cost; the run folder alone tells it again.
    recorded = json.loads((Path(result["path"]) / "provenance.json").read_text())["usage"]
    assert recorded["trials"] == 3 and recorded["cores"] == 2 and recorded["slots"] == 4
    assert recorded["cpu_s"] > 0 and recorded["compute_floor_s"] == pytest.approx(recorded["cpu_s"] / 2, abs=0.01)
    assert 0 < recorded["slots_busy"] and 0 < recorded["trial_phase_s"] < recorded["wall_s"]
    again = load_benchmark("run_usage").main([str(result["path"])])
    assert again[0] == "trials: 3 on 2 cores, 4 slots" and again[-1].startswith(f"wall: {recorded['wall_s']:.1f} s = ")
    # The summary is printed after the run folders (a temporary folder by default) are gone.
    shutil.rmtree(tmp_path)
    text = "\n".join(bench.summary(result, cores=2))
    assert text.splitlines()[0] == "trials: 3 (Ray) / 3 (plain), cores 2"
    ratio = float(re.search(r"ratio a/b: ([\d.]+)", text).group(1))
    assert ratio == pytest.approx(result["wall_a"] / result["wall_b"], abs=0.01)
    assert "vs persistence" in text.splitlines()[-1]
    assert f"(a) compute floor: {recorded['cpu_s'] / 2:.1f} s" in text
    overhead = float(re.search(r"^Ray overhead per trial: (-?[\d.]+) core-s", text, re.MULTILINE).group(1))
    assert overhead == pytest.approx((2 * result["wall_a"] - recorded["cpu_s"]) / 3, abs=0.01)
    outside, inside = map(float, re.search(r"outside the trial phase (-?[\d.]+), in it (-?[\d.]+);", text).groups())
    assert outside == pytest.approx(2 * (result["wall_a"] - recorded["trial_phase_s"]) / 3, abs=0.01)
    assert outside + inside == pytest.approx(overhead, abs=0.02)


def test_scaling_runs_grid_and_optuna_through_the_study(ray_cluster, tmp_path):
    bench = load_benchmark("scaling")
    text = bench.main(["--smoke-test", "--epochs", "1", "--search-epochs", "1", "--samples", "2",
                       "--out", str(tmp_path)])
    assert re.search(r"^\| 1 \| [\d.]+ \| [\d.]+ \| 1\.00 \|$", text, re.MULTILINE)
    assert re.search(r"^\| grid \| 1 \| ", text, re.MULTILINE)
    assert re.search(r"^\| optuna\+asha \| 2 \| ", text, re.MULTILINE)
    for name in ("grid-c1", "grid-c2", "search-grid", "search-optuna"):
        assert (tmp_path / name / "latest" / "study.json").exists()


def test_patience_table_reads_what_early_stopping_would_have_chosen(tmp_path):
    from fakerun import q1_run

    bench = load_benchmark("q1_patience")
    assert bench.stopped([3.0, 2.0, 2.5, 2.6, 1.0], patience=2) == (2, 4)  # stops before the late best
    assert bench.stopped([3.0, 2.0, 2.5, 2.6, 1.0], patience=3) == (5, 5)
    table = bench.table(q1_run(tmp_path / "q1", seeds=2))
    # The fake curves fall every epoch: every patience keeps the full run's choice.
    assert (table["same_epoch"] == 1.0).all() and (table["trials"] == 6).all()


def test_the_cpu_breakdown_names_rays_processes_and_takes_the_trial_loops_out_of_the_workers():
    bench = load_benchmark("q1_grid")
    line = bench.breakdown({"trial workers": 10.0, "driver": 3.0, "raylet": 1.5}, trial_cpu_s=7.0, trials=3)
    assert line == ("(a) CPU per trial beyond the trial loops, by process: trial workers 1.000 core-s, "
                    "driver 1.000 core-s, raylet 0.500 core-s")
    lines = {"/usr/bin/python -u .../ray/dashboard/agent.py --node-ip-address=127.0.0.1": "dashboard agent",
             ".../ray/core/src/ray/raylet/raylet --raylet_socket_name=...": "raylet",
             "ray::ImplicitFunc.train": "trial workers", "python .../ray/dashboard/dashboard.py": "dashboard",
             "/usr/bin/python3 -c pass": "other",
             # A worker before it names itself, and an agent: both are told the raylet's socket.
             ".../ray/_private/workers/default_worker.py --raylet-name=/tmp/ray/session_1/sockets/raylet":
                 "trial workers",
             ".../ray/_private/runtime_env/agent/main.py --raylet-name=/tmp/ray/sockets/raylet": "runtime-env agent"}
    for cmdline, name in lines.items():
        assert bench.kind(type("P", (), {"cmdline": lambda self, c=cmdline: c.split()})()) == name
