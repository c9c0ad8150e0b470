"""The toy as a task: names, main metric, schema, report (see ``trainables.common.task``)."""

from __future__ import annotations

from tests.toytask.config import ToyConfig
from tests.toytask.paper import PAPER
from tests.toytask.trainer import MEAN, ToyTrainer
from trainables.common import metrics as M
from trainables.common.parts import Curves, Table
from trainables.common.schema import Schema
from trainables.common.task import Task

TASK = Task(
    name="toy", study="toy", config=ToyConfig, metric=M.VAL_LOSS, mode="min", build=ToyTrainer,
    paper=PAPER, module=__name__,
    schema=Schema(epoch=(M.TRAIN_LOSS, M.VAL_LOSS), final=(M.TEST_LOSS, M.baseline(MEAN, M.TEST_LOSS))),
    tables=(Table("cells", "Cells compared", (M.TEST_LOSS, M.TIME_TOTAL),
                  baselines={"the mean": M.baseline(MEAN, "")}),),
    parts=(Curves(),),
)
