"""q1 grid through Ray Tune vs the same trials in one plain Python loop.

    python benchmarks/q1_grid.py --epochs 5

Runs the report's 36-trial grid (a) through studies/q1.py on a local Ray
with one CPU per trial, and (b) sequentially without Ray, in one process
with PyTorch's default threads, then prints the wall-time ratio a/b (the
study's closing report is timed apart), the Ray overhead per trial
(core-seconds outside the training function) and the peak resident memory
of each.
"""

from __future__ import annotations

import argparse
import itertools
import os
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import psutil
import torch

from analysis.results import load_run
from studies import q1
from trainables.common import metrics as M
from trainables.common import runtime
from trainables.stock.config import StockConfig
from trainables.stock.data import load_prices, make_splits
from trainables.stock.metrics import make_loss
from trainables.stock.model import build_model
from trainables.stock.trainable import OPTIMIZERS, evaluate, final_evaluation, train_epoch


class PeakMemory:
    """Peak summed RSS of this process and all its children (Ray's too)."""

    def __init__(self):
        self.peak, self._stop = 0, threading.Event()

    def _sample(self):
        me = psutil.Process()
        while not self._stop.is_set():
            procs = [me] + me.children(recursive=True)
            total = 0
            for p in procs:
                try:
                    total += p.memory_info().rss
                except psutil.Error:
                    pass
            self.peak = max(self.peak, total)
            time.sleep(0.2)

    def __enter__(self):
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()


def plain_trial(config: dict, prices) -> dict:
    """The trainable's loop without Ray: same data, model, steps and evaluation."""
    cfg = StockConfig(**config)
    gen = runtime.seed_everything(cfg.seed)
    data = make_splits(prices, cfg)
    model = build_model(cfg, len(data.tickers))
    opt = OPTIMIZERS[cfg.optimizer](model.parameters(), lr=cfg.lr)
    loss_fn = make_loss(cfg.loss, data.y_min, data.y_scale)
    cpu = torch.device("cpu")
    precision = runtime.MixedPrecision(cpu, requested=False)
    for _ in range(cfg.epochs):
        train_epoch(model, opt, loss_fn, data, cfg.batch_size, gen, cpu, precision)
        evaluate(model, loss_fn, data, data.val, cpu, precision)
    return final_evaluation(model, loss_fn, data, cpu, precision)[0]


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--epochs", type=int, default=5)
    args = p.parse_args()
    prices = load_prices()
    grid = [dict(zip(q1.GRID, values)) for values in itertools.product(*q1.GRID.values())]

    report_s = []  # the study's closing tables, plots and HTML, timed apart from the trials
    write_report = q1.report

    def timed_report(*a, **kw):
        started = time.perf_counter()
        write_report(*a, **kw)
        report_s.append(time.perf_counter() - started)

    q1.report = timed_report
    with tempfile.TemporaryDirectory() as tmp, PeakMemory() as mem_a:
        started = time.perf_counter()
        q1.main(["--epochs", str(args.epochs), "--storage-path", tmp, "--name", "bench"])
        wall_a = time.perf_counter() - started - report_s[0]
        trials = load_run(Path(tmp) / "bench").trials
    inside = trials["time_total_s"].sum()  # Ray's own clock of time inside the function

    import ray

    ray.shutdown()
    torch.set_num_threads(os.cpu_count() or 1)
    with PeakMemory() as mem_b:
        started = time.perf_counter()
        results = [plain_trial({**c, "epochs": args.epochs, "seed": 0}, prices) for c in grid]
        wall_b = time.perf_counter() - started

    cores = os.cpu_count() or 1
    best = trials.loc[trials[M.VAL_MAPE].idxmin()]
    print(f"trials: {len(trials)} (Ray) / {len(results)} (plain), epochs {args.epochs}, cores {cores}")
    print(f"(a) Ray Tune wall: {wall_a:.1f} s (Ray start-up included; the report after it took {report_s[0]:.1f} s more), "
          f"peak RSS {mem_a.peak / 2**20:.0f} MiB")
    print(f"(b) plain loop wall: {wall_b:.1f} s, peak RSS {mem_b.peak / 2**20:.0f} MiB")
    print(f"ratio a/b: {wall_a / wall_b:.2f}")
    print(f"Ray overhead per trial: {(cores * wall_a - inside) / len(trials):.2f} core-s")
    tickers = [c.split("/")[-1] for c in trials.columns if c.startswith(M.TEST_MAPE + "/")]
    for t in tickers:
        print(f"best trial ({best['config/cell']}, {best['config/loss']}, {best['config/optimizer']}, "
              f"dropout {best['config/dropout']}) test MAPE {t}: {best[f'{M.TEST_MAPE}/{t}']:.2f}% "
              f"vs persistence {best[f'{M.BASELINE_TEST_MAPE}/{t}']:.2f}%")


if __name__ == "__main__":
    main()
