"""Scaling of the q1 study: trial throughput with 1 and 2 concurrent trials, and
Optuna TPE + ASHA against the full grid (time to a configuration within 5% of
the grid's best validation error).

    PYTHONPATH=. python benchmarks/scaling.py                   # about 30 min on 2 cores (72-trial grid)
    PYTHONPATH=. python benchmarks/scaling.py --epochs 2 --search-epochs 4 --samples 6   # quick look
    PYTHONPATH=. python benchmarks/scaling.py --smoke-test     # one tiny trial per grid run: the code path only

Every run is the study itself (``studies/q1.py``'s ``Study``, without its
closing report), in one process on one local Ray, side by side, so the
numbers compare even on a busy machine. Results go to stdout as a Markdown
section for benchmarks/RESULTS.md.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from analysis.runs.read import read_run
from trainables.common import metrics as M

METRIC = M.VAL_MAPE


def run_q1(argv: list[str]) -> float:
    """Wall seconds of one q1 study's trials (Ray already up, so start-up is not counted)."""
    from studies import q1

    started = time.perf_counter()
    q1.main(argv)
    return time.perf_counter() - started


def time_to_within(run_dir: Path, target: float, started: float) -> float:
    """Seconds from ``started`` until some trial first reported METRIC <= target."""
    history = read_run(run_dir).every_record()  # trials ASHA stopped count: they reached it too
    hits = history[history[METRIC] <= target]
    return float(hits["timestamp"].min() - started) if len(hits) else float("nan")


def main(argv: list[str] | None = None) -> str:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--epochs", type=int, default=5, help="epochs per trial for the throughput runs")
    p.add_argument("--search-epochs", type=int, default=20, help="epochs per trial for grid vs Optuna")
    p.add_argument("--samples", type=int, default=20, help="Optuna trials")
    p.add_argument("--smoke-test", action="store_true",
                   help="the study's smoke grid at one cell (one trial), tiny networks, instead of the full grid")
    p.add_argument("--out", default=None, help="run folders (default: a temporary folder)")
    args = p.parse_args(argv)

    import ray

    started_ray = not ray.is_initialized()
    if started_ray:
        ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False,
                 runtime_env={"env_vars": {"PYTHONPATH": str(Path(__file__).resolve().parents[1])}})
    storage = Path(args.out or tempfile.mkdtemp(prefix="scaling-"))
    base = ["--storage-path", str(storage)] + (["--hidden-size", "8", "--cell", "gru"] if args.smoke_test else [])
    grid = ["--smoke-test"] if args.smoke_test else ["--design", "factorial", "--seeds", "1"]

    rows = []
    for conc in (1, 2):
        wall = run_q1([*base, *grid, "--epochs", str(args.epochs), "--max-concurrent", str(conc),
                       "--name", f"grid-c{conc}"])
        n = len(read_run(storage / f"grid-c{conc}").every_trial())
        rows.append((conc, n, wall))
        print(f"grid, {conc} concurrent: {n} trials in {wall:.1f} s", flush=True)

    started = time.time()
    grid_wall = run_q1([*base, *grid, "--epochs", str(args.search_epochs), "--max-concurrent", "2",
                        "--name", "search-grid"])
    grid_trials = read_run(storage / "search-grid").every_trial()
    best, grid_n = float(grid_trials[METRIC].min()), len(grid_trials)
    grid_hit = time_to_within(storage / "search-grid", best * 1.05, started)
    started = time.time()
    opt_wall = run_q1([*base, "--search", "optuna", "--num-samples", str(args.samples), "--epochs",
                       str(args.search_epochs), "--max-concurrent", "2", "--name", "search-optuna"])
    opt = read_run(storage / "search-optuna").every_trial()
    opt_hit = time_to_within(storage / "search-optuna", best * 1.05, started)
    if started_ray:
        ray.shutdown()

    text = report(args, rows, best, grid_wall, grid_hit, grid_n, opt_wall, opt_hit,
                  len(opt), float(opt[METRIC].min()))
    print(text)
    return text


def report(args, rows, best, grid_wall, grid_hit, grid_n, opt_wall, opt_hit, opt_n, opt_best) -> str:
    (c1, n1, w1), (c2, n2, w2) = rows
    lines = [
        "## Scaling",
        "",
        (f"Machine: {os.cpu_count()} cores, {platform.machine()}, no GPU; shared with other jobs, so absolute "
         f"times are noisy (ratios come from one run, side by side). Date: {date.today()}."),
        ("Command: `PYTHONPATH=. python benchmarks/scaling.py "
         f"--epochs {args.epochs} --search-epochs {args.search_epochs} --samples {args.samples}"
         f"{' --smoke-test' if args.smoke_test else ''}`"),
        "",
        f"### Trial throughput, q1 grid ({n1} trials, {args.epochs} epochs each, 1 CPU per trial)",
        "",
        "| concurrent trials | wall (s) | trials / min | speed-up |",
        "|---|---|---|---|",
        f"| {c1} | {w1:.1f} | {60 * n1 / w1:.2f} | 1.00 |",
        f"| {c2} | {w2:.1f} | {60 * n2 / w2:.2f} | {(n2 / w2) / (n1 / w1):.2f} |",
        "",
        f"### Search: Optuna TPE + ASHA against the full grid ({args.search_epochs} epochs per trial, 2 concurrent)",
        "",
        f"Target: {METRIC} within 5% of the grid's best ({best:.3f} -> <= {1.05 * best:.3f}).",
        "",
        "| search | trials | wall (s) | best val MAPE | time to target (s) | share of grid wall |",
        "|---|---|---|---|---|---|",
        f"| grid | {grid_n} | {grid_wall:.1f} | {best:.3f} | {grid_hit:.1f} | {grid_hit / grid_wall:.2f} |",
        f"| optuna+asha | {opt_n} | {opt_wall:.1f} | {opt_best:.3f} | {opt_hit:.1f} | {opt_hit / grid_wall:.2f} |",
        "",
        ("Goal: Optuna reaches the target in under a third of the grid's wall time "
         f"({'met' if opt_hit < grid_wall / 3 else 'not met'}: {opt_hit / grid_wall:.2f}). "
         "No GPU here: the GPU-against-CPU comparison is not measured."),
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    main()
