"""q3: which contextual encoder + LSTM head (or T5) classifies hate speech in tweets best?

    python studies/q3.py --data labeled_data.csv                # BERT / HateBERT + LSTM, T5 (needs the hub)
    python studies/q3.py --data labeled_data.csv --bert ~/m/bert-base-uncased --hatebert ~/m/hateBERT --t5 ~/m/t5-small
    python studies/q3.py --search optuna --num-samples 16       # partial fine-tuning search on the offline MiniLM
    python studies/q3.py --smoke-test                           # seconds, offline

Frozen encoders' token outputs are computed once, before the trials start,
into a content-addressed cache (--cache-dir) that every trial reads. Seed k
sets the split too, so the comparisons span different splits (as many as a claim needs).
"""

from __future__ import annotations

import sys
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make the project importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from ray import tune

from studies import launch
from studies.study import Study
from trainables.tweets import data
from trainables.tweets.task import TASK

DEFAULT_T5 = "t5-small"


def family_arm(arm: dict, options: data.DataOptions) -> dict:
    """A model family of the paper's design as the config: the encoder (or T5 model) the options name."""
    arm = dict(arm)
    family = arm.pop("family")
    if family == "t5":
        return {**arm, "model_type": "t5", "encoder": options.t5 or DEFAULT_T5}
    return {**arm, "model_type": "encoder_lstm", "encoder": getattr(options, family)}


def smoke(options: data.DataOptions) -> list[dict]:
    common = {"lstm_hidden": 8, "epochs": 1, "max_length": 16}
    models = [{"model_type": "encoder_lstm", "encoder": options.encoder}]
    models += [{"model_type": "t5", "encoder": options.t5}] if options.t5 else []
    return [{**common, **m} for m in models]


STUDY = Study(
    name="q3",
    task=TASK,
    description=__doc__,
    options=data.DataOptions,
    load=data.load,
    describe=data.describe,
    manifest=data.manifest,
    files=data.files,
    arm=family_arm,
    # Partial fine-tuning: the lower layers' outputs come from the shared cache, each trial trains the
    # layers above them and the head. frozen_layers is a choice, not a range: the pre-flight builds each
    # cache entry once. The offline MiniLM has 6 layers; training more than its top two costs a trial
    # more than a two-core hour of search affords.
    space=lambda o: {
        "encoder": o.encoder,
        "encoder_training": "top",
        "frozen_layers": tune.choice([4, 5]),
        "encoder_lr": tune.loguniform(1e-5, 3e-4),
        "lr": tune.loguniform(3e-4, 3e-3),
        "class_weighted": tune.choice([True, False]),
        "lstm_hidden": tune.choice([64, 128, 256]),
        "lstm_layers": tune.choice([1, 2]),
        "bidirectional": tune.choice([True, False]),
        "dropout": tune.uniform(0.0, 0.5),
        "batch_size": tune.choice([32, 64]),
    },
    smoke=smoke,
    smoke_options={"data": data.SYNTHETIC, "subsample": 240},
    aliases={"class_weighted": ["--no-class-weights"]},
    grace_period=1,
)



def main(argv: list[str] | None = None) -> str:
    """Parse, run, report; the run folder."""
    return launch.main(STUDY, argv)

if __name__ == "__main__":
    main()
