"""q2 benchmark: validation and test loss reached within a fixed training-time budget on Tiny Shakespeare.

    python benchmarks/q2_budget.py                       # (a) and (b), 10 minutes each, 2 threads
    python benchmarks/q2_budget.py --only a --budget-s 120 --set a:lr=5e-3 --set a:cell=gru

(a) the default (sequence) formulation with CharConfig's tuned defaults;
(b) the paper's formulation and model as the q2 grid trains it (scaled
100-character windows, one prediction each, LSTM(256) x 2, dropout 0.2,
Adam 1e-3), at batch 128. Both on cased text, split 90/5/5 into training,
validation and test parts. Each variant runs through the shared trial loop
(``run_trial`` with ``LocalSession(budget_s=...)``): rounds of
``--eval-steps`` updates, each followed by validation on the first
``--val-chars`` validation characters, until the budget (training plus
validation seconds) is spent; then the whole test part is scored with the
best round's weights. Learning-rate schedules run over the budget.

Timings are only worth comparing when the process had the cores it asked
for: the CPU share (process CPU seconds / wall seconds) is printed, and a
run below ``--min-cpu-share`` (0.95 x --threads: 1.9 at the default 2) is
marked not counted, and the script exits with status 1.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import torch

from studies.q2 import STUDY
from trainables.chargen.config import CharConfig
from trainables.chargen.data import load_corpus
from trainables.chargen.task import TASK
from trainables.chargen.trainer import CharTrainer
from trainables.common import metrics as M
from trainables.common import runtime
from trainables.common.loop import LocalSession, run_trial

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "tinyshakespeare" / "input.txt"
# The grid's model and optimisation, without its CPU-sized rounds and lower-casing (both variants see cased text).
PAPER = {k: v for k, v in STUDY.paper.items() if k not in ("epochs", "steps_per_epoch", "lowercase")}
VARIANTS = {
    "a": ("default formulation, tuned defaults", {}),
    "b": ("paper formulation", {**PAPER, "formulation": "paper", "batch_size": 128}),
}
THRESHOLDS = (2.0, 1.8, 1.6, 1.535, 1.47)


class PrintingSession(LocalSession):
    """A LocalSession that prints each round as it ends."""

    def report(self, metrics, state=None, files=None) -> None:
        super().report(metrics, state, files)
        m = metrics
        print(f"  {m[M.TIME_TOTAL]:6.0f} s  {m[M.TRAIN_STEPS]:6d} steps  {m[M.TRAIN_CHARS] / m[M.TIME_TOTAL]:7.0f} char/s"
              f"  val/loss {m[M.VAL_LOSS]:.4f}  load {os.getloadavg()[0]:.1f}", flush=True)


def run_variant(key: str, overrides: dict, corpus, args) -> dict:
    label, base = VARIANTS[key]
    cfg = CharConfig(**{**base, "val_max_chars": args.val_chars, "seed": args.seed, "epochs": 10**6,
                        "steps_per_epoch": args.eval_steps, "checkpoint_every": 10**6, **overrides})
    torch.set_num_threads(args.threads)
    runtime.seed_everything(cfg.seed)
    trainer = CharTrainer(cfg, corpus, torch.device("cpu"), schedule_s=args.budget_s)
    params = sum(p.numel() for p in trainer.model.parameters())
    print(f"({key}) {label}: {params / 1e6:.2f}M parameters, {cfg}", flush=True)
    load0 = os.getloadavg()[0]
    with tempfile.TemporaryDirectory(prefix="q2-budget-") as folder:
        session = PrintingSession(folder, budget_s=args.budget_s)
        cpu0, wall0 = time.process_time(), time.perf_counter()
        final = run_trial(trainer, cfg, session, TASK.metric, TASK.mode)
        cpu_s, wall_s = time.process_time() - cpu0, time.perf_counter() - wall0
    curve = [{"round": r[M.EPOCH], "seconds": round(r[M.TIME_TOTAL], 1), "chars": r[M.TRAIN_CHARS],
              "steps": r[M.TRAIN_STEPS], "val_loss": round(r[M.VAL_LOSS], 4), "val_acc": round(r[M.VAL_ACC], 4)}
             for r in session.reports]
    share = cpu_s / wall_s
    return {"variant": key, "label": label, "config": {**base, **overrides}, "parameters": params,
            "threads": args.threads, "budget_s": args.budget_s, "steps": trainer.step, "chars": trainer.chars,
            "chars_per_s": round(trainer.chars / final[M.TIME_TOTAL]), "cpu_s": round(cpu_s, 1),
            "wall_s": round(wall_s, 1), "cpu_share": round(share, 2), "counted": share >= args.min_cpu_share,
            "load_avg_start": load0, "load_avg_end": os.getloadavg()[0],
            "val_loss": curve[-1]["val_loss"], "val_chars": len(trainer.val),
            "best_val_loss": min(c["val_loss"] for c in curve), "best_round": final[M.BEST_EPOCH],
            "test_loss": round(final[M.TEST_LOSS], 4), "test_bpc": round(final[M.TEST_LOSS] / math.log(2), 4),
            "test_acc": round(final[M.TEST_ACC], 4), "test_chars": final[M.TEST_CHARS], "curve": curve,
            "seconds_to": {str(t): next((c["seconds"] for c in curve if c["val_loss"] <= t), None) for t in THRESHOLDS}}


def parse_sets(items: list[str], parser: argparse.ArgumentParser) -> dict[str, dict]:
    """``V:FIELD=VALUE`` -> {V: {FIELD: value}}, values read as JSON where they are JSON."""
    out: dict[str, dict] = {k: {} for k in VARIANTS}
    for item in items:
        key, _, pair = item.partition(":")
        field, sep, raw = pair.partition("=")
        if key not in VARIANTS or not sep:
            parser.error(f"--set {item!r}: expected a:FIELD=VALUE or b:FIELD=VALUE")
        try:
            out[key][field] = json.loads(raw)
        except json.JSONDecodeError:
            out[key][field] = raw
    return out


def main(argv: list[str] | None = None) -> list[dict]:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data", default=str(DATA), help="Tiny Shakespeare input.txt")
    p.add_argument("--budget-s", type=float, default=600.0, help="training and validation seconds per variant")
    p.add_argument("--threads", type=int, default=2, help="torch threads (the machine has 2 cores)")
    p.add_argument("--only", choices=tuple(VARIANTS), default=None, help="run one variant")
    p.add_argument("--eval-steps", type=int, default=200, help="updates per round (validation after each)")
    p.add_argument("--val-chars", type=int, default=4000, help="validation characters scored after each round")
    p.add_argument("--min-cpu-share", type=float, default=None,
                   help="count a run only when it got this many cores on average (default 0.95 x --threads)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--set", action="append", default=[], metavar="V:FIELD=VALUE",
                   help="override a CharConfig field of variant V (a or b), e.g. a:hidden_size=384")
    p.add_argument("--out", default="benchmarks/q2_budget.json")
    args = p.parse_args(argv)
    if args.min_cpu_share is None:
        args.min_cpu_share = 0.95 * args.threads
    overrides = parse_sets(args.set, p)
    corpus = load_corpus(args.data)
    print(f"{args.data}: {len(corpus.text):,} characters; {os.cpu_count()} CPUs, load {os.getloadavg()}", flush=True)
    results = [run_variant(k, overrides[k], corpus, args) for k in VARIANTS if args.only in (None, k)]
    Path(args.out).write_text(json.dumps({"date": time.strftime("%Y-%m-%d %H:%M"), "argv": sys.argv,
                                          "results": results}, indent=2))
    for r in results:
        verdict = "" if r["counted"] else f"  NOT COUNTED: CPU share below {args.min_cpu_share:.2f} (machine shared?)"
        print(f"({r['variant']}) {r['label']}: val/loss {r['val_loss']} on {r['val_chars']} chars, test/loss "
              f"{r['test_loss']} on the whole test part ({r['test_chars']} chars); {r['chars_per_s']} char/s, "
              f"{r['steps']} steps, CPU share {r['cpu_share']}{verdict}")
    return results


if __name__ == "__main__":
    raise SystemExit(0 if all(r["counted"] for r in main()) else 1)
