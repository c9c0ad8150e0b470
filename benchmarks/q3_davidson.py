"""q3 benchmark: frozen and fine-tuned offline MiniLM + LSTM on Davidson 2017, next to the baselines.

    python benchmarks/q3_davidson.py                      # defaults as in benchmarks/RESULTS.md
    python benchmarks/q3_davidson.py --finetune-epochs 0  # frozen mode and the cache only

Everything runs in one process, in one plain loop (no Ray), on the same
stratified 10% test split (split seed 0): the majority and TF-IDF
baselines, the frozen encoder + LSTM (token outputs from the embedding
cache) and the fine-tuned encoder + LSTM. It also measures the encoder
time of a head study of --trials trials: with the shared cache (one build,
then a cache hit per trial) against re-encoding in every trial (measured
--reencode-trials times, extrapolated to --trials).
"""

from __future__ import annotations

import argparse
import copy
import dataclasses
import json
import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import numpy as np
import torch
from sklearn.model_selection import train_test_split

from trainables.common import metrics as M
from trainables.tweets.baselines import classification_metrics
from trainables.tweets.cache import EmbeddingCache, encode_to
from trainables.tweets.config import TweetConfig
from trainables.tweets.data import load_tweets
from trainables.tweets.model import load_encoder, load_tokenizer
from trainables.tweets.runners import FinetuneLSTM, FrozenLSTM
from trainables.tweets.trainable import final_evaluation, prepare, study_baselines, train_epoch

DEFAULT_DATA = ROOT.parent / "shared" / "data" / "davidson2017" / "labeled_data.csv"
SHOWN = [M.TEST_MACRO_F1, M.TEST_WEIGHTED_F1, M.TEST_ACC, "test/f1/hate"]


def log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", flush=True)


def train(runner, prep, cfg: TweetConfig, label: str) -> tuple[dict, float]:
    """Train ``cfg.epochs`` epochs; test the state of the epoch with the best validation macro-F1."""
    gen = torch.Generator()
    gen.manual_seed(cfg.seed)
    started = time.perf_counter()
    best = (-1.0, 0, None)
    for epoch in range(1, cfg.epochs + 1):
        loss = train_epoch(runner, prep.train, cfg.batch_size, gen)
        val_loss, val_pred, _ = runner.evaluate(prep.val)
        val_f1 = classification_metrics(prep.labels[prep.val], val_pred, prep.classes, "val")[M.VAL_MACRO_F1]
        if val_f1 > best[0]:
            best = (val_f1, epoch, copy.deepcopy(runner.model.state_dict()) if cfg.epochs > 1 else None)
        log(f"{label} epoch {epoch}: train/loss {loss:.4f} val/loss {val_loss:.4f} val/macro_f1 {val_f1:.4f} "
            f"({time.perf_counter() - started:.0f} s)")
    if best[2] is not None:
        runner.model.load_state_dict(best[2])
    metrics, files = final_evaluation(runner, prep)
    metrics["confusion"] = json.loads(files["confusion.json"])["matrix"]
    metrics["best_epoch"], metrics[M.VAL_MACRO_F1] = best[1], best[0]
    return metrics, time.perf_counter() - started


def subsample_train(prep, n: int, seed: int):
    """The same split with a stratified subsample of the training part (validation and test unchanged)."""
    if not n or n >= len(prep.train):
        return prep
    keep, _ = train_test_split(prep.train, train_size=n, stratify=prep.labels[prep.train], random_state=seed)
    return dataclasses.replace(prep, train=np.sort(keep))


def cache_study(prep, cfg: TweetConfig, root: Path, trials: int, reencode: int) -> dict:
    cache = EmbeddingCache(root)
    states, hit, build_s = cache.get_or_build(prep.texts, cfg.encoder, cfg.max_length, progress=log)
    assert not hit, "the benchmark needs a cold cache"
    hits = []
    for _ in range(trials):
        _, hit, seconds = cache.get_or_build(prep.texts, cfg.encoder, cfg.max_length, progress=None)
        assert hit
        hits.append(seconds)
    reencode_s = []
    for n in range(reencode):
        folder = Path(tempfile.mkdtemp(dir=root))
        started = time.perf_counter()
        encode_to(folder, prep.texts, load_tokenizer(cfg.encoder), load_encoder(cfg.encoder), cfg.max_length, 64,
                  progress=None)
        reencode_s.append(time.perf_counter() - started)
        shutil.rmtree(folder)
        log(f"re-encoding {n + 1}/{reencode}: {reencode_s[-1]:.1f} s")
    per_trial = sum([build_s] + reencode_s) / (1 + len(reencode_s))  # the build is a full encoding too
    shared = build_s + sum(hits)
    return {"build_s": build_s, "hit_s_mean": sum(hits) / len(hits), "hit_s_max": max(hits),
            "reencode_s_measured": reencode_s, "shared_total_s": shared, "reencode_total_s": per_trial * trials,
            "ratio": per_trial * trials / shared, "tokens": int(states.offsets[-1]), "states": states}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data", default=str(DEFAULT_DATA))
    p.add_argument("--max-length", type=int, default=48)
    p.add_argument("--frozen-epochs", type=int, default=4)
    p.add_argument("--finetune-epochs", type=int, default=1)
    p.add_argument("--trials", type=int, default=16)
    p.add_argument("--reencode-trials", type=int, default=1)
    p.add_argument("--finetune-train", type=int, default=0,
                   help="fine-tune on a stratified subsample of this many training tweets (0: all)")
    p.add_argument("--threads", type=int, default=1,
                   help="torch threads; on a shared, busy machine 2 threads ran the LSTM 50x slower than 1")
    p.add_argument("--out", default=None, help="also write the numbers as JSON here")
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    started = time.perf_counter()
    data = load_tweets(args.data)
    base = TweetConfig(max_length=args.max_length, seed=0)
    prep = prepare(data, base)
    log(f"{len(data)} tweets; train {len(prep.train)}, val {len(prep.val)}, test {len(prep.test)} {data.counts()}")
    results: dict = {"tweets": len(data), "test": len(prep.test), "max_length": args.max_length}

    t = time.perf_counter()
    results["baselines"] = study_baselines(data, base)
    results["baselines_s"] = time.perf_counter() - t
    log(f"baselines ({results['baselines_s']:.0f} s): " + json.dumps({k: round(v, 3) for k, v in results["baselines"].items()}))

    with tempfile.TemporaryDirectory(prefix="q3-cache-") as root:
        cs = cache_study(prep, base, Path(root), args.trials, args.reencode_trials)
        states = cs.pop("states")
        results["cache"] = cs
        log("cache: " + json.dumps({k: v for k, v in cs.items()}, default=lambda x: round(x, 2)))
        cfg = TweetConfig(max_length=args.max_length, epochs=args.frozen_epochs, batch_size=64, lr=2e-3)
        torch.manual_seed(cfg.seed)
        results["frozen"], results["frozen_s"] = train(FrozenLSTM(cfg, prep, states, torch.device("cpu")), prep, cfg, "frozen")
        results["frozen_s"] += cs["build_s"]
        results["frozen_epochs"] = cfg.epochs
        log(f"frozen: {json.dumps({k: round(results['frozen'][k], 3) for k in SHOWN})} ({results['frozen_s']:.0f} s incl. encoding)")
        del states

    if args.finetune_epochs:
        cfg = TweetConfig(max_length=args.max_length, mode="finetune", epochs=args.finetune_epochs, batch_size=32,
                          encoder_lr=5e-5, lr=1e-3)
        torch.manual_seed(cfg.seed)
        ft_prep = subsample_train(prep, args.finetune_train, cfg.seed)
        results["finetune_train"] = len(ft_prep.train)
        results["finetune"], results["finetune_s"] = train(FinetuneLSTM(cfg, ft_prep, torch.device("cpu")), ft_prep, cfg, "finetune")
        log(f"finetune: {json.dumps({k: round(results['finetune'][k], 3) for k in SHOWN})} ({results['finetune_s']:.0f} s)")
    results["wall_s"] = time.perf_counter() - started
    log(f"total wall time {results['wall_s']:.0f} s")
    if args.out:
        Path(args.out).write_text(json.dumps(results, indent=2, default=float))


if __name__ == "__main__":
    main()
