"""The live line's time left, replayed on a finished run: what it said at each minute, against the real time left.

    python benchmarks/eta_replay.py results/q2/latest        # any run folder; --every 30 for a finer grid

Feeds the run's recorded trial starts, reports and ends, in time order,
through the study's own ``ProgressCallback`` on a clock set to the records'
times: once with each trial costed by its arm (``studies.eta``: what a study
runs now) and once with one mean duration for every trial (no arms, no costs,
no planned configs). The real time left is from each minute to the end of the
trials the line knew of then: the planned ones and those started by then
(the whole trial phase for a fixed design; in a run that adds seeds where a
comparison is open, ``--seeds auto``, the seeds asked so far, as the line
says). Times are Tune's, whole seconds.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path
from types import SimpleNamespace

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from analysis.runs.trial_tables import load_task, read_json
from studies.eta import Costs
from studies.progress import ProgressCallback, format_duration
from trainables.common import usage
from trainables.common.layout import TRIAL_RESULTS

_LEFT = re.compile(r"~((?:\d+h)?(?:\d+m)?(?:\d+s)?) left")


def seconds_of(text: str) -> float:
    """``3m05s`` -> 185 (format_duration's text back)."""
    units = {"h": 3600, "m": 60, "s": 1}
    return float(sum(int(n) * units[u] for n, u in re.findall(r"(\d+)([hms])", text)))


def recorded(run_dir: Path) -> list[SimpleNamespace]:
    """Each trial: its config, its reports (time, row), start and end (whole seconds)."""
    out = []
    for path in sorted(run_dir.glob(f"*/{TRIAL_RESULTS}")):
        rows = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
        spans = usage.spans(rows)
        if not rows or not spans:
            continue
        out.append(SimpleNamespace(trial_id=rows[0]["trial_id"], config=rows[0]["config"], rows=rows,
                                   start=spans[0][0], end=spans[-1][1]))
    return sorted(out, key=lambda t: t.start)


def replay(info: dict, trials: list[SimpleNamespace], every: float, costed: bool) -> list[tuple[float, float | None]]:
    """(minute since the first start, seconds the line said were left) at every ``every`` seconds, for the run
    ``info`` (its study.json) and ``trials`` (``recorded``) describe."""
    total = int(info.get("trials") or len(trials))
    clock = SimpleNamespace(now=trials[0].start)
    extra = {"costs": Costs.of(load_task(info)).trial, "planned": [t.config for t in trials[:total]]} if costed else {}
    cb = ProgressCallback(None, total, info["metric"], info["mode"], clock=lambda: clock.now, **extra)
    live = [SimpleNamespace(trial_id=t.trial_id, config=t.config, status="PENDING", last_result={},
                            has_reported_at_least_once=False) for t in trials]
    events = sorted([(t.start, 0, i) for i, t in enumerate(trials)]
                    + [(ts, 1, i) for i, t in enumerate(trials) for ts in {r["timestamp"] for r in t.rows}]
                    + [(t.end, 2, i) for i, t in enumerate(trials)])
    begin, end = trials[0].start, max(t.end for t in trials)
    marks, out, shown = [begin + every * k for k in range(1, int((end - begin) // every) + 1)], [], []
    cb.setup(total_num_samples=total)
    for when, kind, i in events:
        while marks and marks[0] < when:
            clock.now = marks.pop(0)
            match = _LEFT.search(cb.status_text(shown))
            out.append((clock.now - begin, seconds_of(match.group(1)) if match else None))
        clock.now, trial, t = when, live[i], trials[i]
        if kind == 0:
            trial.status = "RUNNING"
            shown.append(trial)
            cb.on_trial_start(iteration=0, trials=shown, trial=trial)
        elif kind == 1:
            trial.last_result = [r for r in t.rows if r["timestamp"] <= when][-1]
            trial.has_reported_at_least_once = True
        else:
            trial.status = "TERMINATED"  # (a seed run ahead and stopped too)
            cb.on_trial_complete(iteration=0, trials=shown, trial=trial)
    return out


def known_end(trials: list[SimpleNamespace], total: int, at: float) -> float:
    """When the trials the line knows of ``at`` seconds in ended: the planned ones and those started by then (a
    seed a later look asked for, or one run ahead later, is not among them)."""
    begin = trials[0].start
    return max(t.end for i, t in enumerate(trials) if i < total or t.start - begin <= at) - begin


def table(run_dir: Path, every: float) -> list[str]:
    info = read_json(run_dir / "study.json")
    trials = recorded(run_dir)
    total = int(info.get("trials") or len(trials))
    end = max(t.end for t in trials) - trials[0].start
    rows = zip(replay(info, trials, every, True), replay(info, trials, every, False))
    auto = info.get("seeds") == "auto"
    lines = [f"{run_dir}: {info.get('study')}, {total} trials planned"
             + (" (then seeds where a comparison is open)" if auto else "") + f", trial phase {format_duration(end)}",
             "| since first start | real left (of the trials known then) | left, arms costed | error | left, one "
             + "mean | error |", "|---|---|---|---|---|---|"]
    for (at, costed), (_, plain) in rows:
        real = known_end(trials, total, at) - at
        cells = [f"{format_duration(v)} | {100 * (v - real) / real:+.0f}%" if v is not None and real > 0 else "- | -"
                 for v in (costed, plain)]
        lines.append(f"| {format_duration(at)} | {format_duration(real)} | {cells[0]} | {cells[1]} |")
    return lines


def main(argv: list[str] | None = None) -> list[str]:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("run", type=Path, help="a finished run folder (RESULTS/NAME/RUN_ID or RESULTS/NAME/latest)")
    p.add_argument("--every", type=float, default=60.0, help="seconds between two rows (default: 60)")
    args = p.parse_args(argv)
    if not (args.run / "study.json").exists() or not any(args.run.glob(f"*/{TRIAL_RESULTS}")):
        p.error(f"{args.run}: no study.json or no trial records (not a finished run folder)")
    lines = table(args.run.resolve(), args.every)
    print("\n".join(lines))
    return lines


if __name__ == "__main__":
    main()
