"""toy: does a GRU sum noisy sequences better than a plain RNN?"""

from __future__ import annotations

from ray import tune

from studies.study import Study
from tests.toytask import data
from tests.toytask.task import TASK

STUDY = Study(
    name="toy", task=TASK, description=__doc__, options=data.ToyOptions, load=data.load, describe=data.describe,
    space=lambda options: {"cell": tune.choice(["rnn", "gru"]), "hidden": tune.choice([4, 8]),
                           "lr": tune.loguniform(0.01, 0.1)},
    smoke={"cell": ["rnn", "gru"], "epochs": 2},
)
