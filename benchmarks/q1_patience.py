"""q1: what early stopping with patience P would have chosen, read off a run that trained every epoch.

    python studies/q1.py --patience 0 --seeds 1 --name q1-patience0    # every trial trains all 100 epochs
    python benchmarks/q1_patience.py results/q1-patience0              # then this, on its run folder

For each trial's validation MAPE curve, early stopping with patience P stops
once P epochs pass without a better value and keeps the best epoch seen so
far. The table says, per formulation and patience, how often that is the
same epoch the full run chose (then the test numbers are identical: the test
part is scored with that epoch's weights), how much worse its validation
MAPE is when it is not, and the share of epochs it saves.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import pandas as pd

from analysis.runs.read import read_run
from trainables.common import metrics as M

PATIENCES = (5, 10, 15, 20, 30)


def stopped(curve: list[float], patience: int) -> tuple[int, int]:
    """(epoch chosen, epochs run) under early stopping with ``patience`` (epochs count from 1)."""
    best, best_epoch, stale = float("inf"), 0, 0
    for epoch, value in enumerate(curve, start=1):
        if value < best:
            best, best_epoch, stale = value, epoch, 0
        else:
            stale += 1
            if stale >= patience:
                return best_epoch, epoch
    return best_epoch, len(curve)


def table(run_dir: str | Path) -> pd.DataFrame:
    run = read_run(run_dir)
    rows = []
    for trial_id, hist in run.history.groupby("trial_id"):
        curve = hist.sort_values(M.EPOCH)[M.VAL_MAPE].tolist()
        form = run.trials.set_index("trial_id").loc[trial_id, "config/formulation"]
        full_best = min(range(len(curve)), key=curve.__getitem__) + 1
        for p in PATIENCES:
            chosen, ran = stopped(curve, p)
            rows.append({"formulation": form, "patience": p, "same epoch": chosen == full_best,
                         "val MAPE lost": curve[chosen - 1] - curve[full_best - 1], "epochs run": ran,
                         "epochs": len(curve), "best epoch (full run)": full_best})
    frame = pd.DataFrame(rows)
    out = frame.groupby(["formulation", "patience"]).agg(
        trials=("same epoch", "size"), same_epoch=("same epoch", "mean"), worst_val_loss=("val MAPE lost", "max"),
        mean_val_loss=("val MAPE lost", "mean"), epochs_run=("epochs run", "sum"), epochs=("epochs", "sum"),
        best_epoch_mean=("best epoch (full run)", "mean"), best_epoch_max=("best epoch (full run)", "max"))
    out["epochs saved"] = 1 - out.pop("epochs_run") / out.pop("epochs")
    return out.round(4)


def main(argv: list[str] | None = None) -> pd.DataFrame:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("run_dir", help="a q1 run folder whose trials trained every epoch (--patience 0)")
    out = table(p.parse_args(argv).run_dir)
    print(out.to_string())
    return out


if __name__ == "__main__":
    main()
