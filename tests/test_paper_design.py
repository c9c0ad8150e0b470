"""The paper's design holds exactly the arms its claims compare, for every task; the factorial holds them all."""

from __future__ import annotations

import itertools
import math

import pytest

from trainables.chargen.task import TASK as CHARGEN
from trainables.common.paper import CHOSEN, Paper
from trainables.stock.task import TASK as STOCK
from trainables.tweets.task import TASK as TWEETS


def key(arm: dict) -> tuple:
    return tuple(sorted(arm.items()))


def claimed_arms(paper: Paper) -> set[tuple]:
    """Every setting a claim's comparisons read, derived from the claims alone: each side of each comparison
    at the reference (plus its own ``at``), and a block the comparison leaves open at every one of its levels."""
    arms = set()
    for claim in paper.claims:
        for comp in claim.compares:
            if (comp.measure or claim.measure) == CHOSEN:
                continue  # the best of whatever ran
            for value in [comp.a] if comp.against else [comp.a, comp.b]:
                arm = {**paper.reference, **comp.at, comp.factor: value}
                open_blocks = [b for b in paper.blocks if b not in arm or b in comp.over]
                for levels in itertools.product(*(paper.factors[b] for b in open_blocks)):
                    arms.add(key({**arm, **dict(zip(open_blocks, levels))}))
    return arms


@pytest.mark.parametrize("task", [STOCK, CHARGEN, TWEETS], ids=lambda t: t.study)
def test_the_paper_design_is_exactly_the_arms_the_claims_compare(task):
    design = {key(a) for a in task.paper.one_at_a_time()}
    assert len(design) == len(task.paper.one_at_a_time())  # no arm twice
    assert design == claimed_arms(task.paper)


def test_q1s_design_is_the_papers_fifteen_plus_the_formulation():
    design = STOCK.paper.one_at_a_time()
    paper_only = [a for a in design if a["formulation"] == "returns"]
    assert len(design) == 18 and len(paper_only) == 15  # §2.1 three cells, §2.2-2.4 one factor per cell
    assert sum(a["formulation"] == "paper" for a in design) == 3


@pytest.mark.parametrize("task", [STOCK, CHARGEN, TWEETS], ids=lambda t: t.study)
def test_the_factorial_holds_the_paper_design(task):
    factorial = {key(a) for a in task.paper.factorial()}
    assert {key(a) for a in task.paper.one_at_a_time()} <= factorial
    sizes = [len(levels) for levels in task.paper.factors.values()]
    assert len(factorial) == math.prod(sizes)
