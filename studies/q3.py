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

from ray import tune

from studies.common import Study
from trainables.tweets import data
from trainables.tweets.task import TASK


def arms(encoders: list[str], t5_models: list[str]) -> dict:
    """Encoder + LSTM arms and T5 arms as one factor; the model type follows the model."""
    t5_set = set(t5_models)
    return {"encoder": encoders + t5_models,
            "model_type": tune.sample_from(lambda config: "t5" if config["encoder"] in t5_set else "encoder_lstm")}


STUDY = Study(
    task=TASK,
    description=__doc__,
    options=data.DataOptions,
    load=data.load,
    describe=data.describe,
    record=data.record,
    files=data.files,
    grid=lambda o: arms([o.bert, o.hatebert], [o.t5 or "t5-small"]),
    optuna=lambda o: {
        "encoder": tune.choice([o.encoder]),
        "lstm_hidden": tune.choice([64, 128, 256]),
        "lstm_layers": tune.choice([1, 2]),
        "bidirectional": tune.choice([True, False]),
        "dropout": tune.uniform(0.0, 0.5),
        "lr": tune.loguniform(1e-4, 3e-3),
        "batch_size": tune.choice([32, 64]),
        "class_weighted": tune.choice([True, False]),
    },
    smoke=lambda o: {**arms([o.encoder], [o.t5] if o.t5 else []), "lstm_hidden": 8, "epochs": 1, "max_length": 16},
    smoke_options={"data": data.SYNTHETIC, "subsample": 240},
    aliases={"class_weighted": ["--no-class-weights"]},
    grace_period=1,
)


def main(argv: list[str] | None = None) -> str:
    path = STUDY.main(argv)
    from analysis.report import finish_run  # the study's one call into analysis, at its end

    finish_run(path)
    return path


if __name__ == "__main__":
    main()
