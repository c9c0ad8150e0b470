"""What a run that added seeds while verdicts were open spent, against the fixed design it stands for."""

from __future__ import annotations

import pandas as pd

from analysis.run import Run
from analysis.sequential import Design

EPOCHS_RUN = "epochs_run"


def spent(run: Run) -> str:
    """Trials and epochs run, and what the fixed design with the same final seed count would have run;
    "" for a run with a fixed number of seeds."""
    design = Design.of(run.info)
    if design is None or run.trials.empty:
        return ""
    every = pd.concat([run.trials, run.unfinished], ignore_index=True)
    epochs = int(every.get(EPOCHS_RUN, pd.Series(dtype=float)).fillna(0).sum())
    # a run whose only varying settings are the replicate's is one arm, not one arm a seed
    arms = run.groups() or (lambda _: 0)
    done = run.trials.groupby(arms, dropna=False)
    seeds = int(done.size().max())
    fixed_epochs = round(float((done[EPOCHS_RUN].mean() * seeds).sum())) if EPOCHS_RUN in run.trials else 0
    on = "its one arm" if done.ngroups == 1 else f"each of {done.ngroups} arms"
    return (f"Seeds were added where a verdict was open (from {design.first} to at most {design.cap} a comparison): "
            f"{len(every)} trials ran, {epochs} epochs in all; the fixed design with the same final seed count "
            f"({seeds} seeds on {on}) would have run {done.ngroups * seeds} trials, "
            f"about {fixed_epochs} epochs (each arm's mean epochs a trial).")
