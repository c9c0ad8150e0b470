"""q3 benchmark: offline MiniLM + LSTM (frozen, top layers, full) on Davidson 2017, next to the baselines.

    python benchmarks/q3_davidson.py                      # defaults as in benchmarks/RESULTS.md
    python benchmarks/q3_davidson.py --finetune-epochs 0  # the frozen encoder and the cache only
    python benchmarks/q3_davidson.py --top 4 --top 2 --finetune-epochs 0   # + the layers above 4, above 2
    python benchmarks/q3_davidson.py --subsample 3000 --trials 2           # a short check on 3,000 tweets

Everything runs in one process, without Ray, on the same stratified 10%
test split (split seed 0): the majority and TF-IDF baselines, the frozen
encoder + LSTM (token outputs from the embedding cache), for each --top K
the encoder's layers above K + LSTM (hidden state K from the cache), and
the fully fine-tuned encoder + LSTM. The networks are trained by the
studies' own trial loop (``run_trial`` with a ``LocalSession``), so they
are tested, like a study's trials, with the weights of their best
validation epoch, with the argmax and with the decision rule tuned on
validation; so is TF-IDF. The table shows both rules side by side. It also
measures the encoder time of a head study of --trials trials: with the
shared cache (one build, then a cache hit per trial) against re-encoding
in every trial (measured --reencode-trials times, extrapolated to --trials).
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import numpy as np
from sklearn.model_selection import train_test_split

from trainables.common import metrics as M
from trainables.common import runtime
from trainables.common.loop import LocalSession, run_trial
from trainables.tweets.cache import EmbeddingCache, encode_to
from trainables.tweets.config import OFFLINE_MINILM, TweetConfig
from trainables.tweets.corpus import TweetData
from trainables.tweets.data import StudyData, load_tweets
from trainables.tweets.model import load_encoder, load_tokenizer
from trainables.tweets.task import TASK
from trainables.tweets.trainer import CONFUSION_FILE, TweetTrainer
from trainables.tweets.trial_data import baseline_key, baselines_for, prepare

DEFAULT_DATA = ROOT.parent / "shared" / "data" / "davidson2017" / "labeled_data.csv"
SHOWN = [M.TEST_MACRO_F1, M.TEST_WEIGHTED_F1, M.TEST_ACC, "test/f1/hate", M.TEST_TUNED_MACRO_F1, "test/tuned/f1/hate"]
# The table's columns: metric name below a rule's prefix (test, test/tuned, baseline/tfidf/test, ...).
COLUMNS = {"macro-F1": "macro_f1", "weighted-F1": "weighted_f1", "hate P": "precision/hate",
           "hate R": "recall/hate", "hate F1": "f1/hate"}


def log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", flush=True)


class LoggedSession(LocalSession):
    """A ``LocalSession`` that prints each epoch as it is recorded."""

    label = ""

    def record(self, metrics, state=None, files=None) -> None:
        super().record(metrics, state, files)
        log(f"{self.label} epoch {metrics[M.EPOCH]}: train/loss {metrics[M.TRAIN_LOSS]:.4f} "
            f"val/loss {metrics[M.VAL_LOSS]:.4f} val/macro_f1 {metrics[M.VAL_MACRO_F1]:.4f} "
            f"({metrics[M.TIME_TOTAL]:.0f} s)")


def frozen_config(args: argparse.Namespace) -> TweetConfig:
    return TweetConfig(encoder=args.encoder, max_length=args.max_length, epochs=args.frozen_epochs, batch_size=64,
                       lr=2e-3, checkpoint_every=args.frozen_epochs)


def finetune_config(args: argparse.Namespace) -> TweetConfig:
    return TweetConfig(encoder=args.encoder, max_length=args.max_length, encoder_training="full",
                       epochs=args.finetune_epochs, batch_size=32, encoder_lr=5e-5, lr=1e-3,
                       checkpoint_every=args.finetune_epochs)


def top_config(args: argparse.Namespace, k: int) -> TweetConfig:
    return TweetConfig(encoder=args.encoder, max_length=args.max_length, encoder_training="top", frozen_layers=k,
                       epochs=args.top_epochs, batch_size=32, encoder_lr=args.top_encoder_lr, lr=1e-3,
                       checkpoint_every=args.top_epochs)


def train(cfg: TweetConfig, shared: StudyData, label: str, threads: int, train_tweets: int = 0) -> tuple[dict, float]:
    """One trial through the shared loop (seeded as ``task.train_trial`` seeds it); its final metrics and seconds."""
    device = runtime.setup_device(threads)
    runtime.seed_everything(cfg.seed)
    started = time.perf_counter()
    trainer = TweetTrainer(cfg, shared, device)
    if train_tweets:
        trainer.prep.train = subsample_train(trainer.prep, train_tweets, cfg.seed)
    with tempfile.TemporaryDirectory(prefix="q3-trial-") as folder:
        session = LoggedSession(folder)
        session.label = label
        metrics = run_trial(trainer, cfg, session, TASK.metric, TASK.mode)
        metrics["confusion"] = json.loads(Path(folder, CONFUSION_FILE).read_text())["matrix"]
    metrics["train_tweets"] = len(trainer.prep.train)
    return metrics, time.perf_counter() - started


def subsample_train(prep, n: int, seed: int) -> np.ndarray:
    """A stratified subsample of the training part (validation and test unchanged)."""
    if not n or n >= len(prep.train):
        return prep.train
    keep, _ = train_test_split(prep.train, train_size=n, stratify=prep.labels[prep.train], random_state=seed)
    return np.sort(keep)


def stratified_subsample(data: TweetData, n: int, seed: int = 0) -> TweetData:
    """``n`` tweets in the data's class proportions (all of them when n is 0 or too large)."""
    if not n or n >= len(data):
        return data
    keep, _ = train_test_split(np.arange(len(data)), train_size=n, stratify=data.labels, random_state=seed)
    keep = np.sort(keep)
    return TweetData(tuple(data.texts[i] for i in keep), data.labels[keep], data.classes, data.origin)


def table(results: dict) -> str:
    """Markdown: per model and rule, the test scores and the wall time."""
    rows = [("always majority", "-", results["baselines"], "baseline/majority/test", None)]
    rows += [("TF-IDF + logistic regression", rule, results["baselines"], prefix, results["baselines_s"])
             for rule, prefix in (("argmax", "baseline/tfidf/test"), ("tuned", M.BASELINE_TFIDF_TEST_TUNED))]
    models = [("frozen", "encoder frozen + LSTM", results.get("frozen"), results.get("frozen_s"))]
    models += [(f"top {k}", f"encoder above layer {k} + LSTM", m, m["wall_s"])
               for k, m in results.get("top", {}).items()]
    models.append(("full", "encoder fully fine-tuned + LSTM", results.get("finetune"), results.get("finetune_s")))
    for _, label, metrics, seconds in models:
        if metrics is not None:
            rows += [(label, rule, metrics, prefix, seconds) for rule, prefix in (("argmax", "test"),
                                                                                 ("tuned", M.TEST_TUNED))]
    lines = ["| model | rule | " + " | ".join(COLUMNS) + " | wall time |", "|---" * (len(COLUMNS) + 3) + "|"]
    for label, rule, metrics, prefix, seconds in rows:
        values = [metrics.get(f"{prefix}/{name}") for name in COLUMNS.values()]
        cells = ["-" if v is None else f"{v:.3f}" for v in values] + ["-" if seconds is None else f"{seconds:.0f} s"]
        lines.append(f"| {label} | {rule} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def cache_study(texts: list[str], cfg: TweetConfig, root: Path, trials: int, reencode: int) -> dict:
    cache = EmbeddingCache(root)
    states, hit, build_s = cache.get_or_build(texts, cfg.encoder, cfg.max_length, progress=log)
    assert not hit, "the benchmark needs a cold cache"
    hits = []
    for _ in range(trials):
        _, hit, seconds = cache.get_or_build(texts, cfg.encoder, cfg.max_length, progress=None)
        assert hit
        hits.append(seconds)
    reencode_s = []
    for n in range(reencode):
        folder = Path(tempfile.mkdtemp(dir=root))
        started = time.perf_counter()
        encode_to(folder, texts, load_tokenizer(cfg.encoder), load_encoder(cfg.encoder), cfg.max_length, 64,
                  progress=None)
        reencode_s.append(time.perf_counter() - started)
        shutil.rmtree(folder)
        log(f"re-encoding {n + 1}/{reencode}: {reencode_s[-1]:.1f} s")
    per_trial = sum([build_s] + reencode_s) / (1 + len(reencode_s))  # the build is a full encoding too
    shared = build_s + sum(hits)
    return {"build_s": build_s, "hits": len(hits), "hit_s_mean": sum(hits) / max(len(hits), 1),
            "hit_s_max": max(hits, default=0.0), "reencode_s_measured": reencode_s, "shared_total_s": shared,
            "reencode_total_s": per_trial * trials, "ratio": per_trial * trials / shared,
            "tokens": int(states.offsets[-1])}


def parse(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data", default=str(DEFAULT_DATA))
    p.add_argument("--encoder", default=OFFLINE_MINILM,
                   help="Hugging Face id or local folder (default: offline MiniLM)")
    p.add_argument("--max-length", type=int, default=48)
    p.add_argument("--frozen-epochs", type=int, default=4)
    p.add_argument("--finetune-epochs", type=int, default=1)
    p.add_argument("--trials", type=int, default=16)
    p.add_argument("--reencode-trials", type=int, default=1)
    p.add_argument("--finetune-train", type=int, default=0,
                   help="fine-tune on a stratified subsample of this many training tweets (0: all)")
    p.add_argument("--top", type=int, action="append", default=[], metavar="K",
                   help="also train the encoder's layers above K (encoder_training top, frozen_layers K); repeatable")
    p.add_argument("--top-epochs", type=int, default=2)
    p.add_argument("--top-encoder-lr", type=float, default=5e-5)
    p.add_argument("--top-train", type=int, default=0,
                   help="train top on a stratified subsample of this many training tweets (0: all)")
    p.add_argument("--subsample", type=int, default=0,
                   help="use a stratified sample of this many tweets (0: all), for a short check")
    p.add_argument("--threads", type=int, default=1,
                   help="torch threads; on a shared, busy machine 2 threads ran the LSTM 50x slower than 1")
    p.add_argument("--out", default=None, help="also write the numbers as JSON here")
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> dict:
    args = parse(argv)
    started = time.perf_counter()
    data = stratified_subsample(load_tweets(args.data), args.subsample)
    frozen = frozen_config(args)
    prep = prepare(data, frozen)
    log(f"{len(data)} tweets; train {len(prep.train)}, val {len(prep.val)}, test {len(prep.test)} {data.counts()}")
    results: dict = {"tweets": len(data), "test": len(prep.test), "max_length": args.max_length}

    t = time.perf_counter()
    results["baselines"] = baselines_for(data, frozen)
    results["baselines_s"] = time.perf_counter() - t
    rounded = {k: round(v, 3) for k, v in results["baselines"].items()}
    log(f"baselines ({results['baselines_s']:.0f} s): " + json.dumps(rounded))

    with tempfile.TemporaryDirectory(prefix="q3-cache-") as root:
        shared = StudyData(data, root, {baseline_key(frozen): results["baselines"]})
        results["cache"] = cs = cache_study(prep.texts, frozen, Path(root), args.trials, args.reencode_trials)
        log("cache: " + json.dumps(cs, default=lambda x: round(x, 2)))
        results["frozen"], results["frozen_s"] = train(frozen, shared, "frozen", args.threads)
        results["frozen_s"] += cs["build_s"]
        results["frozen_epochs"] = frozen.epochs
        log(f"frozen: {json.dumps({k: round(results['frozen'][k], 3) for k in SHOWN})} "
            f"(best epoch {results['frozen'][M.BEST_EPOCH]}; {results['frozen_s']:.0f} s incl. encoding)")
        results["top"] = {}
        for k in args.top:
            metrics, seconds = train(top_config(args, k), shared, f"top {k}", args.threads, args.top_train)
            results["top"][str(k)] = {**metrics, "wall_s": seconds}
            log(f"top {k}: {json.dumps({n: round(metrics[n], 3) for n in SHOWN})} (best epoch "
                f"{metrics[M.BEST_EPOCH]}; {seconds:.0f} s incl. {metrics[M.TIME_ENCODE]:.0f} s for hidden state {k})")

    if args.finetune_epochs:
        cfg = finetune_config(args)
        shared = StudyData(data, "", {baseline_key(cfg): results["baselines"]})
        results["finetune"], results["finetune_s"] = train(cfg, shared, "finetune", args.threads, args.finetune_train)
        results["finetune_train"] = results["finetune"]["train_tweets"]
        shown = {k: round(results["finetune"][k], 3) for k in SHOWN}
        log(f"finetune: {json.dumps(shown)} ({results['finetune_s']:.0f} s)")
    results["wall_s"] = time.perf_counter() - started
    results["table"] = table(results)
    print(results["table"], flush=True)
    log(f"total wall time {results['wall_s']:.0f} s")
    if args.out:
        Path(args.out).write_text(json.dumps(results, indent=2, default=float))
    return results


if __name__ == "__main__":
    main()
