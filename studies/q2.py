"""q2: which loss, batch size and formulation train a character-level text generator best?

    python studies/q2.py                      # the paper's grid, embedded Shakespeare
    python studies/q2.py --smoke-test         # seconds
    python studies/q2.py --search optuna --num-samples 30 --epochs 30
    python studies/q2.py --corpus input.txt --cased --hidden-size 512   # any config field as a flag
    python studies/q2.py --steps-per-epoch 0 --epochs 100 --gpus-per-trial 1   # the paper's epochs

The grid is 12 trials (3 losses x 2 batch sizes x 2 formulations), every one
the paper's LSTM(256) x 2 with dropout 0.2, Adam 1e-3, 100-character windows
on lower-cased text. Units: a full pass of the paper's formulation over the
embedded corpus is ~70,000 updates at batch 64, days on a CPU; so the grid's
"epoch" is a round of 25 updates (--steps-per-epoch 25, 40 rounds, 6-13M
character-steps a trial) and tables say "round" and count characters seen
(train/chars) and updates (train/steps); the batch claim compares at equal
characters seen and at equal updates. With --steps-per-epoch 0 an epoch is a
full pass and the paper's epoch counts (20, 40, 100) are epochs again.
Validation (the first --val-max-chars of it each epoch) picks the best epoch;
the test part, scored whole with that epoch's weights, gives the final numbers
(the paper formulation pays a 100-step window per scored character for both).
"""

from __future__ import annotations

import sys
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make the project importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from ray import tune

from studies.common import Study
from trainables.chargen import data
from trainables.chargen.config import CELLS, FORMULATIONS, LOSSES
from trainables.chargen.task import TASK

ROUNDS = {"epochs": 40, "steps_per_epoch": 25}  # CPU-sized epochs (see above)
STUDY = Study(
    task=TASK, description=__doc__, options=data.DataOptions, load=data.load, describe=data.describe,
    record=lambda options, corpus: {"corpus": corpus.source, "seed_text": data.held_out_start(corpus)},
    grid=lambda options: {"loss": list(LOSSES), "batch_size": [64, 128], "formulation": list(FORMULATIONS)},
    # The paper's model and optimisation for every grid arm, both formulations alike.
    paper={"cell": "lstm", "hidden_size": 256, "num_layers": 2, "dropout": 0.2, "seq_len": 100, "lr": 1e-3,
           "lr_schedule": "constant", "grad_clip": 0.0, "lowercase": True, **ROUNDS},
    # One-value choices fix a field for every proposal (and for the checks before Ray starts).
    optuna=lambda options: {
        "formulation": tune.choice(["sequence"]), "lowercase": tune.choice([True]),
        **{k: tune.choice([v]) for k, v in ROUNDS.items()},
        "cell": tune.choice(list(CELLS)), "num_layers": tune.choice([1, 2, 3]),
        "hidden_size": tune.choice([128, 256, 512]), "embed_size": tune.choice([32, 64, 128]),
        "seq_len": tune.choice([64, 128, 256]), "dropout": tune.uniform(0.0, 0.3),
        "lr": tune.loguniform(3e-4, 1e-2), "grad_clip": tune.choice([0.5, 1.0, 5.0]),
        "lr_schedule": tune.choice(["constant", "cosine", "onecycle"]),
    },
    smoke={"formulation": list(FORMULATIONS), "loss": ["ce", "mse"], "cell": "lstm", "lowercase": True,
           "epochs": 2, "steps_per_epoch": 3, "hidden_size": 16, "embed_size": 8, "batch_size": 8, "seq_len": 16,
           "val_max_chars": 256},
    grace_period=5,
)
OLD_FLAGS = {"--cased": "--no-lowercase"}  # spellings scripts may still use (a negated flag: no alias can say it)


def upgrade(argv: list[str]) -> list[str]:
    return [OLD_FLAGS.get(a, a) for a in argv]


def main(argv: list[str] | None = None) -> str:
    path = STUDY.main(upgrade(sys.argv[1:] if argv is None else argv))
    from analysis.report import finish_run  # the study's one call into analysis, at its end

    finish_run(path)
    return path


if __name__ == "__main__":
    main()
