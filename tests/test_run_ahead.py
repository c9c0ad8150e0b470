"""Seeds run ahead never change a verdict: the same trial results, timed two ways, give the same decisions.

A small stand-in for Tune drives ``SeedSearcher``: ``slots`` trials at a time,
each (arm, seed) taking its own number of ticks, a free slot asking the
searcher for a trial, and a seed that ran ahead stopped at its next report once
nothing will read it or an asked-for seed wants its slot (``RunAheadScheduler``'s
rule). The evaluator reads only
finished trials, as the real one reads the run folder.
"""

from __future__ import annotations

import random

import pytest

from studies.searchers import adaptive, base
from trainables.common import metrics as M

ARMS, FIRST, CAP = 4, 3, 10
WATCHED = [adaptive.Watch("a/0", (0, 1)), adaptive.Watch("b/0", (1, 2)), adaptive.Watch("c/0", (0, 1, 2, 3))]


class Results:
    """Fixed results of every (arm, seed); a comparison settles at the first look (3, 4, ...) where the mean of its
    arms' spread over the seeds read passes a bar that falls with the seeds."""

    def __init__(self, rng: random.Random) -> None:
        self.value = {(arm, seed): rng.gauss(0.3 * arm, 1.0) for arm in range(ARMS) for seed in range(CAP)}
        self.finished: set[tuple[int, int]] = set()
        self.reads: dict[str, list[tuple[int, ...]]] = {}  # comparison -> the seeds each look read

    def evaluate(self, limits):
        out = {}
        for w in WATCHED:
            if w.key not in limits:
                continue
            seeds = []
            while len(seeds) < limits[w.key] and all((arm, len(seeds)) in self.finished for arm in w.arms):
                seeds.append(len(seeds))
            stop = next((n for n in range(FIRST, len(seeds) + 1) if self.settles(w, n)), None)
            read = seeds if stop is None else seeds[:stop]
            self.reads.setdefault(w.key, []).append(tuple(read))
            out[w.key] = (len(read), stop is not None)
        return out

    def settles(self, w: adaptive.Watch, n: int) -> bool:
        spread = [max(self.value[a, s] for a in w.arms) - min(self.value[a, s] for a in w.arms) for s in range(n)]
        return sum(spread) / n > 2.2 / n ** 0.5


def run(results: Results, slots: int, ahead: bool, ticks, stop_after: int | None = None):
    """Drive a searcher to the end (or ``stop_after`` ticks); the searcher and what it started, stopped, finished."""
    configs = {(arm, seed): {"arm": arm, "seed": seed} for arm in range(ARMS) for seed in range(CAP)}
    s = adaptive.SeedSearcher(configs, WATCHED, FIRST, CAP, "val/loss", "min", 0, slots,
                              (lambda: slots) if ahead else None)
    s.use_evaluator(results.evaluate)
    return s, drive(s, results, slots, ticks, stop_after=stop_after)


def drive(s, results: Results, slots: int, ticks, clock: int = 0, stop_after: int | None = None, first_id: int = 0,
          running: dict | None = None):
    running = dict(running or {})  # trial id -> (tick it ends, (arm, seed))
    started, stopped, next_id, finished = [], [], first_id, False
    while not finished or running:
        while not finished and len(running) < slots:
            config = s.suggest(f"t{next_id}")
            if config is None:
                break
            if config == base.Searcher.FINISHED:
                finished = True
                break
            key = (config["arm"], config["seed"])
            running[f"t{next_id}"], next_id = (clock + ticks(key), key), next_id + 1
            started.append(key)
        assert running or finished, "nothing runs and the searcher is not finished"
        clock += 1
        if stop_after is not None and clock >= stop_after:
            return {"started": started, "stopped": stopped, "clock": clock, "running": running, "next": next_id}
        for tid, (end, key) in sorted(running.items()):
            if s.stops(tid):  # a report: the scheduler stops what nothing will read, or what gives way
                del running[tid]
                stopped.append(key)
                s.on_trial_complete(tid, {M.COMPLETED: 0})
            elif clock >= end:
                del running[tid]
                results.finished.add(key)
                s.on_trial_complete(tid, {M.COMPLETED: 1})
    return {"started": started, "stopped": stopped, "clock": clock}


def decisions(s: adaptive.SeedSearcher, results: Results):
    """Whether each comparison settled, and the seeds its verdict read (its last look, up to where it stopped)."""
    return {w.key: (w.key in s.settled, results.reads[w.key][-1]) for w in WATCHED}


@pytest.mark.parametrize("slots", [2, 3, 5])
@pytest.mark.parametrize("case", range(12))
def test_the_same_results_timed_with_and_without_run_ahead_give_the_same_verdicts_on_the_same_seeds(case, slots):
    rng = random.Random(case)
    cost = {(arm, seed): rng.randint(1, 9) for arm in range(ARMS) for seed in range(CAP)}
    plain_results, ahead_results = Results(random.Random(100 + case)), Results(random.Random(100 + case))
    plain, plain_run = run(plain_results, slots, False, cost.get)
    ahead, ahead_run = run(ahead_results, slots, True, lambda key: cost[key] + (key[1] * 7 + key[0]) % 3)
    assert decisions(ahead, ahead_results) == decisions(plain, plain_results)
    for reads in ahead_results.reads.values():  # every look read the first seeds, in order
        assert all(r == tuple(range(len(r))) for r in reads)
    assert len(ahead_run["started"]) == len(set(ahead_run["started"]))  # each (arm, seed) once
    read = {(arm, seed) for w in WATCHED for arm in w.arms for seed in ahead_results.reads[w.key][-1]}
    assert read <= set(plain_run["started"]) and read <= ahead_results.finished  # read: what the plain run ran


def test_run_ahead_fills_slots_and_stops_what_no_comparison_reads():
    """Across the cases, seeds run ahead and shorten the run, and some are stopped once their comparison settled."""
    ran_ahead = stopped = faster = 0
    for case in range(12):
        rng = random.Random(case)
        cost = {(arm, seed): rng.randint(1, 9) for arm in range(ARMS) for seed in range(CAP)}
        plain_run = run(Results(random.Random(100 + case)), 3, False, cost.get)[1]
        ahead_run = run(Results(random.Random(100 + case)), 3, True, cost.get)[1]
        ran_ahead += len(ahead_run["started"]) > len(plain_run["started"])
        stopped += bool(ahead_run["stopped"])
        faster += ahead_run["clock"] < plain_run["clock"]
        assert ahead_run["clock"] <= plain_run["clock"] + max(cost.values())
        assert not set(ahead_run["stopped"]) & set(plain_run["started"])  # only what the plain run never needed
    assert ran_ahead >= 6 and stopped >= 1 and faster >= 6


def test_a_run_ahead_resumed_after_a_kill_decides_as_the_one_left_alone():
    rng = random.Random(7)
    cost = {(arm, seed): rng.randint(1, 9) for arm in range(ARMS) for seed in range(CAP)}
    whole_results = Results(random.Random(107))
    whole, _ = run(whole_results, 3, True, cost.get)
    results = Results(random.Random(107))
    first, part = run(results, 3, True, cost.get, stop_after=25)
    trials = {tid: base.TuneTrial("RUNNING", dict(first.configs[key])) for tid, (_, key) in part["running"].items()}
    for tid, key in first.assigned.items():
        if tid not in trials:
            trials[tid] = base.TuneTrial("TERMINATED", dict(first.configs[key]),
                                         {M.COMPLETED: 1 if key in results.finished else 0})
    again = adaptive.SeedSearcher(first.configs, WATCHED, FIRST, CAP, "val/loss", "min", 0, 3, lambda: 3)
    again.use_evaluator(results.evaluate)
    assert again.reconcile(trials) == {}
    rest = drive(again, results, 3, cost.get, clock=part["clock"], first_id=part["next"], running=part["running"])
    assert decisions(again, results) == decisions(whole, whole_results)
    assert len(rest["started"]) == len(set(rest["started"])) and not set(rest["started"]) & set(first.assigned.values())
