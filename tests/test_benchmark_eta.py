"""benchmarks/eta_replay.py: a run's records replayed through the live line, against the real time left."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
import eta_replay as R


def write_run(root: Path) -> Path:
    """Two slots; a 40 s trial of arm "a" then another, and one 120 s trial of arm "b" (three times the epochs)."""
    (root / "study.json").write_text(json.dumps({"study": "q2", "task": "trainables.chargen.task", "trials": 3,
                                                 "metric": "val/loss", "mode": "min", "seeds": 3}))
    for name, start, epochs, seed, pid in (("t0", 1000, 4, 0, 1), ("t1", 1000, 12, 0, 2), ("t2", 1040, 4, 1, 1)):
        config = {"epochs": epochs, "seed": seed, "steps_per_epoch": 25}
        rows = [{"trial_id": name, "config": config, "epoch": e, "timestamp": start + 10 * e, "pid": pid,
                 "time_this_iter_s": 10.0, "val/loss": 1.0, **({"completed": 1} if e == epochs else {})}
                for e in range(1, epochs + 1)]
        (root / name).mkdir()
        (root / name / "result.json").write_text("".join(json.dumps(r) + "\n" for r in rows))
    return root


def test_seconds_of_reads_the_lines_durations_back():
    assert [R.seconds_of(t) for t in ("42s", "3m05s", "2h04m")] == [42, 185, 7440]


def test_the_replay_costs_arms_the_mean_does_not(tmp_path):
    run = write_run(tmp_path)
    info, trials = R.read_json(run / "study.json"), R.recorded(run)
    costed = dict(R.replay(info, trials, 20.0, costed=True))
    plain = dict(R.replay(info, trials, 20.0, costed=False))
    # At 60 s: the 4-epoch trial of arm "a" is done (40 s), its second has run 20 of its 40 s; the 12-epoch one
    # keeps its pace (60 s of 120 s left): 60 s left, as the run had. The mean of what finished (40 s) would
    # end the long one at once: one more epoch at its pace (10 s), so the second "a" trial's 20 s are the end.
    assert costed[60.0] == pytest.approx(60.0) and plain[60.0] == pytest.approx(20.0)
    lines = R.table(run, 20.0)
    assert lines[0].endswith("3 trials planned, trial phase 2m00s") and lines[3].startswith("| 20s | 1m40s |")
