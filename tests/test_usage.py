"""A run's cost from its trials' records: CPU seconds, compute floor, spans, slots busy."""

from __future__ import annotations

import json

import pytest

from trainables.common import metrics as M
from trainables.common import usage


def write_trial(run_dir, name: str, rows: list[dict]) -> None:
    folder = run_dir / name
    folder.mkdir(parents=True)
    (folder / "result.json").write_text("".join(json.dumps(r) + "\n" for r in rows) + '{"cut short')


def row(pid: int, timestamp: int, this_iter: float, cpu: float) -> dict:
    return {"pid": pid, "timestamp": timestamp, "time_this_iter_s": this_iter, M.TIME_CPU: cpu}


def test_spans_split_where_a_retry_moved_the_trial_to_another_worker():
    rows = [row(1, 102, 2.0, 1.0), row(1, 104, 2.0, 2.0), row(2, 110, 3.0, 3.0), row(2, 111, 1.0, 4.0)]
    assert usage.spans(rows) == [(100.0, 104), (107.0, 111)]


def test_floor_and_slots_busy_of_a_run(tmp_path):
    # Two slots over 100..112: one trial busy 100-110, another 100-104 then (retried) 106-112.
    write_trial(tmp_path, "train_a", [row(1, 105, 5.0, 4.0), row(1, 110, 5.0, 8.0)])
    write_trial(tmp_path, "train_b", [row(2, 104, 4.0, 3.0), row(3, 112, 6.0, 6.0)])
    (tmp_path / "provenance.json").write_text("{}")
    found = usage.measure(str(tmp_path), cores=2, n_slots=2, wall_s=20.0)
    assert found.trials == 2 and found.cpu_s == 14.0 and found.compute_floor_s == 7.0
    assert found.trial_phase_s == 12.0
    assert found.slots_busy == pytest.approx((10 + 4 + 6) / (2 * 12))
    assert found.as_dict()["slots_busy"] == round(20 / 24, 3)
    assert found.lines()[-1] == "wall: 20.0 s = 2.86 x the compute floor"


@pytest.mark.parametrize("cores, cpus, limit, expected", [(2, 0.5, 0, 4), (2, 1, 0, 2), (2, 0.5, 3, 3),
                                                          (16, 3, 0, 5), (1, 2, 0, 1)])
def test_slots_are_the_trials_the_resources_let_run_at_once(cores, cpus, limit, expected):
    assert usage.slots(cores, cpus, limit) == expected
