"""q1 as a task: names, main metric, artifacts (see ``trainables.common.task``)."""

from __future__ import annotations

from trainables.common import metrics as M
from trainables.common.task import Task
from trainables.stock.config import StockConfig
from trainables.stock.paper import PAPER
from trainables.stock.trainer import PREDICTIONS_FILE, StockTrainer

TASK = Task(
    name="stock", study="q1", config=StockConfig,
    # Scale-free, so comparable across losses and tickers.
    metric=M.VAL_MAPE, mode="min",
    build=StockTrainer, artifacts={"predictions": PREDICTIONS_FILE},
    paper=PAPER, module=__name__,
)
