"""The live line's time left (studies/eta.py): arms, costs and slots."""

from __future__ import annotations

import pytest

from studies import eta as E
from trainables.chargen.config import CharConfig
from trainables.chargen.paper import PAPER
from trainables.chargen.task import TASK
from trainables.common.config import TrialConfig

R, T = E.Running, E.Trial


def finished(*seconds: float, arm=None, cost=1.0) -> list[E.Trial]:
    return [T(arm, cost, s) for s in seconds]


def test_time_left_waits_for_something_to_tell():
    assert E.time_left([], [], [T()] * 4, slots=2) is None
    assert E.time_left([R(5.0, 0, 10)], [], [], slots=1) is None  # no epoch reported yet
    assert E.time_left([R(5.0, 2, None)], [], [], slots=1) is None  # epochs unknown
    assert E.time_left([], [], [], slots=1) == 0.0


def test_time_left_from_the_pace_of_running_trials_and_the_finished_ones():
    # Two running: 10 s for 2 of 10 epochs (40 s left), 30 s for 3 of 6 epochs (30 s left).
    running = [R(10.0, 2, 8), R(30.0, 3, 3)]
    # Nothing finished yet: a waiting trial takes the projected durations' mean, (50 + 60) / 2 = 55 s, in the
    # slot that frees first: 30 + 55 and 40 + 55.
    assert E.time_left(running, [], [T(), T()], slots=2) == pytest.approx(95)
    # With finished trials their mean duration is used for every trial, 20 s each: the running ones have
    # 10 s of it left (early stopping makes planned epochs a poor guide), the waiting 20 s each; the one
    # that has outlived it gets one more epoch at its pace (10 s), not zero.
    assert E.time_left(running, finished(10.0, 30.0), [T(), T()], slots=2) == pytest.approx(30)
    # The longest running trial bounds it: nothing queued, fast slots to spare.
    assert E.time_left(running, finished(40.0), [], slots=4) == pytest.approx(30)
    # The last trial, past the others' mean: one more epoch at its pace, at most what its epochs leave.
    assert E.time_left([R(400.0, 2, 3)], finished(300.0), [], slots=2) == pytest.approx(200)
    assert E.time_left([R(400.0, 4, 1)], finished(300.0), [], slots=2) == pytest.approx(100)
    # A trial that has not reported yet is expected to take the typical duration.
    assert E.time_left([R(5.0, 0, 10)], finished(20.0), [], slots=1) == pytest.approx(15)


def test_a_trial_takes_its_arms_mean_and_an_arm_not_seen_its_cost():
    done = finished(100.0, 120.0, arm="ref", cost=1.0) + finished(300.0, arm="b128", cost=2.0)
    # A waiting "ref" takes ref's mean (110 s), a "b128" b128's (300 s), a new arm of cost 3 the seconds a unit
    # of every finished trial (520 s for 4 units) times 3; a searched trial not proposed yet the mean (173 s).
    for arm, cost, seconds in [("ref", 1.0, 110), ("b128", 2.0, 300), ("paper", 3.0, 390), (None, None, 520 / 3)]:
        assert E.time_left([], done, [T(arm, cost)], slots=2) == pytest.approx(seconds)
    # A running trial of an arm that finished: what is left of that arm's mean, not of the run's.
    assert E.time_left([R(50.0, 5, 35, "b128", 2.0)], done, [], slots=1) == pytest.approx(250)


def test_waiting_trials_go_to_the_slot_that_frees_first_in_their_order():
    """Trials are not divisible: two slots, two 100 s trials left after one of 300 s take 300 s, not 250."""
    done = finished(100.0, arm="short") + finished(300.0, arm="long", cost=3.0)
    queue = [T("long", 3.0), T("short"), T("short")]
    assert E.time_left([], done, queue, slots=2) == pytest.approx(300)
    assert E.time_left([], done, queue[::-1], slots=2) == pytest.approx(400)  # the long one last: it ends alone
    assert E.time_left([R(50.0, 1, 1, "short")], done, queue, slots=2) == pytest.approx(300)  # 50 + 100 + 100


def test_before_any_trial_finishes_an_arm_not_seen_scales_the_running_ones_pace_by_cost():
    # The reference runs at 10 s an epoch for 40 epochs (400 s); batch 128 costs twice as much and waits.
    running = [R(20.0, 2, 38, "ref", 1.0)]
    assert E.time_left(running, [], [T("b128", 2.0)], slots=1) == pytest.approx(380 + 800)


def test_costs_read_a_tasks_config_less_its_seed():
    costs = E.Costs.of(TASK)
    base = {**PAPER.settings, "loss": "ce", "formulation": "sequence"}
    ref, b128 = costs.trial({**base, "seed": 0, "batch_size": 64}), costs.trial({**base, "batch_size": 128})
    assert ref.arm == costs.trial({**base, "seed": 3, "batch_size": 64}).arm != b128.arm
    assert (b128.cost, b128.fixed) == (CharConfig(**{**base, "batch_size": 128}).work, True)
    assert not costs.trial({**base, "patience": 5}).fixed  # patience may end it early
    assert costs.trial({"epochs": 7, "no_such_field": 1}) == E.Trial(costs.arm({"epochs": 7, "no_such_field": 1}), 7.0)


def test_a_running_trial_of_fixed_length_keeps_its_pace_and_tells_its_arms_duration():
    """q2's batch 128 trains its 40 rounds whatever the others did: its pace, not the finished arms' scaled
    seconds, says when it and the next seed's batch 128 end."""
    done = finished(170.0, arm="ref")
    running = [R(80.0, 10, 30, "b128", 2.0, fixed=True)]  # 8 s a round: 240 s left, 320 s in all
    assert E.time_left(running, done, [T("b128", 2.0)], slots=1) == pytest.approx(240 + 320)
    # Once one of its arm has finished (in 360 s: its last epoch, then a final test), at least what is left of that.
    assert E.time_left(running, done + finished(360.0, arm="b128", cost=2.0), [], slots=1) == pytest.approx(280)
    # Without a fixed length (patience could end it) the finished arm's seconds, scaled by cost, count.
    loose = [R(80.0, 10, 30, "b128", 2.0)]
    assert E.time_left(loose, done, [T("b128", 2.0)], slots=1) == pytest.approx((340 - 80) + 340)


def test_a_q2_trials_work_counts_its_character_steps():
    ref = CharConfig(**{**PAPER.settings, "loss": "ce", "batch_size": 64, "formulation": "sequence"})
    b128 = CharConfig(**{**PAPER.settings, "loss": "ce", "batch_size": 128, "formulation": "sequence"})
    paper = CharConfig(**{**PAPER.settings, "loss": "ce", "batch_size": 64, "formulation": "paper", "epochs": 8})
    # A round: 3 x 25 updates x 64 windows x 100 characters, and 20,000 validation characters (paper: a
    # 100-character window each).
    assert ref.work == 40 * (3 * 25 * 64 * 100 + 20_000)
    assert b128.work / ref.work == pytest.approx((3 * 25 * 128 * 100 + 20_000) / (3 * 25 * 64 * 100 + 20_000))
    assert paper.work == 8 * (3 * 25 * 64 * 100 + 20_000 * 100)
    full = CharConfig(steps_per_epoch=0, epochs=3, formulation="paper", seq_len=50)
    assert full.work == 3 * 50  # a full pass: the corpus every trial shares sets the scale
    assert CharConfig(budget_s=150.0).work == 150.0 == TrialConfig(budget_s=150.0).work
    assert TrialConfig(epochs=12).work == 12.0
