"""What a run that added seeds while verdicts were open spent, against the fixed design it stands for."""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd

from analysis.runs.read import Run
from analysis.verdicts.claims import ClaimResult
from analysis.verdicts.sequential import LookSchedule

EPOCHS_RUN = "epochs_run"


def spent(run: Run, results: Sequence[ClaimResult] = ()) -> str:
    """Trials and epochs run (with ``results``: the epochs their verdicts read, the rest ran ahead or were not
    finished), and what the fixed design with the same final seed count would have run; "" for a run with a
    fixed number of seeds."""
    schedule = LookSchedule.of(run.info)
    if schedule is None or run.trials.empty:
        return ""
    every = pd.concat([run.trials, run.unfinished], ignore_index=True)
    epoch_of = every.get(EPOCHS_RUN, pd.Series(0.0, index=every.index)).fillna(0)
    epochs = int(epoch_of.sum())
    read = {tid for c in results for comp in c.comparisons for tid in comp.read}
    read_epochs = int(epoch_of[every["trial_id"].isin(read)].sum()) if results else None
    # a run whose only varying settings are the replicate's is one arm, not one arm a seed
    arms = run.groups() or (lambda _: 0)
    done = run.trials.groupby(arms, dropna=False)
    seeds = int(done.size().max())
    fixed_epochs = round(float((done[EPOCHS_RUN].mean() * seeds).sum())) if EPOCHS_RUN in run.trials else 0
    on = "its one arm" if done.ngroups == 1 else f"each of {done.ngroups} arms"
    return (f"Seeds were added where a verdict was open (from {schedule.first} to at most {schedule.cap} "
            f"a comparison): {len(every)} trials ran, {epochs} epochs in all{read_words(read_epochs, epochs)}; "
            "the fixed design with the same final seed count "
            f"({seeds} seeds on {on}) would have run {done.ngroups * seeds} trials, "
            f"about {fixed_epochs} epochs (each arm's mean epochs a trial).")


def read_words(read: int | None, epochs: int) -> str:
    """What of the epochs the verdicts read, and what they did not (seeds run ahead, trials stopped or failed)."""
    if read is None:
        return ""
    return f" ({read} read by the verdicts, {epochs - read} run ahead or unfinished and not read)"
