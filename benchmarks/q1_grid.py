"""q1 grid through Ray Tune vs the same trials in one plain Python loop.

    python benchmarks/q1_grid.py --epochs 5
    python benchmarks/q1_grid.py --smoke-test        # the study's smoke test, both ways, in seconds

Runs the study's grid (a) through its own entry point (``studies/q1.py``'s
``Study``) on a local Ray with its own resources per trial, and (b) sequentially
without Ray, every arm through the same shared trial loop
(``trainables.common.task.train_trial`` with a ``LocalSession``) in one process
with PyTorch's default threads, then prints the wall-time ratio a/b (the
study's closing analysis is timed apart), the Ray overhead per trial
(the cores' seconds over the wall less the CPU seconds the trials spent in
the trial loop), the study's compute floor and slots busy
(``trainables.common.usage``), the peak resident memory of each, and the
best network against persistence.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import psutil

from analysis.runs.read import read_run
from studies import launch, q1
from trainables.common import metrics as M
from trainables.common import provenance, task, usage
from trainables.common.config import to_dict
from trainables.common.loop import LocalSession

# By command line; the raylet by its binary: workers and agents are told its socket (".../sockets/raylet").
KINDS = (("gcs_server", "GCS"), ("/raylet/raylet", "raylet"), ("dashboard/agent", "dashboard agent"),
         ("runtime_env/agent", "runtime-env agent"), ("dashboard", "dashboard"), ("log_monitor", "log monitor"),
         ("monitor.py", "autoscaler monitor"), ("ray::", "trial workers"), ("default_worker", "trial workers"))


def kind(p: psutil.Process) -> str:
    """Which of Ray's processes ``p`` is, by its command line (``KINDS``); "other" when none."""
    line = " ".join(p.cmdline())
    return next((name for mark, name in KINDS if mark in line), "other")


class Processes:
    """Peak summed RSS of this process and all its children (Ray's too), and the CPU seconds each kind of
    process spent: a process's last sample (every 0.2 s) counts once it is gone."""

    def __init__(self):
        self.peak, self._stop = 0, threading.Event()
        self.cpu: dict[int, tuple[str, float]] = {}

    def _sample(self):
        me = psutil.Process()
        while not self._stop.is_set():
            total = 0
            for p in [me] + me.children(recursive=True):
                try:
                    total += p.memory_info().rss
                    times = p.cpu_times()
                    name = "driver" if p.pid == me.pid else self.cpu.get(p.pid, (None,))[0] or kind(p)
                    self.cpu[p.pid] = (name, times.user + times.system)
                except psutil.Error:
                    pass
            self.peak = max(self.peak, total)
            time.sleep(0.2)

    def by_kind(self) -> dict[str, float]:
        out: dict[str, float] = {}
        for name, seconds in self.cpu.values():
            out[name] = out.get(name, 0.0) + seconds
        return dict(sorted(out.items(), key=lambda kv: -kv[1]))

    def __enter__(self):
        self._start = psutil.Process().cpu_times()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()
        name, seconds = self.cpu.get(os.getpid(), ("driver", 0.0))
        self.cpu[os.getpid()] = (name, seconds - self._start.user - self._start.system)  # this run's share


def study_arms(argv: list[str]):
    """The arms the study would run for ``argv``, and the prices it would load (its own code)."""
    ctx, plan = launch.prepare(q1.STUDY, argv)
    return plan.configs, q1.STUDY.load(ctx.options, plan.configs)


def plain_loop(arms, prices, folder: Path) -> list[dict]:
    """Every arm through the shared loop, one after the other, without Ray."""
    return [task.train_trial(q1.TASK, to_dict(arm), prices, LocalSession(folder / f"trial-{i}"))
            for i, arm in enumerate(arms)]


def run_benchmark(argv: list[str], storage: Path) -> dict:
    """Both ways on the same arms; the numbers ``summary`` prints."""
    import ray

    started_ray = not ray.is_initialized()
    study_argv = [*argv, "--storage-path", str(storage), "--name", "bench"]
    import analysis.report.build

    timed, finish = {}, analysis.report.build.finish_run

    def timed_finish(path, quiet=False):  # the study's closing analysis, timed apart from the trials
        started = time.perf_counter()
        out = finish(path, quiet)
        timed["report_s"] = time.perf_counter() - started
        return out

    analysis.report.build.finish_run = timed_finish
    try:
        with Processes() as mem_a:
            started = time.perf_counter()
            path = q1.main(study_argv)
            wall_a = time.perf_counter() - started - timed["report_s"]
    finally:
        analysis.report.build.finish_run = finish
    report_s = timed["report_s"]
    trials = read_run(path).trials
    # What the trials cost, read now: the run folders may be a temporary folder gone by the summary.
    slots = (provenance.read(path).get("usage") or {}).get("slots") or 1
    ray_use = usage.measure(path, os.cpu_count() or 1, slots, wall_a)
    if started_ray:
        ray.shutdown()  # (b) gets the machine to itself
    arms, prices = study_arms(study_argv)
    with Processes() as mem_b:
        started = time.perf_counter()
        plain = plain_loop(arms, prices, storage / "plain")
        wall_b = time.perf_counter() - started
    return {"trials": trials, "plain": plain, "usage": ray_use, "wall_a": wall_a, "wall_b": wall_b,
            "report_s": report_s, "peak_a": mem_a.peak, "peak_b": mem_b.peak, "path": path,
            "cpu_a": mem_a.by_kind()}


def summary(r: dict, cores: int) -> list[str]:
    trials, plain = r["trials"], r["plain"]
    ray_use = r["usage"]
    plain_cpu = sum(p[M.TIME_CPU] for p in plain)
    best = trials.loc[trials[M.VAL_MAPE].idxmin()]
    settings = ", ".join(f"{c[len('config/'):]}={best[c]}" for c in trials.columns
                         if c.startswith("config/") and trials[c].nunique() > 1)
    return [
        f"trials: {len(trials)} (Ray) / {len(plain)} (plain), cores {cores}",
        (f"(a) Ray Tune wall: {r['wall_a']:.1f} s (Ray start-up included; the closing analysis after it took "
         f"{r['report_s']:.1f} s more), peak RSS {r['peak_a'] / 2**20:.0f} MiB"),
        f"(b) plain loop wall: {r['wall_b']:.1f} s, peak RSS {r['peak_b'] / 2**20:.0f} MiB",
        f"ratio a/b: {r['wall_a'] / r['wall_b']:.2f}",
        # The machine's core-seconds over the wall that no trial loop spent: starting Ray, workers and trials;
        # apart, before the first trial's start and after the last one's end, and in between.
        (f"Ray overhead per trial: {(cores * r['wall_a'] - ray_use.cpu_s) / len(trials):.2f} core-s "
         f"(outside the trial phase {cores * (r['wall_a'] - ray_use.trial_phase_s) / len(trials):.2f}, "
         f"in it {(cores * ray_use.trial_phase_s - ray_use.cpu_s) / len(trials):.2f}; "
         f"the plain loop's, outside its trials: {(cores * r['wall_b'] - plain_cpu) / len(plain):.2f} core-s)"),
        *(f"(a) {line}" for line in ray_use.lines()[1:]),
        breakdown(r["cpu_a"], ray_use.cpu_s, len(trials)),
        (f"best trial on validation ({settings or 'the only setting'}): test MAPE {best[M.TEST_MAPE]:.3f}% vs "
         f"persistence {best[M.PERSISTENCE_TEST_MAPE]:.3f}% "
         f"(ratio {best[M.TEST_MAPE] / best[M.PERSISTENCE_TEST_MAPE]:.3f})"),
    ]


def breakdown(cpu: dict[str, float], trial_cpu_s: float, trials: int) -> str:
    """(a)'s CPU by process, per trial: the trial workers' beyond what the trial loops spent, then Ray's own."""
    parts = {**cpu, "trial workers": cpu.get("trial workers", 0.0) - trial_cpu_s}
    return "(a) CPU per trial beyond the trial loops, by process: " + ", ".join(
        f"{name} {seconds / trials:.3f} core-s" for name, seconds in parts.items())


def main(argv: list[str] | None = None) -> list[str]:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--epochs", type=int, default=5)
    p.add_argument("--smoke-test", action="store_true", help="the study's smoke test instead of its grid")
    p.add_argument("--out", default=None, help="run folders (default: a temporary folder)")
    args = p.parse_args(argv)
    # The fixed design (every arm at 5 seeds): both ways run the same trials.
    study_argv = ["--epochs", str(args.epochs)] + (["--smoke-test"] if args.smoke_test else ["--seeds", "5"])
    with tempfile.TemporaryDirectory(prefix="q1-grid-") as tmp:
        result = run_benchmark(study_argv, Path(args.out or tmp))
    lines = summary(result, os.cpu_count() or 1)
    print("\n".join(lines))
    return lines


if __name__ == "__main__":
    main()
