"""What a run that added seeds while verdicts were open spent, against the fixed design it stands for."""

from __future__ import annotations

import pandas as pd

from analysis.run import Run
from analysis.sequential import Design
from trainables.common.layout import CONFIG_PREFIX

EPOCHS_RUN = "epochs_run"


def spent(run: Run) -> str:
    """Trials and epochs run, and what the fixed design with the same final seed count would have run;
    "" for a run with a fixed number of seeds."""
    design = Design.of(run.info)
    if design is None or run.trials.empty:
        return ""
    every = pd.concat([run.trials, run.unfinished], ignore_index=True)
    epochs = int(every.get(EPOCHS_RUN, pd.Series(dtype=float)).fillna(0).sum())
    arms = run.groups() or [CONFIG_PREFIX + "seed"]
    done = run.trials.groupby(arms, dropna=False)
    seeds = int(done.size().max())
    fixed_epochs = round(float((done[EPOCHS_RUN].mean() * seeds).sum())) if EPOCHS_RUN in run.trials else 0
    return (f"Seeds were added where a verdict was open (from {design.first} to at most {design.cap} a comparison): "
            f"{len(every)} trials ran, {epochs} epochs in all; the fixed design with the same final seed count "
            f"({seeds} seeds on each of {done.ngroups} arms) would have run {done.ngroups * seeds} trials, "
            f"about {fixed_epochs} epochs (each arm's mean epochs a trial).")
