"""Report parts are typed and checked when declared: a misspelt name stops the task's import, not its report."""

from __future__ import annotations

import dataclasses
import importlib
from pathlib import Path

import pytest
from fakerun import q1_run

from analysis.report import parts
from analysis.runs.read import read_run
from trainables.common import metrics as M
from trainables.common.parts import (
    Curves,
    Part,
    PartError,
    Points,
    Reach,
    Samples,
    Series,
    TokenLengths,
    kinds,
)

ROOT = Path(__file__).resolve().parents[1]
# Every task package's task.py: the three studies' and the tests' own.
TASKS = sorted(".".join(p.relative_to(ROOT).with_suffix("").parts)
               for p in (*ROOT.glob("trainables/*/task.py"), *ROOT.glob("tests/*/task.py"))
               if p.parent.name != "common")


@pytest.mark.parametrize("module", TASKS)
def test_every_tasks_parts_are_typed_and_drawn_by_analysis(module):
    assert len(TASKS) == 4
    task = importlib.import_module(module).TASK
    assert task.parts and all(isinstance(part, Part) and type(part) in parts.RENDERERS for part in task.parts)
    config_fields = {f.name for f in dataclasses.fields(task.config)}
    for part in task.parts:
        assert dataclasses.replace(part) == part  # rebuilt from its fields, checked again
        assert set(part.fields_used()) <= config_fields
        assert all(task.schema.known(m) for m in part.metrics_used())


def test_every_kind_is_drawn_by_one_renderer():
    assert set(parts.RENDERERS) == set(kinds()) and len(kinds()) == 8
    with pytest.raises(ValueError, match="Curves has a renderer already: curves"):
        parts.renders(Curves)(lambda run, part: [])


@pytest.mark.parametrize(("build", "message"), [
    (lambda: Points(M.VAL_LOSS, ()), "Points: epochs ()"),
    (lambda: Points(M.VAL_LOSS, (0, 10)), "Points: epochs (0, 10)"),
    (lambda: Reach(M.VAL_LOSS, ()), "Reach: give one or more thresholds"),
    (lambda: Series("plots/prices.csv", "Prices"), "Series: file 'plots/prices.csv'"),
    (lambda: TokenLengths("", "Tokens"), "TokenLengths: file ''"),
    (lambda: Samples(length=0), "Samples: length 0"),
])
def test_a_bad_value_is_refused_when_declared(build, message):
    with pytest.raises(PartError, match=message.replace("(", r"\(").replace(")", r"\)")):
        build()


def test_names_a_part_reads_are_checked_against_the_task_when_it_is_declared():
    stock = importlib.import_module("trainables.stock.task").TASK
    chargen = importlib.import_module("trainables.chargen.task").TASK
    with pytest.raises(PartError, match="Points: metric 'val/los' is not in the task's schema"):
        dataclasses.replace(chargen, parts=(Points("val/los", (1, 2)),))
    with pytest.raises(PartError, match="Reach: metric 'train/char' is not in the task's schema"):
        dataclasses.replace(chargen, parts=(Reach(M.VAL_LOSS, (2.0,), work="train/char"),))
    with pytest.raises(PartError, match="Curves: 'loss_fn' is not a field of StockConfig"):
        dataclasses.replace(stock, parts=(Curves(loss_field="loss_fn"),))
    with pytest.raises(PartError, match="Samples: the task does not generate"):
        dataclasses.replace(stock, parts=(Samples(),))
    with pytest.raises(PartError, match="is not a report part"):
        dataclasses.replace(stock, parts=({"kind": "curves"},))


def test_a_data_file_the_run_lacks_is_an_error_naming_it(tmp_path):
    run_dir = q1_run(tmp_path / "q1", seeds=1)
    (run_dir / "prices.csv").unlink()
    with pytest.raises(FileNotFoundError, match=r"q1/prices.csv: the report part 'Price history' reads this file"):
        parts.entries(read_run(run_dir), (Series("prices.csv", "Price history"),))
