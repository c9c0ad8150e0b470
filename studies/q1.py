"""q1: which recurrent cell, loss, optimizer and dropout forecast GOOG and AAPL best, and does the formulation matter?

    python studies/q1.py                      # the paper's design, seeds where a claim is open, embedded prices
    python studies/q1.py --smoke-test         # seconds
    python studies/q1.py --design factorial   # every combination of the factors (72 arms a seed)
    python studies/q1.py --search optuna --num-samples 40
    python studies/q1.py --data prices/ --start 2010-01-01 --end 2018-12-31
    python studies/q1.py --cell gru --seeds 3 # any config field as a flag: one value for every trial
    python studies/q1.py --features all --formulation paper   # the paper's own 12 inputs and scaling
"""

from __future__ import annotations

import sys
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make the project importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from ray import tune

from studies import launch
from studies.study import Study
from trainables.stock import data
from trainables.stock.config import CELLS
from trainables.stock.task import TASK

WINDOWS = [10, 20, 30, 60]  # the searches' choices

STUDY = Study(
    name="q1",
    task=TASK,
    description=__doc__,
    options=data.DataOptions,
    load=data.load,
    describe=data.describe,
    manifest=lambda options, prices: {"tickers": ",".join(options.tickers), "data": options.data},
    files=lambda prices: {data.PRICES_FILE: prices.xs("close", axis=1, level="field").to_csv()},
    space=lambda options: {
        "cell": tune.choice(list(CELLS)),
        "lr": tune.loguniform(1e-4, 1e-2),
        "hidden_size": tune.choice([16, 32, 64, 128]),
        "num_layers": tune.choice([1, 2, 3]),
        "dropout": tune.uniform(0.0, 0.3),
        "window": tune.choice(WINDOWS),
        # Every trial is selected and tested on the same days, whatever its window.
        "split_window": max(WINDOWS),
    },
    smoke={"cell": list(CELLS), "hidden_size": 8, "epochs": 2},
    grace_period=10,
    # A q1 trial trains on one thread. Two a core filled the gaps of fresh workers' starts; with reused workers
    # one and two a core take the same wall against the compute floor (benchmarks/RESULTS.md, trials per core).
    cpus_per_trial=0.5,
)



def main(argv: list[str] | None = None) -> str:
    """Parse, run, report; the run folder."""
    return launch.main(STUDY, argv)

if __name__ == "__main__":
    main()
