"""``--seeds auto``: the searcher adds a seed only where a comparison is open, and rebuilds itself on resume."""

from __future__ import annotations

import pytest

from studies import launch, q1
from studies.searchers import adaptive, base
from trainables.common import metrics as M
from trainables.common.config import to_dict

X, Y = adaptive.Watch("x/0", (0, 1)), adaptive.Watch("y/0", (1, 2))  # arm 1 is shared
FIRST, CAP = 3, 6


def fake_evaluator(settle_at: dict[str, int], asked: list):
    """Comparison k settles once it has read ``settle_at[k]`` seeds (never when absent)."""

    def evaluate(limits):
        asked.append(dict(limits))
        return {k: (min(n, settle_at[k]) if n >= settle_at.get(k, 99) else n, n >= settle_at.get(k, 99))
                for k, n in limits.items()}

    return evaluate


def searcher(settle_at, asked=None, max_concurrent=0, max_trials=0, slots=None):
    configs = {(arm, seed): {"arm": arm, "seed": seed} for arm in range(3) for seed in range(CAP)}
    s = adaptive.SeedSearcher(configs, [X, Y], FIRST, CAP, "val/loss", "min", max_trials, max_concurrent,
                              None if slots is None else lambda: slots)
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
    assert ctx.args.seeds == "auto" and plan.manifest["max_seeds"] == 20 and plan.manifest["min_seeds"] == 3
    assert len(plan.configs) == 18 * 20 and plan.total == 18 * 3 and ctx.evaluate is not None
    # The live line's time left knows the first seeds' trials, in order; the seeds a look adds are not planned.
    assert plan.planned == [to_dict(c) for c in plan.configs[:18 * 3]]
    reads = {w.key: len(w.arms) for w in plan.searcher.watched}
    assert reads["cells_accuracy/0"] == 2 and reads["adam/0"] == 6 and reads["persistence/0"] == 18
    assert "then a seed more wherever a comparison is open, up to 20" in plan.describe


def test_a_comparison_the_command_line_leaves_one_sided_is_not_watched():
    """``--loss mse``: MAPE loss is run by no arm, so the loss comparisons are "not run", and no seed is added
    for them (a comparison that cannot be formed is open, never settled, in analysis)."""
    _, plan = launch.prepare(q1.STUDY, ["--loss", "mse", "--storage-path", "/tmp/never-written"])
    keys = {w.key for w in plan.searcher.watched}
    assert not any(k.startswith("mape_loss/") for k in keys)
    assert {"cells_accuracy/0", "adam/0", "persistence/0"} <= keys


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


def resumable(tmp_path, max_seeds: int) -> list[str]:
    """A --seeds auto run of q1 on disk, made with ``max_seeds``; the arguments that resume it."""
    import json

    run = tmp_path / "capped" / "run-1"
    run.mkdir(parents=True)
    (run / "study.json").write_text(json.dumps({"study": "q1", "seeds": "auto", "min_seeds": 3,
                                                "max_seeds": max_seeds}))
    return ["--storage-path", str(tmp_path), "--name", "capped", "--resume", "run-1"]


def test_resuming_with_a_higher_cap_is_refused_before_ray_starts(tmp_path, capsys):
    """The repeated intervals were built for the cap fixed before the data: a higher one afterwards voids them."""
    argv = resumable(tmp_path, max_seeds=20)
    with pytest.raises(SystemExit):
        launch.prepare(q1.STUDY, argv + ["--max-seeds", "40"])
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1
    assert "--max-seeds 40" in err and "cap of 20 seeds" in err and "fixed before the data" in err
    ctx, plan = launch.prepare(q1.STUDY, argv)  # the same cap, or a lower one, continues
    assert ctx.resuming and plan.searcher.cap == 20
    _, lower = launch.prepare(q1.STUDY, argv + ["--max-seeds", "12"])
    assert lower.searcher.cap == 12


def test_an_integer_keeps_the_fixed_design():
    ctx, plan = launch.prepare(q1.STUDY, ["--seeds", "4", "--storage-path", "/tmp/never-written"])
    assert ctx.args.seeds == 4 and plan.total == 18 * 4 and ctx.evaluate is None


def started(s, trial_id):
    config = s.suggest(trial_id)
    return None if config in (None, base.Searcher.FINISHED) else (config["arm"], config["seed"])


def test_a_free_slot_runs_the_next_seed_ahead_and_asked_for_seeds_come_first():
    s = searcher({"x/0": 4}, slots=4)
    assert [started(s, f"t{i}") for i in range(9)] == [(arm, seed) for seed in range(3) for arm in range(3)]
    for i in range(8):  # all but (2, 2): y still waits for it, x is looked at, open, and asks for seed 3
        s.on_trial_complete(f"t{i}", {M.COMPLETED: 1})
    assert [started(s, f"t{i}") for i in range(9, 12)] == [(0, 3), (1, 3), (0, 4)]  # x's seed 4 runs ahead
    assert started(s, "t12") is None  # every slot busy
    assert [s.asked(f"t{i}") for i in (9, 10, 11)] == [True, True, False]
    s.on_trial_complete("t9", {M.COMPLETED: 1})
    assert started(s, "t13") == (1, 4)  # x's seed 4 on its other arm, then the next comparison's
    assert not s.stops("t11")  # x is open: its seed 4 may be asked for
    s.on_trial_complete("t10", {M.COMPLETED: 1})  # x is looked at 4 seeds and settles there
    assert started(s, "t14") == (2, 3) and s.settled == {"x/0"}  # y's next seed, while (2, 2) still runs
    assert s.stops("t11")  # arm 0 is read by x alone: nothing will read its seed 4
    assert not s.stops("t13")  # arm 1: y is open and reads it
    assert not s.stops("t8")  # asked for by y


def test_no_seed_runs_ahead_when_nothing_asked_for_runs():
    s = searcher({"x/0": 3, "y/0": 3}, slots=4)
    ran, last = drain(s)
    assert sorted(ran) == [(arm, seed) for arm in range(3) for seed in range(FIRST)] and last == base.Searcher.FINISHED


class FakeTrial:
    def __init__(self, trial_id, status="RUNNING"):
        self.trial_id, self.status = trial_id, status


class FakeController:
    def __init__(self, searcher, trials):
        self.search_alg, self.trials = base.DurableSearchGenerator(searcher), trials

    def get_trials(self):
        return self.trials


def test_the_scheduler_stops_unread_seeds_and_places_asked_for_ones_first():
    s = searcher({"x/0": 4}, slots=4)
    for i in range(9):
        started(s, f"t{i}")
    for i in range(8):
        s.on_trial_complete(f"t{i}", {M.COMPLETED: 1})
    for i in range(9, 12):
        started(s, f"t{i}")
    scheduler = adaptive.RunAheadScheduler()
    pending = [FakeTrial("t11", "PENDING"), FakeTrial("t10", "PENDING")]
    controller = FakeController(s, pending)
    assert scheduler.choose_trial_to_run(controller).trial_id == "t10"  # asked for, though proposed later
    assert scheduler.on_trial_result(controller, FakeTrial("t11"), {}) == adaptive.TrialScheduler.CONTINUE
    s.settled.add("x/0")
    assert scheduler.on_trial_result(controller, FakeTrial("t11"), {}) == adaptive.TrialScheduler.STOP
    assert scheduler.on_trial_result(controller, FakeTrial("t10"), {}) == adaptive.TrialScheduler.CONTINUE


@pytest.mark.parametrize("argv, ahead", [([], True), (["--no-run-ahead"], False), (["--max-trials", "60"], False)])
def test_run_ahead_is_on_by_default_and_off_with_the_flag_or_a_budget(argv, ahead):
    _, plan = launch.prepare(q1.STUDY, [*argv, "--storage-path", "/tmp/never-written"])
    assert (plan.searcher.slots is not None) is ahead and plan.manifest["run_ahead"] is ahead
    assert isinstance(plan.tune_config.scheduler, adaptive.RunAheadScheduler) is ahead
    assert ("free slots run seeds ahead" in plan.describe) is ahead


def test_a_seed_run_ahead_gives_its_slot_to_asked_for_seeds_and_may_run_again():
    configs = {(arm, seed): {"arm": arm, "seed": seed} for arm in range(3) for seed in range(CAP)}
    p, r = adaptive.Watch("p/0", (2,)), adaptive.Watch("r/0", (0, 1))
    s = adaptive.SeedSearcher(configs, [p, r], FIRST, CAP, "val/loss", "min", slots=lambda: 3)
    s.use_evaluator(fake_evaluator({}, []))
    for i in range(9):
        started(s, f"t{i}")
    for i in range(7):  # all but (1, 2) and (2, 2)
        s.on_trial_complete(f"t{i}", {M.COMPLETED: 1})
    assert started(s, "t9") == (2, 3)  # run ahead for p
    s.on_trial_complete("t8", {M.COMPLETED: 1})  # p is looked at and asks for seed 3, which runs already
    assert started(s, "t10") == (2, 4) and s.asked("t9") and not s.asked("t10")
    s.on_trial_complete("t7", {M.COMPLETED: 1})  # r asks for seed 3 on two arms; one slot freed
    assert [started(s, "t11"), started(s, "t12")] == [(0, 3), (1, 3)]
    assert not s.stops("t9") and s.stops("t10")  # the seed run ahead gives way, once
    assert not s.stops("t10") and (2, 4) not in s.taken()
    s.on_trial_complete("t10", {M.COMPLETED: 0})
    s.on_trial_complete("t11", {M.COMPLETED: 1})
    assert started(s, "t13") == (2, 4)  # its seed runs again when a slot frees
