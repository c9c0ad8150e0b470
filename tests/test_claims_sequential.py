"""Claims of a run that added seeds while verdicts were open: read seed by seed, as the run went."""

from __future__ import annotations

import dataclasses

import pytest
from test_claims import AS_REPORTED, q1_design

from analysis.verdicts import claims as C
from analysis.verdicts import effort, method, sequential
from trainables.common.layout import AUTO_SEEDS
from trainables.stock.paper import PAPER as Q1

DESIGN = {"seeds": AUTO_SEEDS, "min_seeds": 3, "max_seeds": 20}


def adaptive(run):
    run.info.update(DESIGN)
    return {r.claim.key: r for r in C.evaluate(run)}


def test_clear_claims_settle_early_and_say_where():
    results = adaptive(q1_design(AS_REPORTED, seeds=20))
    assert {k: r.verdict for k, r in results.items()} == {k: C.SUPPORTED for k in results}
    for r in results.values():
        assert all(c.stop and c.stop.settled and c.result.n == c.stop.n < 20 for c in r.comparisons)
        assert r.seeds_words() == f"settled at {max(c.stop.n for c in r.comparisons)} seeds"
        assert r.seeds_words() in C.sentence(r)
    text = method.method(list(results.values()))
    assert "Lan–DeMets" in text and "Schuirmann" in text and "Berger" in text
    assert "All 7 claims run together: 2 of the 7 that hold one by one still hold by Holm's step-down" in text


def test_holm_over_the_claims_drops_a_claim_that_holds_only_alone():
    results = adaptive(q1_design({**AS_REPORTED, ("cell", "gru"): -0.38}, seeds=20, noise=0.05))
    alone = results["cells_accuracy"]  # gru − lstm = −0.05 with noise 0.05 a trial: settles late, narrowly
    assert alone.verdict == C.SUPPORTED
    assert method.holds(alone, 1) and not method.holds(alone, 7)
    assert method.holm_count(list(results.values())) < 7


def test_the_verdict_is_the_first_settled_look_and_later_seeds_do_not_change_it():
    early = adaptive(q1_design(AS_REPORTED, seeds=20))["cells_accuracy"]
    more = q1_design(AS_REPORTED, seeds=20)
    more.trials.loc[more.trials["config/seed"] >= 12, "test/mape"] += 5.0  # seeds after the stop say otherwise
    late = adaptive(more)["cells_accuracy"]
    assert [c.stop.n for c in late.comparisons] == [c.stop.n for c in early.comparisons]
    assert late.verdict == C.SUPPORTED


def test_an_open_comparison_at_the_cap_says_how_many_seeds_would_settle_it():
    effects = {**AS_REPORTED, ("cell", "gru"): -0.32}  # gru − lstm = −0.02, margin 0.015, noise 0.05
    result = adaptive(q1_design(effects, seeds=20, noise=0.05))["cells_accuracy"]
    first = result.comparisons[0]
    assert first.verdict == C.INCONCLUSIVE and first.stop.n == 20
    need = first.seeds_needed
    assert need and need > 20
    assert result.seeds_words() == f"open at the cap of 20 seeds: about {need} would settle it{C.NEW_RUN}"
    assert "new run" in C.NEW_RUN
    # the repeated interval at the cap is wider than the one-look interval on the same seeds
    run = q1_design(effects, seeds=20, noise=0.05)
    fixed = C.compare(result.claim, result.claim.compares[0], Q1.reference, run.trials, run.history)
    assert first.result.ci_high - first.result.ci_low > fixed.result.ci_high - fixed.result.ci_low


def test_fewer_seeds_than_the_first_look_are_open():
    result = adaptive(q1_design(AS_REPORTED, seeds=2))["cells_accuracy"]
    assert result.verdict == C.INCONCLUSIVE
    assert result.seeds_words() == "open at 2 seeds"


def test_a_best_on_validation_choice_is_made_on_the_seeds_looked_at():
    run = q1_design(AS_REPORTED, seeds=20)
    result = adaptive(run)["persistence"]
    comp = result.comparisons[0]
    assert "cell=gru" in comp.label and comp.stop.settled
    assert comp.result.n == comp.stop.n == pytest.approx(len(comp.seeds))
    assert sequential.LookSchedule.of(run.info) == sequential.LookSchedule(3, 20)
    assert comp.stop.candidates == 18 and comp.stop.levels == sequential.Levels(18, 36, 36)
    words = comp.evidence()
    assert "simultaneous over the 18 arms chosen among" in words
    assert f"chosen on validation on seeds 0–{comp.stop.n - 1} among 18 arms" in words and "Bonferroni" in words


def test_the_report_says_what_the_run_spent_against_the_fixed_design():
    run = q1_design(AS_REPORTED, seeds=4)
    trials = run.trials
    run = dataclasses.replace(run, trials=trials[~((trials["config/seed"] == 3) & (trials["config/cell"] != "gru"))])
    assert effort.spent(run) == ""  # a fixed number of seeds
    run.info.update(DESIGN)
    line = effort.spent(run)
    assert f"{len(run.trials)} trials ran, {10 * len(run.trials)} epochs in all" in line
    assert "(4 seeds on each of 18 arms) would have run 72 trials, about 720 epochs" in line


def test_a_run_of_one_arm_counts_its_seeds_on_that_arm():
    run = q1_design(AS_REPORTED, seeds=6)
    first = run.trials.iloc[0]
    one_arm = (run.trials["config/cell"] == first["config/cell"]) & (run.trials["config/loss"] == first["config/loss"])
    one_arm &= (run.trials["config/optimizer"] == first["config/optimizer"])
    one_arm &= (run.trials["config/dropout"] == first["config/dropout"])
    one_arm &= (run.trials["config/formulation"] == first["config/formulation"])
    run = dataclasses.replace(run, trials=run.trials[one_arm])
    run.info.update(DESIGN)
    assert run.groups() == []
    assert "(6 seeds on its one arm) would have run 6 trials, about 60 epochs" in effort.spent(run)


def test_the_run_side_asks_how_comparisons_stand_on_their_first_seeds():
    run = q1_design(AS_REPORTED, seeds=20)
    run.info.update(DESIGN)
    first = {r.claim.key: r for r in C.evaluate(run)}["cells_accuracy"].comparisons[0].stop
    standing = C.standing(run, {"cells_accuracy/0": 20, "cells_accuracy/1": 2, "nothing/0": 5})
    assert standing["cells_accuracy/0"] == (first.n, True)
    assert standing["cells_accuracy/1"] == (2, False) and "nothing/0" not in standing


def test_a_comparison_that_cannot_be_formed_yet_waits_and_is_looked_at_again():
    run = q1_design(AS_REPORTED, seeds=6)
    run.info.update(DESIGN)
    trials = run.trials
    adagrad = trials.loc[(trials["config/optimizer"] == "adagrad") & (trials["config/seed"] == 0), "trial_id"]
    late = dataclasses.replace(run, history=run.history[~run.history["trial_id"].isin(adagrad)])  # not on disk yet
    assert C.standing(late, {"adam/2": 6, "adam/0": 6})["adam/2"] == (0, False)  # open: never settled for good
    assert C.standing(run, {"adam/2": 6})["adam/2"][1]  # once the curves are there, the look settles it
    gru_only = dataclasses.replace(run, trials=trials[trials["config/cell"] == "gru"])
    assert C.standing(gru_only, {"cells_accuracy/0": 5}) == {"cells_accuracy/0": (0, False)}


def test_the_spent_line_parts_the_epochs_the_verdicts_read_from_seeds_run_past_their_stop():
    """Every comparison settles within the first seeds: the trials of later seeds ran ahead and are not read."""
    run = q1_design(AS_REPORTED, seeds=20)
    results = list(adaptive(run).values())
    stops = [c.stop.n for r in results for c in r.comparisons]
    epochs = run.trials.set_index("trial_id")["epochs_run"]
    seed = run.trials.set_index("trial_id")["config/seed"]
    never = int(epochs[seed >= max(stops)].sum())  # past every comparison's stop
    surely = int(epochs[seed < min(stops)].sum())  # persistence reads every arm, and no comparison stops sooner
    read = {tid for r in results for c in r.comparisons for tid in c.read}
    assert set(seed[seed < min(stops)].index) <= read and not read & set(seed[seed >= max(stops)].index)
    total = int(epochs.sum())
    line = effort.spent(run, results)
    got = int(line.split("epochs in all (")[1].split(" read by the verdicts")[0])
    assert surely <= got <= total - never and never > 0
    assert f"({got} read by the verdicts, {total - got} run ahead or unfinished and not read)" in line
    assert "read by the verdicts" not in effort.spent(run)  # without the verdicts, the total alone
