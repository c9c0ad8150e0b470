"""q2: which loss, batch size and formulation train a character-level text generator best?

    python studies/q2.py                      # the paper's design, seeds where a claim is open, Shakespeare
    python studies/q2.py --smoke-test         # seconds
    python studies/q2.py --search optuna --num-samples 30 --corpus input.txt --cased   # 150-second trials
    python studies/q2.py --corpus input.txt --cased --hidden-size 512   # any config field as a flag
    python studies/q2.py --steps-per-epoch 0 --epochs 100 --gpus-per-trial 1   # the paper's epochs

Every arm of the paper's design is its LSTM(256) x 2 with dropout 0.2, Adam
1e-3, 100-character windows on lower-cased text (trainables/chargen/paper.py).
Units: a full pass of the paper's formulation over the embedded corpus is
~70,000 updates at batch 64, days on a CPU; so the design's "epoch" is a round
of 25 updates (40 rounds; 5 for the paper formulation's arm, the reference's
compute) and tables say "round" and count characters seen
(train/chars) and updates (train/steps). With --steps-per-epoch 0 an epoch is
a full pass and the paper's epoch counts (20, 40, 100) are epochs again.
Validation (the first --val-max-chars of it each epoch) picks the best epoch;
the test part, scored with that epoch's weights (whole; its first 20,000 characters
for the paper formulation's arm), gives the final numbers.
"""

from __future__ import annotations

import sys
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make the project importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from ray import tune

from studies import launch
from studies.study import Study
from trainables.chargen import data
from trainables.chargen.config import FORMULATIONS
from trainables.chargen.task import TASK

BUDGET_S = 150.0  # training seconds a searched trial gets (--set budget_s=... changes it)

STUDY = Study(
    name="q2",
    task=TASK, description=__doc__, options=data.DataOptions, load=data.load, describe=data.describe,
    manifest=lambda options, corpus: {"corpus": corpus.source, "seed_text": data.held_out_start(corpus)},
    # The sequence formulation's shape and optimisation at equal compute: every trial trains BUDGET_S
    # seconds (the budget ends it; rounds of 25 updates are what ASHA compares at).
    space=lambda options: {
        "formulation": "sequence", "budget_s": BUDGET_S, "epochs": 100_000, "steps_per_epoch": 25,
        "cpu_bf16": True,
        "cell": tune.choice(["lstm", "gru"]), "num_layers": tune.choice([1, 2, 3]),
        "hidden_size": tune.choice([256, 384, 512]), "embed_size": tune.choice([32, 64, 128]),
        "seq_len": tune.choice([64, 128, 256]), "batch_size": tune.choice([16, 32, 64]),
        "dropout": tune.uniform(0.0, 0.3), "lr": tune.loguniform(1e-3, 1e-2),
        "grad_clip": tune.choice([0.5, 1.0, 5.0]), "lr_schedule": tune.choice(["constant", "cosine", "onecycle"]),
    },
    smoke={"formulation": list(FORMULATIONS), "loss": ["ce", "mse"], "cell": "lstm", "lowercase": True,
           "epochs": 2, "steps_per_epoch": 3, "hidden_size": 16, "embed_size": 8, "batch_size": 8, "seq_len": 16,
           "val_max_chars": 256},
    aliases={"lowercase": ["!--cased"]},  # the old spelling of --no-lowercase
    grace_period=8,
)



def main(argv: list[str] | None = None) -> str:
    """Parse, run, report; the run folder."""
    return launch.main(STUDY, argv)

if __name__ == "__main__":
    main()
