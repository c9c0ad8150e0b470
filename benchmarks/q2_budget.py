"""q2 benchmark: validation loss reached within a fixed training-time budget on Tiny Shakespeare.

    python benchmarks/q2_budget.py                       # (a) and (b), 10 minutes each, 2 threads
    python benchmarks/q2_budget.py --only a --budget-s 120 --set a:lr=5e-3 --set a:cell=gru

(a) the default (sequence) formulation with CharConfig's tuned defaults;
(b) the report's formulation (scaled 100-character windows, one prediction
each, LSTM(256) x 2, dropout 0.2, batch 128, Adam 1e-3). Cased text, first
90% train, last 10% validation. Each variant trains for ``--budget-s``
seconds of wall-clock time (validation pauses the clock), is scored every
``--eval-every-s`` on the first ``--val-chars`` validation characters, and
(a) at the end on the whole validation part. Learning-rate schedules run
over the time budget. Also reported: characters per second and the CPU
seconds the process actually got (the load average says whether the
machine was shared).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import torch

from studies.q2 import REPORT_SETTINGS, parse_sets
from trainables.chargen.config import CharConfig
from trainables.chargen.data import load_corpus, prepare, val_targets
from trainables.chargen.trainable import Trainer
from trainables.common import runtime

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "tinyshakespeare" / "input.txt"
VARIANTS = {
    "a": ("default formulation, tuned defaults", {}),
    "b": ("report formulation", {**REPORT_SETTINGS, "formulation": "report", "batch_size": 128}),
}
THRESHOLDS = (2.0, 1.8, 1.6, 1.535, 1.47)


def run_variant(key: str, overrides: dict, corpus, args) -> dict:
    label, base = VARIANTS[key]
    cfg = CharConfig(**{**base, "val_max_chars": args.val_chars, "seed": args.seed, **overrides})
    torch.set_num_threads(args.threads)
    data = prepare(corpus, cfg)
    trainer = Trainer(cfg, data, torch.device("cpu"), runtime.seed_everything(cfg.seed), total_steps=10**9)
    targets = val_targets(data, cfg)
    params = sum(p.numel() for p in trainer.model.parameters())
    print(f"({key}) {label}: {params / 1e6:.2f}M parameters, {cfg}", flush=True)
    train_s, next_eval, curve = 0.0, args.eval_every_s, []
    cpu0, load0 = time.process_time(), os.getloadavg()[0]
    while train_s < args.budget_s:
        started = time.perf_counter()
        trainer.train_steps(1, progress=lambda done=train_s, t0=started: (done + time.perf_counter() - t0) / args.budget_s)
        train_s += time.perf_counter() - started
        if train_s >= next_eval or train_s >= args.budget_s:
            loss, acc = trainer.evaluate(targets)
            curve.append({"train_s": round(train_s, 1), "chars": trainer.chars, "steps": trainer.step,
                          "val_loss": round(loss, 4), "val_acc": round(acc, 4)})
            print(f"  ({key}) {train_s:6.0f} s  {trainer.step:6d} steps  {trainer.chars / train_s:7.0f} char/s  "
                  f"val/loss {loss:.4f}  load {os.getloadavg()[0]:.1f}", flush=True)
            next_eval += args.eval_every_s
    cpu_s = time.process_time() - cpu0
    result = {"variant": key, "label": label, "config": {**base, **overrides}, "parameters": params,
              "threads": args.threads, "budget_s": args.budget_s, "steps": trainer.step, "chars": trainer.chars,
              "chars_per_s": round(trainer.chars / train_s), "cpu_s": round(cpu_s), "cpu_share": round(cpu_s / train_s, 2),
              "load_avg_start": load0, "load_avg_end": os.getloadavg()[0],
              "val_loss": curve[-1]["val_loss"], "val_acc": curve[-1]["val_acc"], "val_chars": len(targets),
              "best_val_loss": min(c["val_loss"] for c in curve), "curve": curve,
              "seconds_to": {str(t): next((c["train_s"] for c in curve if c["val_loss"] <= t), None) for t in THRESHOLDS}}
    if cfg.formulation == "sequence" and args.full_val:  # the whole validation part is cheap to score here
        full = val_targets(data, CharConfig(**{**cfg.__dict__, "val_max_chars": 0}))
        loss, acc = trainer.evaluate(full)
        result.update(val_loss_full=round(loss, 4), val_acc_full=round(acc, 4), val_bpc_full=round(loss / math.log(2), 4),
                      val_chars_full=len(full))
        print(f"  ({key}) whole validation part ({len(full)} chars): val/loss {loss:.4f}", flush=True)
    return result


def main(argv: list[str] | None = None) -> list[dict]:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data", default=str(DATA), help="Tiny Shakespeare input.txt")
    p.add_argument("--budget-s", type=float, default=600.0, help="training seconds per variant")
    p.add_argument("--threads", type=int, default=2, help="torch threads (the machine has 2 cores)")
    p.add_argument("--only", choices=tuple(VARIANTS), default=None, help="run one variant")
    p.add_argument("--eval-every-s", type=float, default=60.0)
    p.add_argument("--val-chars", type=int, default=20_000, help="validation characters scored along the way")
    p.add_argument("--no-full-val", dest="full_val", action="store_false",
                   help="skip scoring (a) on the whole validation part at the end")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--set", action="append", default=[], metavar="V:FIELD=VALUE",
                   help="override a CharConfig field of variant V (a or b), e.g. a:hidden_size=384")
    p.add_argument("--out", default="benchmarks/q2_budget.json")
    args = p.parse_args(argv)
    overrides: dict[str, dict] = {k: {} for k in VARIANTS}
    for item in args.set:
        key, _, pair = item.partition(":")
        if key not in VARIANTS:
            p.error(f"--set {item!r}: start with a: or b:")
        overrides[key].update(parse_sets([pair]))
    corpus = load_corpus(args.data)
    print(f"{args.data}: {len(corpus.text):,} characters; {os.cpu_count()} CPUs, load {os.getloadavg()}", flush=True)
    results = [run_variant(k, overrides[k], corpus, args) for k in VARIANTS if args.only in (None, k)]
    Path(args.out).write_text(json.dumps({"date": time.strftime("%Y-%m-%d %H:%M"), "argv": sys.argv,
                                          "results": results}, indent=2))
    for r in results:
        print(f"({r['variant']}) {r['label']}: val/loss {r['val_loss']} on {r['val_chars']} chars"
              + (f", {r['val_loss_full']} on the whole validation part" if "val_loss_full" in r else "")
              + f"; {r['chars_per_s']} char/s, {r['steps']} steps, CPU share {r['cpu_share']}")
    return results


if __name__ == "__main__":
    main()
