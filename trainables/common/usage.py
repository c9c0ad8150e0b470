"""What a run's trials cost the machine, from their own records: CPU seconds, compute floor, slots busy.

Each trial reports the CPU seconds its process spent in the trial loop
(``metrics.TIME_CPU``). A run's **compute floor** is their sum over the cores
it ran on: the wall time no scheduling could beat. Tune stamps every report
with the time it was made (``timestamp``, whole seconds) and the seconds since
the report before (``time_this_iter_s``; for the first, since the trial
started), so each trial's **span** on its worker is known too, one span per
worker when a retry moved it. **Slots busy** is the share of the slots (trials
the resources let run at once) those spans cover over the **trial phase**,
the first span's start to the last one's end: what is not covered went to
starting trials, or to waiting for the last ones.

``provenance.json`` records this for every run; ``benchmarks/run_usage.py``
prints it for any run folder.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass
from typing import Any

from ray.air.constants import TIME_THIS_ITER_S, TIMESTAMP
from ray.tune.result import PID

from trainables.common import metrics as M
from trainables.common import storage
from trainables.common.layout import TRIAL_RESULTS


@dataclass(frozen=True)
class Usage:
    trials: int
    cores: float
    slots: int
    cpu_s: float
    """Every trial's CPU seconds in the trial loop, summed."""
    compute_floor_s: float
    """``cpu_s / cores``."""
    trial_phase_s: float
    """The first trial's start to the last trial's end."""
    slots_busy: float
    """The trials' spans over ``slots * trial_phase_s`` (0 to 1)."""
    wall_s: float | None = None
    """The run's wall time, when the caller measured it (Ray's start and the trials; not the report)."""

    def as_dict(self) -> dict[str, Any]:
        return {k: round(v, 3) if isinstance(v, float) else v for k, v in asdict(self).items()}

    def lines(self) -> list[str]:
        out = [f"trials: {self.trials} on {self.cores:g} cores, {self.slots} slots",
               f"compute floor: {self.compute_floor_s:.1f} s ({self.cpu_s:.1f} CPU-s of trials / {self.cores:g} cores)",
               f"trial phase: {self.trial_phase_s:.1f} s, slots busy {100 * self.slots_busy:.1f}%"]
        if self.wall_s is not None:
            out.append(f"wall: {self.wall_s:.1f} s = {self.wall_s / self.compute_floor_s:.2f} x the compute floor"
                       if self.compute_floor_s else f"wall: {self.wall_s:.1f} s")
        return out


def slots(cores: float, cpus_per_trial: float, max_concurrent: int = 0, gpus: float = 0.0,
          gpus_per_trial: float = 0.0) -> int:
    """Trials that can run at once on ``cores`` (and ``gpus``), at most ``max_concurrent`` when that is set."""
    fits = [math.floor(have / need + 1e-9) for have, need in ((cores, cpus_per_trial), (gpus, gpus_per_trial))
            if need > 0]
    fit = max(1, min(fits)) if fits else 1
    return min(fit, max_concurrent) if max_concurrent > 0 else fit


def spans(rows: list[dict[str, Any]]) -> list[tuple[float, float]]:
    """(start, end) of a trial on each worker that reported for it, from its reports in order."""
    out: list[tuple[float, float]] = []
    pid = None
    for row in rows:
        if TIMESTAMP not in row:
            continue
        if row.get(PID) != pid or not out:
            pid = row.get(PID)
            out.append((row[TIMESTAMP] - row.get(TIME_THIS_ITER_S, 0.0), row[TIMESTAMP]))
        else:
            out[-1] = (out[-1][0], row[TIMESTAMP])
    return out


def trial_rows(run_dir: str) -> list[list[dict[str, Any]]]:
    """Every trial folder's reports, in order (lines a crash cut short are skipped)."""
    found = []
    for name in sorted(storage.list_names(run_dir)):
        text = storage.read_text(storage.join(run_dir, name, TRIAL_RESULTS))
        if not text:
            continue
        rows = []
        for line in text.splitlines():
            try:
                rows.append(json.loads(line))
            except ValueError:
                continue
        found.append(rows)
    return found


def measure(run_dir: str, cores: float, n_slots: int, wall_s: float | None = None) -> Usage:
    """The usage of the run in ``run_dir`` (see the module's docstring)."""
    trials = trial_rows(run_dir)
    cpu_s = sum(max((r.get(M.TIME_CPU, 0.0) for r in rows), default=0.0) for rows in trials)
    every = [span for rows in trials for span in spans(rows)]
    phase = max(e for _, e in every) - min(s for s, _ in every) if every else 0.0
    busy = sum(e - s for s, e in every) / (n_slots * phase) if phase > 0 else 0.0
    return Usage(trials=len(trials), cores=cores, slots=n_slots, cpu_s=cpu_s,
                 compute_floor_s=cpu_s / cores if cores else 0.0, trial_phase_s=phase,
                 slots_busy=busy, wall_s=wall_s)
