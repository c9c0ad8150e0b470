"""q3: which contextual encoder + LSTM head (or T5) classifies hate speech in tweets best?

    python studies/q3.py --data labeled_data.csv                # BERT / HateBERT + LSTM, T5 (needs the hub)
    python studies/q3.py --data labeled_data.csv --bert ~/m/bert-base-uncased --hatebert ~/m/hateBERT --t5 ~/m/t5-small
    python studies/q3.py --search optuna --num-samples 16       # LSTM head search on the offline MiniLM
    python studies/q3.py --smoke-test                           # seconds, offline

Frozen encoders' token outputs are computed once, before the trials start,
into a content-addressed cache (--cache-dir) that every trial reads.
"""

from __future__ import annotations

import sys
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make the project importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import pandas as pd
from ray import tune

from studies import common
from trainables.common import metrics as M
from trainables.common.config import ConfigError, to_dict
from trainables.common.errors import DataError
from trainables.tweets.config import HASHTAGS, MODES, OFFLINE_MINILM, TweetConfig
from trainables.tweets.data import (
    LABEL_COLUMN,
    TEXT_COLUMN,
    TweetData,
    check_splittable,
    default_cache_dir,
    from_frame,
    load_tweets,
    synthetic_tweets,
)

METRIC, MODE = M.VAL_MACRO_F1, "max"  # the rare hate class counts as much as the others
SMOKE_TWEETS = 240


def build_parser():
    p = common.base_parser(__doc__.splitlines()[0], default_name="q3")
    g = p.add_argument_group("data")
    g.add_argument("--data", default=None,
                   help="labelled tweet CSV; default: Davidson 2017, downloaded once into --cache-dir "
                        "(offline: pass the path to labeled_data.csv)")
    g.add_argument("--text-column", default=TEXT_COLUMN)
    g.add_argument("--label-column", default=LABEL_COLUMN, help="labels: Davidson's 0/1/2 or any strings")
    g.add_argument("--cache-dir", default=None,
                   help=f"downloads and the shared embedding cache (default {default_cache_dir()}; "
                        "on a cluster, a folder every node sees)")
    g = p.add_argument_group("models (Hugging Face ids or local folders)")
    g.add_argument("--bert", default="bert-base-uncased", help="grid: the BERT encoder")
    g.add_argument("--hatebert", default="GroNLP/hateBERT", help="grid: the HateBERT encoder")
    g.add_argument("--t5", default=None, help="grid: the T5 model (default t5-small; in --smoke-test only if given)")
    g.add_argument("--encoder", default=OFFLINE_MINILM,
                   help="optuna and smoke test: the encoder ('offline-minilm' ships with the tweets extra)")
    g.add_argument("--mode", choices=MODES, default="frozen", help="encoder frozen (cached outputs) or fine-tuned")
    g = p.add_argument_group("training")
    g.add_argument("--epochs", type=int, default=TweetConfig.epochs)
    g.add_argument("--batch-size", type=int, default=TweetConfig.batch_size)
    g.add_argument("--max-length", type=int, default=TweetConfig.max_length, help="tokens per tweet (the report: 40)")
    g.add_argument("--lr", type=float, default=TweetConfig.lr, help="LSTM head learning rate")
    g.add_argument("--encoder-lr", type=float, default=TweetConfig.encoder_lr, help="encoder rate in finetune mode")
    g.add_argument("--t5-lr", type=float, default=3e-4, help="learning rate of the T5 arm")
    g.add_argument("--no-class-weights", action="store_true", help="plain instead of class-weighted loss")
    g.add_argument("--hashtags", choices=HASHTAGS, default=TweetConfig.hashtags)
    g.add_argument("--encode-threads", type=int, default=0, help="CPU threads for building the cache (0: all)")
    return p


def fixed_config(args) -> dict:
    """Values shared by every trial; validated once here, before Ray starts."""
    fixed = {"epochs": 1 if args.smoke_test else args.epochs, "batch_size": args.batch_size,
             "max_length": 16 if args.smoke_test else args.max_length, "lr": args.lr, "encoder_lr": args.encoder_lr,
             "class_weighted": not args.no_class_weights, "hashtags": args.hashtags, "mode": args.mode}
    if args.smoke_test:
        fixed.update(lstm_hidden=8, mode="frozen")
    fixed.update(common.trial_options(args))
    try:
        TweetConfig(**fixed)
    except (ConfigError, TypeError) as exc:
        common.fail(str(exc))
    return fixed


def arms(args) -> tuple[list[str], list[str]]:
    """(encoders for encoder + LSTM, T5 models) of this run."""
    if args.smoke_test:
        return [args.encoder], [args.t5] if args.t5 else []
    if args.search == "optuna":
        return [args.encoder], []
    return [args.bert, args.hatebert], [args.t5 or "t5-small"]


def load_data(args, fixed: dict) -> TweetData:
    try:
        if args.smoke_test and args.data is None:
            data = from_frame(synthetic_tweets(SMOKE_TWEETS), TEXT_COLUMN, LABEL_COLUMN, "synthetic smoke-test tweets")
        else:
            data = load_tweets(args.data, args.text_column, args.label_column, args.cache_dir)
            if args.smoke_test:
                data = subsample(data, SMOKE_TWEETS)
        cfg = TweetConfig(**fixed)
        check_splittable(data, cfg.val_fraction, cfg.test_fraction)
    except DataError as exc:
        common.fail(str(exc))
    return data


def subsample(data: TweetData, n: int) -> TweetData:
    """Up to ``n`` tweets, every class kept (the smoke test on real data)."""
    import numpy as np

    rng = np.random.default_rng(0)
    per_class = max(12, n // len(data.classes))
    keep = np.sort(np.concatenate([rng.permutation(np.flatnonzero(data.labels == c))[:per_class]
                                   for c in range(len(data.classes))]))
    return TweetData(tuple(data.texts[i] for i in keep), data.labels[keep], data.classes, data.origin)


def check_models(encoders: list[str], t5_models: list[str]) -> None:
    """Every model of the run loads (tokenizer and config) before any trial starts."""
    from trainables.tweets.model import check_available

    try:
        for name in encoders:
            check_available(name)
        for name in t5_models:
            check_available(name, seq2seq=True)
    except DataError as exc:
        common.fail(str(exc))


def prepare_run(args, data: TweetData, fixed: dict, encoders: list[str], cache_root: str) -> dict:
    """Before the trials: token lengths, the shared embedding cache, the baselines."""
    import pandas as pd
    import torch

    from trainables.tweets.cache import EmbeddingCache
    from trainables.tweets.model import load_tokenizer
    from trainables.tweets.preprocess import token_lengths
    from trainables.tweets.trainable import prepare, study_baselines

    cfg = TweetConfig(**fixed)
    prep = prepare(data, cfg)
    lengths = pd.concat([pd.DataFrame({"model": name, "tokens": token_lengths(prep.texts, load_tokenizer(name))})
                         for name in encoders])
    if args.encode_threads:
        torch.set_num_threads(args.encode_threads)
    if cfg.mode == "frozen":
        for name in encoders:
            print(f"q3: token outputs of {name} (max length {cfg.max_length}) for the shared cache in {cache_root}")
            _, hit, seconds = EmbeddingCache(cache_root).get_or_build(prep.texts, name, cfg.max_length)
            print(f"q3: {'cache hit' if hit else 'cache built'} in {seconds:.1f} s")
    print("q3: majority and TF-IDF baselines on the same split")
    return {"lengths": lengths, "baselines": study_baselines(data, cfg)}


def search_space(args, encoders: list[str], t5_models: list[str]) -> tuple[dict, tune.TuneConfig]:
    tune_cfg = common.tune_config(args, METRIC, MODE, max_t=args.epochs, grace_period=1)
    if args.search == "optuna" and not args.smoke_test:
        space = {
            "encoder": encoders[0], "lstm_hidden": tune.choice([64, 128, 256]), "lstm_layers": tune.choice([1, 2]),
            "bidirectional": tune.choice([True, False]), "dropout": tune.uniform(0.0, 0.5),
            "lr": tune.loguniform(1e-4, 3e-3), "batch_size": tune.choice([32, 64]),
            "class_weighted": tune.choice([True, False]), "seed": 0,
        }
        return space, tune_cfg
    t5_set = set(t5_models)
    space = {
        "encoder": tune.grid_search(encoders + t5_models),
        "model_type": tune.sample_from(lambda config: "t5" if config["encoder"] in t5_set else "encoder_lstm"),
        "lr": tune.sample_from(lambda config: args.t5_lr if config["encoder"] in t5_set else args.lr),
        "seed": tune.grid_search(list(range(1 if args.smoke_test else args.seeds))),
    }
    return space, tune_cfg


def main(argv: list[str] | None = None) -> tune.ResultGrid:
    args = build_parser().parse_args(argv)
    common.check_common_args(args)
    fixed = fixed_config(args)
    encoders, t5_models = arms(args)
    check_models(encoders, t5_models)
    data = load_data(args, fixed)
    print(f"q3: {len(data)} tweets from {data.origin}: " + ", ".join(f"{c} {n}" for c, n in data.counts().items()))
    cache_root = str(Path(args.cache_dir or default_cache_dir()).expanduser().resolve())
    extra = prepare_run(args, data, fixed, encoders, cache_root)

    from trainables.tweets.trainable import train_tweets

    trainable = tune.with_parameters(train_tweets, data=data, cache_root=cache_root, baselines=extra["baselines"])
    space, tune_config = search_space(args, encoders, t5_models)
    # Every trial records its whole config, defaults included, for analysis and reruns.
    space = {**to_dict(TweetConfig(**fixed)), **space}
    path = common.run_dir(args)
    common.write_study_file(path, {"study": "q3", "search": "smoke" if args.smoke_test else args.search,
                                   "argv": sys.argv, "data": data.origin, "classes": list(data.classes),
                                   "encoders": encoders, "t5": t5_models, "mode": fixed["mode"]})
    if "://" not in path:
        extra["lengths"].to_csv(Path(path, "token_lengths.csv"), index=False)
    results = common.run_study(args, trainable, space, tune_config, tune.CheckpointConfig(num_to_keep=1))
    report(path, data)
    return results


def report(path: str, data) -> None:
    from analysis.report import finish_run

    fingerprint = pd.DataFrame({"text": list(data.texts), "label": list(data.labels)})
    written = finish_run(path, data=fingerprint)
    if written:
        print(f"Tables, plots, claims and report: {len(written)} files in {path}")


if __name__ == "__main__":
    main()
