"""Where a run's trials ran and how they shared GPUs, read from their reports (result.json rows): the two-host launcher
test and benchmarks/gpu_check.py count the most trials on one GPU at once.

Each attempt of a trial (one worker process: one ``pid``) held its GPU ids
from before its first report to after its last. Ray's ``timestamp`` counts
whole seconds (truncated), so an attempt is taken to hold them from its
first report's ``timestamp - time_since_restore + 1`` to its last report's
``timestamp``: inside the true span, so any overlap found is a real one.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

from trainables.common import metrics as M

RESOLUTION_S = 1.0  # of Ray's ``timestamp``


@dataclass(frozen=True)
class Attempt:
    trial_id: str
    node: str  # Ray's node_ip
    hostname: str
    gpu_ids: tuple[str, ...]
    start: float
    end: float


def attempts(rows: list[dict]) -> list[Attempt]:
    """One ``Attempt`` per (trial, pid) among ``rows``, in the order they appear."""
    groups: dict[tuple[str, int], list[dict]] = {}
    for row in rows:
        groups.setdefault((row["trial_id"], row["pid"]), []).append(row)
    out = []
    for (trial_id, _), group in groups.items():
        first, last = group[0], group[-1]
        ids = tuple(i for i in str(first.get(M.GPU_IDS) or "").split(",") if i)
        out.append(Attempt(trial_id, first["node_ip"], first["hostname"], ids,
                           first["timestamp"] - first["time_since_restore"] + RESOLUTION_S, float(last["timestamp"])))
    return out


def most_at_once(spans: list[tuple[float, float]]) -> int:
    """The largest number of ``(start, end)`` spans that overlap at one moment (touching ends do not)."""
    events = sorted([(end, -1) for start, end in spans if end > start] +
                    [(start, 1) for start, end in spans if end > start])
    most = now = 0
    for _, step in events:
        now += step
        most = max(most, now)
    return most


def sharing(runs: list[Attempt]) -> dict[str, int]:
    """Per GPU id: the most attempts that held it at one moment."""
    ids = sorted({i for a in runs for i in a.gpu_ids})
    return {i: most_at_once([(a.start, a.end) for a in runs if i in a.gpu_ids]) for i in ids}


def table(runs: list[Attempt]) -> str:
    """The placement table: per node, its trials and attempts, the attempts per GPU id and the most at once."""
    lines = ["| node | host | trials | attempts | attempts per GPU id | most on one GPU at once |",
             "|---|---|---|---|---|---|"]
    for node in sorted({a.node for a in runs}):
        here = [a for a in runs if a.node == node]
        per_gpu = Counter(i for a in here for i in a.gpu_ids)
        shared = sharing(here)
        lines.append(f"| {node} | {here[0].hostname} | {len({a.trial_id for a in here})} | {len(here)} | "
                     f"{', '.join(f'{i}: {n}' for i, n in sorted(per_gpu.items())) or 'none'} | "
                     f"{max(shared.values(), default=0)} |")
    return "\n".join(lines)
