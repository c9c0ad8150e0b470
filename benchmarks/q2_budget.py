"""q2 benchmark: held-out loss of one character model after a fixed training-time budget on Tiny Shakespeare.

    python benchmarks/q2_budget.py                                  # the q2 search's best, 600 s of training
    python benchmarks/q2_budget.py --budget-s 120 --cell lstm --set hidden_size=384
    python benchmarks/q2_budget.py --preset paper                   # the q2 grid's paper formulation and model

One configuration (the best of the q2 study's search, ``--preset config`` for
CharConfig's defaults or ``--preset paper``, changed by
any config flag or ``--set FIELD=VALUE``) trains through the shared trial
loop with ``budget_s = --budget-s``: rounds of ``--eval-steps`` updates, each
followed by validation on the whole validation part (``--val-chars N``: its
first N characters; the paper preset: 4,000, as it runs a window per scored
character), until the training seconds (validation is off the clock) reach the budget;
the learning-rate schedule runs over those seconds. The text is cased and
split 90/5/5 in order. With the best round's weights it then scores, each
whole and as separate numbers, in nats per character:

- the test part, the last 5% of the corpus (what a q2 trial reports);
- the last 10%, the validation and test parts together (the split nanoGPT
  reports its validation loss on), and prints exactly which characters
  those are and how they were scored.

``--levers`` measures CPU speed levers instead: characters per second of
training steps of the same configuration for each arm (threads, bfloat16
autocast, ``torch.compile`` with its compile time), the arms interleaved
``--repeats`` times for ``--arm-s`` seconds each, so a shared machine's load
falls on all of them alike. A bfloat16 arm is measured only where the CPU computes
the cell in bfloat16 (probed; e.g. not on AVX2-only CPUs, nor the GRU anywhere
today) and otherwise reported as unsupported here; every output names the
precision that ran and the CPU's capability (``AVX2``, ``AVX512``):

    python benchmarks/q2_budget.py --levers --cell gru --arm-s 10 --repeats 2

Timings are only worth comparing when the process had the cores it asked
for: the CPU share (process CPU seconds / wall seconds) is printed, and a
run below ``--min-cpu-share`` (0.95 x --threads: 1.9 at the default 2) is
marked not counted, and the script exits with status 1.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import torch

from studies.cli import add_dataclass_flags, chosen
from trainables.chargen.config import CharConfig
from trainables.chargen.data import CharData, held_out_part, load_corpus, split_sizes, whole_test_part
from trainables.chargen.paper import MODEL as PAPER_SETTINGS
from trainables.chargen.task import TASK
from trainables.chargen.trainer import CharTrainer, stream_layout
from trainables.common import checkpoint, runtime
from trainables.common import metrics as M
from trainables.common.loop import LocalSession, run_trial

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "tinyshakespeare" / "input.txt"
# The grid's model and optimisation, without its CPU-sized rounds and lower-casing.
PAPER = {k: v for k, v in PAPER_SETTINGS.items() if k not in ("epochs", "steps_per_epoch", "lowercase")}
# The best validation loss of the q2 study's own search at equal compute (30 trials of 150 training seconds,
# Optuna TPE + ASHA; command and run folder in benchmarks/RESULTS.md, "q2 tuned by its own search").
SEARCHED = {"formulation": "sequence", "cell": "lstm", "num_layers": 1, "hidden_size": 384, "embed_size": 32,
            "seq_len": 64, "batch_size": 64, "dropout": 0.009, "lr": 9.3e-3, "grad_clip": 1.0,
            "lr_schedule": "cosine", "cpu_bf16": True}
PAPER_PRESET = {**PAPER, "formulation": "paper", "batch_size": 128, "val_max_chars": 4000}
PRESETS = {"searched": SEARCHED, "config": {}, "paper": PAPER_PRESET}
# What every run shares: cased text, the 90/5/5 split, rounds until the budget ends the trial.
FIXED = {"lowercase": False, "val_fraction": 0.05, "test_fraction": 0.05, "epochs": 10**6,
         "checkpoint_every": 10**6, "fail_at_epoch": -1}
THRESHOLDS = (2.0, 1.8, 1.6, 1.535, 1.47)


class PrintingSession(LocalSession):
    """A LocalSession that prints each round as it ends."""

    def record(self, metrics, state=None, files=None) -> None:
        super().record(metrics, state, files)
        m = metrics
        print(f"  {m[M.TIME_TRAIN]:6.0f} s training ({m[M.TIME_TOTAL]:4.0f} s with validation)  {m[M.TRAIN_STEPS]:6d} "
              f"steps  {m[M.TRAIN_CHARS] / m[M.TIME_TRAIN]:7.0f} char/s  val/loss {m[M.VAL_LOSS]:.4f}"
              f"  load {os.getloadavg()[0]:.1f}", flush=True)


def describe_part(name: str, corpus_text: str, start: int, unknown: int, scored: torch.Tensor,
                  trainer: CharTrainer) -> str:
    """Exactly which characters a score covers: offsets in the corpus, count, the rule, both ends."""
    data: CharData = trainer.data
    stop = len(corpus_text)
    text = data.vocab.decode(data.ids[scored])
    if trainer.cfg.formulation == "paper":
        how = f"each from the window of the {trainer.cfg.seq_len} characters before it"
    else:
        streams, per, rest = stream_layout(len(scored))
        how = (f"in {streams} contiguous streams of {per:,}" + (f" (+{rest:,} in one more)" if rest else "")
               + f", the state carried; each stream first reads the {trainer.warm_chars(int(scored[0]))} "
               "characters before it, unscored")
    return (f"{name}: corpus characters [{start:,}, {stop:,}) of {stop:,}, cased; {len(scored):,} scored, "
            f"{unknown:,} outside the training vocabulary ({stop - start - len(scored):,} of them dropped); {how}; "
            f"first {text[:30]!r}, last {text[-30:]!r}")


def held_out_scores(trainer: CharTrainer, folder: str, corpus_text: str) -> dict:
    """Test part and last 10%, with the best round's weights (from the final checkpoint)."""
    best = checkpoint.load_state(folder)["progress"]["best_model"]
    if best is not None:
        trainer.model.load_state_dict(best)
    n_train, n_val, n_test = split_sizes(len(corpus_text), trainer.cfg)
    unknown_val, unknown_test = (round(trainer.data.unknown[k] * n) for k, n in (("val", n_val), ("test", n_test)))
    out = {}
    for key, label, targets, start, unknown in (
            ("test", "test part (last 5%)", whole_test_part(trainer.data), n_train + n_val, unknown_test),
            ("last10", "last 10% (validation + test parts)", held_out_part(trainer.data), n_train,
             unknown_val + unknown_test)):
        loss, acc = trainer.evaluate(targets)
        scored = describe_part(label, corpus_text, start, unknown, targets, trainer)
        if key == "last10" and int(len(corpus_text) * 0.9) != start:  # each 5% part is rounded down
            scored += f" (nanoGPT's last 10% starts at {int(len(corpus_text) * 0.9):,})"
        out[key] = {"loss": round(loss, 4), "bpc": round(loss / math.log(2), 4), "acc": round(acc, 4),
                    "chars": len(targets), "span": [start, len(corpus_text)], "unknown": unknown, "scored": scored}
    return out


def run(cfg: CharConfig, corpus, args) -> dict:
    torch.set_num_threads(args.threads)
    runtime.seed_everything(cfg.seed)
    trainer = CharTrainer(cfg, corpus, torch.device("cpu"))
    params = sum(p.numel() for p in trainer.model.parameters())
    print(f"{params / 1e6:.2f}M parameters, {args.threads} threads, {cfg.budget_s:g} s of training in "
          f"{trainer.precision_name} (CPU: {runtime.cpu_capability()}); {cfg}", flush=True)
    load0 = os.getloadavg()[0]
    with tempfile.TemporaryDirectory(prefix="q2-budget-") as folder:
        session = PrintingSession(folder)
        cpu0, wall0 = time.process_time(), time.perf_counter()
        final = run_trial(trainer, cfg, session, TASK.metric, TASK.mode)
        cpu_s, wall_s = time.process_time() - cpu0, time.perf_counter() - wall0
        scores = held_out_scores(trainer, folder, corpus.text)
    curve = [{"round": r[M.EPOCH], "train_s": round(r[M.TIME_TRAIN], 1), "total_s": round(r[M.TIME_TOTAL], 1),
              "chars": r[M.TRAIN_CHARS], "steps": r[M.TRAIN_STEPS], "val_loss": round(r[M.VAL_LOSS], 4),
              "val_acc": round(r[M.VAL_ACC], 4)} for r in session.records]
    share = cpu_s / wall_s
    assert scores["test"]["loss"] == round(final[M.TEST_LOSS], 4)  # the loop scored the same weights
    return {"config": dataclasses.asdict(cfg), "preset": args.preset, "parameters": params, "threads": args.threads,
            "precision": trainer.precision_name, "cpu_capability": runtime.cpu_capability(),
            "budget_s": cfg.budget_s, "steps": trainer.step, "chars": trainer.chars,
            "chars_per_s": round(trainer.chars / final[M.TIME_TRAIN]), "cpu_s": round(cpu_s, 1),
            "wall_s": round(wall_s, 1), "cpu_share": round(share, 2), "counted": share >= args.min_cpu_share,
            "load_avg_start": load0, "load_avg_end": os.getloadavg()[0],
            "val_loss": curve[-1]["val_loss"], "val_chars": len(trainer.val),
            "best_val_loss": min(c["val_loss"] for c in curve), "best_round": final[M.BEST_EPOCH],
            "test_loss": scores["test"]["loss"], "test_chars": scores["test"]["chars"],
            "last10_loss": scores["last10"]["loss"], "last10_chars": scores["last10"]["chars"],
            "scores": scores, "curve": curve,
            "train_s_to": {str(t): next((c["train_s"] for c in curve if c["val_loss"] <= t), None) for t in THRESHOLDS}}


FP32, BF16 = {"cpu_bf16": False}, {"cpu_bf16": True}  # each arm sets it: the preset may ask for either
LEVER_ARMS = {  # name -> (config changes, torch threads, torch.compile the model)
    "fp32-1t": (FP32, 1, False), "fp32-2t": (FP32, 2, False),
    "bf16-1t": (BF16, 1, False), "bf16-2t": (BF16, 2, False),
    "compile-1t": (FP32, 1, True), "compile-2t": (FP32, 2, True),
}


def measure_levers(base: dict, corpus, args) -> list[dict]:
    """Each arm's training steps timed in slices of ``--arm-s`` seconds, the arms taking turns.

    A bfloat16 arm on a CPU that cannot compute the cell in bfloat16 (the trainer's probe) is not
    measured: its row says so instead of timing float32 under another name.
    """
    arms, unsupported = [], {}
    for name in args.levers:
        changes, threads, compiled = LEVER_ARMS[name]
        cfg = CharConfig(**{**base, **changes, "steps_per_epoch": args.lever_steps})
        runtime.seed_everything(cfg.seed)
        trainer = CharTrainer(cfg, corpus, torch.device("cpu"))
        if cfg.cpu_bf16 and not trainer.cpu_bf16:
            unsupported[name] = {"arm": name, "threads": threads, "compiled": compiled, "unsupported":
                                 f"unsupported here: this CPU ({runtime.cpu_capability()}) does not compute "
                                 f"{cfg.cell} in bfloat16"}
            continue
        arms.append({"arm": name, "threads": threads, "compiled": compiled, "trainer": trainer, "slices": []})
    for arm in arms:  # first calls apart: oneDNN builds its kernels, torch.compile compiles
        torch.set_num_threads(arm["threads"])
        started = time.perf_counter()
        if arm["compiled"]:
            arm["trainer"].model = torch.compile(arm["trainer"].model)
        arm["trainer"].train_epoch()
        arm["first_s"] = time.perf_counter() - started
    for _ in range(args.repeats):
        for arm in arms:
            torch.set_num_threads(arm["threads"])
            trainer = arm["trainer"]
            chars0, cpu0, wall0 = trainer.chars, time.process_time(), time.perf_counter()
            while time.perf_counter() - wall0 < args.arm_s:
                trainer.train_epoch()
            wall, cpu = time.perf_counter() - wall0, time.process_time() - cpu0
            arm["slices"].append({"chars": trainer.chars - chars0, "wall_s": wall, "cpu_s": cpu})
    measured = {arm["arm"]: lever_summary(arm) for arm in arms}
    return [measured.get(name) or unsupported[name] for name in args.levers]


def lever_summary(arm: dict) -> dict:
    chars = sum(s["chars"] for s in arm["slices"])
    wall, cpu = sum(s["wall_s"] for s in arm["slices"]), sum(s["cpu_s"] for s in arm["slices"])
    first_chars = arm["trainer"].chars - chars
    return {"arm": arm["arm"], "threads": arm["threads"], "compiled": arm["compiled"],
            "precision": arm["trainer"].precision_name,
            "chars_per_s": round(chars / wall), "per_slice": [round(s["chars"] / s["wall_s"]) for s in arm["slices"]],
            "cpu_share": round(cpu / wall, 2), "chars_per_cpu_s": round(chars / cpu),
            "first_call_s": round(arm["first_s"], 1),
            "chars_per_s_with_first_call": round((chars + first_chars) / (wall + arm["first_s"]))}


def print_levers(rows: list[dict], cfg_text: str) -> None:
    print(f"levers for {cfg_text}")
    print("| arm | char/s | precision | per slice | CPU share | char per CPU-s | first call s "
          "| char/s with first call |")
    print("|---|---|---|---|---|---|---|---|")
    for r in rows:
        if "unsupported" in r:
            print(f"| {r['arm']} | {r['unsupported']} | | | | | | |")
            continue
        slices = ", ".join(f"{v:,}" for v in r["per_slice"])
        print(f"| {r['arm']} | {r['chars_per_s']:,} | {r['precision']} | {slices} | "
              f"{r['cpu_share']} | {r['chars_per_cpu_s']:,} | {r['first_call_s']} | "
              f"{r['chars_per_s_with_first_call']:,} |")


def parse_sets(items: list[str], parser: argparse.ArgumentParser) -> dict:
    """``FIELD=VALUE`` -> {FIELD: value}, values read as JSON where they are JSON."""
    out = {}
    for item in items:
        field, sep, raw = item.partition("=")
        if not sep or field not in {f.name for f in dataclasses.fields(CharConfig)}:
            parser.error(f"--set {item!r}: expected FIELD=VALUE with a CharConfig field")
        if field in FIXED or field == "budget_s":
            parser.error(f"--set {item!r}: the benchmark fixes {field} (the budget: --budget-s)")
        try:
            out[field] = json.loads(raw)
        except json.JSONDecodeError:
            out[field] = raw
    return out


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data", default=str(DATA), help="Tiny Shakespeare input.txt")
    p.add_argument("--budget-s", type=float, default=600.0, help="training seconds (validation is off the clock)")
    p.add_argument("--threads", type=int, default=2, help="torch threads (the machine has 2 cores)")
    p.add_argument("--preset", choices=tuple(PRESETS), default="searched",
                   help="searched: the best of the q2 study's own search (the default); config: CharConfig's "
                        "defaults; paper: the q2 grid's paper formulation and model, batch 128")
    p.add_argument("--min-cpu-share", type=float, default=None,
                   help="count a run only when it got this many cores on average (default 0.95 x --threads)")
    p.add_argument("--set", action="append", default=[], metavar="FIELD=VALUE",
                   help="set a CharConfig field, e.g. hidden_size=384 (after the flags)")
    p.add_argument("--out", default="benchmarks/q2_budget.json")
    p.add_argument("--levers", type=lambda text: text.split(","), nargs="?", const=list(LEVER_ARMS), default=None,
                   metavar="ARM,ARM", help=f"measure speed levers instead (default all: {','.join(LEVER_ARMS)})")
    p.add_argument("--arm-s", type=float, default=10.0, help="--levers: seconds of each arm's slice")
    p.add_argument("--repeats", type=int, default=2, help="--levers: slices of every arm, interleaved")
    p.add_argument("--lever-steps", type=int, default=5, help="--levers: training steps between clock readings")
    add_dataclass_flags(p, CharConfig, "model and training (CharConfig; unset: the preset's value)", defaults=False,
                        skip=(*FIXED, "budget_s"),
                        aliases={"steps_per_epoch": ["--eval-steps"], "val_max_chars": ["--val-chars"]})
    return p


def config(args: argparse.Namespace, p: argparse.ArgumentParser) -> CharConfig:
    """The run's config: the preset, then the flags, then what every run fixes. Rounds are chosen on the
    whole validation part (val_max_chars 0) unless the preset caps it."""
    given = {**chosen(args, CharConfig), **parse_sets(args.set, p)}
    return CharConfig(**{"steps_per_epoch": 200, "val_max_chars": 0, **PRESETS[args.preset], **given,
                         **FIXED, "budget_s": args.budget_s})


def main(argv: list[str] | None = None) -> dict:
    p = parser()
    args = p.parse_args(argv)
    if args.min_cpu_share is None:
        args.min_cpu_share = 0.95 * args.threads
    cfg = config(args, p)
    corpus = load_corpus(args.data)
    print(f"{args.data}: {len(corpus.text):,} characters; {os.cpu_count()} CPUs, load {os.getloadavg()}", flush=True)
    if args.levers:
        unknown = set(args.levers) - set(LEVER_ARMS)
        if unknown:
            p.error(f"--levers: unknown arm(s) {', '.join(sorted(unknown))}; known: {', '.join(LEVER_ARMS)}")
        rows = measure_levers(dataclasses.asdict(cfg), corpus, args)
        cfg_text = (f"{cfg.cell} {cfg.hidden_size} x {cfg.num_layers}, seq {cfg.seq_len}, batch {cfg.batch_size}, "
                    f"embedding {cfg.embed_size}; CPU {runtime.cpu_capability()}; "
                    f"load {os.getloadavg()[0]:.1f} at the end")
        print_levers(rows, cfg_text)
        Path(args.out).write_text(json.dumps({"date": time.strftime("%Y-%m-%d %H:%M"), "argv": sys.argv,
                                              "cpu_capability": runtime.cpu_capability(),
                                              "config": dataclasses.asdict(cfg), "levers": rows}, indent=2))
        return {"levers": rows}
    r = run(cfg, corpus, args)
    Path(args.out).write_text(json.dumps({"date": time.strftime("%Y-%m-%d %H:%M"), "argv": sys.argv, "result": r},
                                         indent=2))
    print("curve (training seconds: validation loss on the first "
          f"{r['val_chars']:,} validation characters): "
          + ", ".join(f"{c['train_s']:g}: {c['val_loss']:.4f}" for c in r["curve"]))
    print(f"scored with the weights of round {r['best_round']} (best validation loss {r['best_val_loss']}):")
    for key in ("test", "last10"):
        s = r["scores"][key]
        print(f"  {s['scored']}\n    -> {s['loss']:.4f} nats per character ({s['bpc']:.4f} bits), accuracy {s['acc']}")
    verdict = "counted" if r["counted"] else f"NOT COUNTED: CPU share below {args.min_cpu_share:.2f} (machine shared?)"
    print(f"test part: {r['test_loss']:.4f}; last 10%: {r['last10_loss']:.4f} nats per character; "
          f"{r['chars_per_s']} char/s of training in {r['precision']} (CPU: {r['cpu_capability']}), "
          f"{r['steps']} steps; CPU share {r['cpu_share']} "
          f"of {args.threads} threads: {verdict}")
    return r


if __name__ == "__main__":
    raise SystemExit(0 if main().get("counted", True) else 1)
