"""``--seeds auto``: the searcher adds a seed only where a comparison is open, and rebuilds itself on resume."""

from __future__ import annotations

import pytest

from studies import launch, q1
from studies.searchers import adaptive, base
from trainables.common import metrics as M

X, Y = adaptive.Watch("x/0", (0, 1)), adaptive.Watch("y/0", (1, 2))  # arm 1 is shared
FIRST, CAP = 3, 6


def fake_evaluator(settle_at: dict[str, int], asked: list):
    """Comparison k settles once it has read ``settle_at[k]`` seeds (never when absent)."""

    def evaluate(limits):
        asked.append(dict(limits))
        return {k: (min(n, settle_at[k]) if n >= settle_at.get(k, 99) else n, n >= settle_at.get(k, 99))
                for k, n in limits.items()}

    return evaluate


def searcher(settle_at, asked=None, max_concurrent=0, max_trials=0):
    configs = {(arm, seed): {"arm": arm, "seed": seed} for arm in range(3) for seed in range(CAP)}
    s = adaptive.SeedSearcher(configs, [X, Y], FIRST, CAP, "val/loss", "min", max_trials, max_concurrent)
    s.use_evaluator(fake_evaluator(settle_at, [] if asked is None else asked))
    return s


def drain(s, start=0, stop_after=None):
    """Run every proposed trial to completion, one at a time in proposal order; the (arm, seed) run."""
    ran, i = [], start
    while stop_after is None or len(ran) < stop_after:
        config = s.suggest(f"t{i}")
        if config in (None, base.Searcher.FINISHED):
            return ran, config
        ran.append((config["arm"], config["seed"]))
        s.on_trial_complete(f"t{i}", {M.COMPLETED: 1})
        i += 1
    return ran, None


def test_seeds_go_only_where_a_comparison_is_open():
    ran, last = drain(searcher({"x/0": 4}))
    assert last == base.Searcher.FINISHED
    seeds = {arm: sorted(s for a, s in ran if a == arm) for arm in range(3)}
    assert seeds[0] == [0, 1, 2, 3]  # x settled at 4 seeds
    assert seeds[1] == seeds[2] == list(range(CAP))  # y open to the cap; the shared arm ran each seed once
    assert len(ran) == len(set(ran))


def test_no_seed_starts_before_a_comparison_asks_for_it():
    asked = []
    s = searcher({"x/0": 3, "y/0": 3}, asked)
    ran, last = drain(s)
    assert sorted(ran) == [(arm, seed) for arm in range(3) for seed in range(FIRST)] and last == base.Searcher.FINISHED
    assert asked == [{"x/0": 3, "y/0": 3}]


def test_a_comparison_waiting_for_its_trials_holds_up_no_other():
    s = searcher({}, max_concurrent=0)
    for i in range(9):  # the first three seeds of every arm
        assert s.suggest(f"t{i}") is not None
    for i in (0, 1, 3, 4, 6, 7):  # arms 0 and 1 finish seeds 0..2 (arm = i % 3); arm 2 still runs
        s.on_trial_complete(f"t{i}", {M.COMPLETED: 1})
    s.on_trial_complete("t2", {M.COMPLETED: 1})
    s.on_trial_complete("t5", {M.COMPLETED: 1})
    nxt = s.suggest("t9")  # x is due and open: seed 3 of its arms while y still waits for arm 2's seed 2
    assert (nxt["arm"], nxt["seed"]) in {(0, 3), (1, 3)}


def test_the_budget_stops_new_trials():
    ran, last = drain(searcher({}, max_trials=11))
    assert len(ran) == 11 and last == base.Searcher.FINISHED


def test_a_resumed_searcher_runs_the_same_trials_as_an_uninterrupted_one():
    whole, _ = drain(searcher({"x/0": 5}))
    first = searcher({"x/0": 5})
    part, _ = drain(first, stop_after=11)
    running = first.suggest("t11")  # proposed, then the driver dies
    trials = {f"t{i}": base.TuneTrial("TERMINATED", {"arm": a, "seed": s}, {M.COMPLETED: 1})
              for i, (a, s) in enumerate(part)}
    trials["t11"] = base.TuneTrial("RUNNING", dict(running))
    again = searcher({"x/0": 5})
    assert again.reconcile(trials) == {}
    again.on_trial_complete("t11", {M.COMPLETED: 1})
    rest, last = drain(again, start=12)
    assert part + [(running["arm"], running["seed"])] + rest == whole and last == base.Searcher.FINISHED


def test_q1_defaults_to_seeds_auto_with_every_comparison_watched():
    ctx, plan = launch.prepare(q1.STUDY, ["--storage-path", "/tmp/never-written"])
    assert ctx.args.seeds == "auto" and plan.record["max_seeds"] == 20 and plan.record["min_seeds"] == 3
    assert len(plan.configs) == 18 * 20 and plan.total == 18 * 3 and ctx.evaluate is not None
    reads = {w.key: len(w.arms) for w in plan.searcher.watched}
    assert reads["cells_accuracy/0"] == 2 and reads["adam/0"] == 6 and reads["persistence/0"] == 18
    assert "then a seed more wherever a comparison is open, up to 20" in plan.describe


def test_the_arms_that_train_every_epoch_start_first_in_each_seed():
    """The paper formulation's arms train all 100 epochs; started first, their looks come early and the run
    does not end with them alone (as the grid's longest_first)."""
    _, plan = launch.prepare(q1.STUDY, ["--storage-path", "/tmp/never-written"])
    s = plan.searcher
    first = [s.suggest(f"t{i}") for i in range(18)]
    assert [c["seed"] for c in first] == [0] * 18
    lengths = [100 if c["formulation"] == "paper" else 0 for c in first]
    assert lengths == sorted(lengths, reverse=True) and lengths.count(100) == 3


@pytest.mark.parametrize("argv, message", [
    (["--min-seeds", "2"], "--min-seeds and --max-seeds"), (["--max-seeds", "41"], "--min-seeds and --max-seeds"),
    (["--search", "random", "--seeds", "auto"], "takes a number of seeds")])
def test_impossible_auto_seeds_are_one_line_errors(argv, message, capsys):
    with pytest.raises(SystemExit):
        launch.prepare(q1.STUDY, argv + ["--storage-path", "/tmp/never-written"])
    assert message in capsys.readouterr().err


def test_the_reference_design_takes_auto_seeds_when_asked_for_a_claim_that_chooses():
    ctx, plan = launch.prepare(q1.STUDY, ["--design", "reference", "--storage-path", "/tmp/never-written"])
    assert ctx.args.seeds == 5  # its default: a setting confirmed over a fixed number of seeds
    ctx, plan = launch.prepare(q1.STUDY, ["--design", "reference", "--seeds", "auto", "--storage-path",
                                          "/tmp/never-written"])
    reads = {w.key: w.arms for w in plan.searcher.watched}
    assert reads["persistence/0"] == (0, 1, 2) and plan.total == 3 * 3


def test_an_integer_keeps_the_fixed_design():
    ctx, plan = launch.prepare(q1.STUDY, ["--seeds", "4", "--storage-path", "/tmp/never-written"])
    assert ctx.args.seeds == 4 and plan.total == 18 * 4 and ctx.evaluate is None
