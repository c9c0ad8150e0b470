"""Where trials ran: the study's one note for GPUs without CUDA, and the GPU-sharing count the launcher test uses."""

from __future__ import annotations

import io

from studies.console import Console
from studies.placement import GpuFallbackNote, gpu_fallback
from tests.gpu_sharing import attempts, most_at_once, sharing, table
from trainables.common import metrics as M


def report(trial: str, pid: int, gpus: str, timestamp: int, since: float, device: str = "cpu") -> dict:
    return {"trial_id": trial, "pid": pid, M.GPU_IDS: gpus, M.DEVICE: device, "timestamp": timestamp,
            "time_since_restore": since, "node_ip": "10.77.0.2", "hostname": "rnn-worker"}


def test_the_note_is_for_trials_given_gpus_that_trained_on_the_cpu():
    assert gpu_fallback(report("a", 1, "0,1", 10, 1.0)) == (
        "note: Ray gave trials GPUs (ids 0,1 on 10.77.0.2) but CUDA is not available there: they train on the CPU")
    assert gpu_fallback(report("a", 1, "0", 10, 1.0, device="cuda")) is None
    assert gpu_fallback(report("a", 1, "", 10, 1.0)) is None


def test_the_study_prints_the_note_once():
    out = io.StringIO()
    note = GpuFallbackNote(Console(out))
    for gpus in ("", "0", "1", "0"):
        note.on_trial_result(0, [], None, report("a", 1, gpus, 10, 1.0))
    assert out.getvalue().splitlines() == [gpu_fallback(report("a", 1, "0", 10, 1.0))]
    assert note.__getstate__()["console"] is None  # Tune pickles its callbacks; the terminal stays out


def test_most_at_once_counts_overlaps_not_touching_ends():
    assert most_at_once([(0, 10), (5, 15), (9, 20)]) == 3
    assert most_at_once([(0, 10), (10, 20), (20, 30)]) == 1
    assert most_at_once([(0, 10), (2, 3), (4, 5)]) == 2
    assert most_at_once([]) == 0


def test_attempts_split_by_worker_process_and_sharing_is_per_gpu():
    rows = [report("a", 1, "0", 104, 4.0), report("a", 1, "0", 110, 10.0),  # attempt of a: 101 to 110
            report("b", 2, "0", 106, 2.0), report("b", 2, "0", 112, 8.0),  # 105 to 112
            report("c", 3, "0", 120, 3.0),  # 118 to 120, after a and b
            report("a", 4, "1", 130, 5.0), report("a", 4, "1", 140, 15.0),  # a again, elsewhere: 126 to 140
            report("d", 5, "0", 108, 1.0), report("d", 5, "0", 109, 2.0)]  # 108 to 109: a third on GPU 0
    runs = attempts(rows)
    assert [(a.trial_id, a.gpu_ids, a.start, a.end) for a in runs] == [
        ("a", ("0",), 101, 110), ("b", ("0",), 105, 112), ("c", ("0",), 118, 120), ("a", ("1",), 126, 140),
        ("d", ("0",), 108, 109)]
    assert sharing(runs) == {"0": 3, "1": 1}
    assert table(runs).splitlines()[-1] == "| 10.77.0.2 | rnn-worker | 4 | 5 | 0: 4, 1: 1 | 3 |"
