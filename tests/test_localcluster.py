"""The test cluster's ports: Ray refuses a node one of whose ports lies in its own worker-port window."""

from __future__ import annotations

import itertools

from tests import localcluster


def test_ports_never_repeat_nor_fall_in_a_worker_window(monkeypatch):
    # The draws that once failed a run: a dashboard port (44641) inside the window 44600-44660.
    draws = itertools.chain([44650, 50010, 44641, 44641, 50020, 61000, 61000], itertools.count(61001))
    monkeypatch.setattr(localcluster, "free_port", lambda: next(draws))
    ports = localcluster.Ports()
    assert ports.windows == [range(44600, 44661), range(50000, 50061)]
    picked = [ports.one() for _ in range(3)] + [int(a) for a in ports.node(1)[1:12:2]]
    assert picked == list(range(61000, 61009))
    assert ports.node(0)[-4:] == ["--min-worker-port", "44600", "--max-worker-port", "44660"]
