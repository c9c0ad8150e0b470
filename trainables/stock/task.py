"""q1 as a task: names, main metric, metric schema, report tables, artifacts (see ``trainables.common.task``)."""

from __future__ import annotations

from trainables.common import metrics as M
from trainables.common.parts import Curves, Predictions, Series, Table
from trainables.common.schema import Schema
from trainables.common.task import Task
from trainables.stock.config import StockConfig
from trainables.stock.data import PRICES_FILE
from trainables.stock.paper import PAPER
from trainables.stock.trainer import PERSISTENCE, PREDICTIONS_FILE, StockTrainer

ERRORS = (M.TEST_RMSE, M.TEST_MAE, M.TEST_MAPE)
SCHEMA = Schema(
    epoch=(M.TRAIN_LOSS, M.VAL_LOSS, *M.with_targets(M.VAL_RMSE, M.VAL_MAE, M.VAL_MAPE)),
    final=(M.TEST_LOSS, *M.with_targets(*ERRORS), *M.with_targets(*(M.baseline(PERSISTENCE, m) for m in ERRORS))),
    # Runs from before it was reported still read: their learning-speed comparisons are "not run" for want of it.
    optional=(M.PERSISTENCE_VAL_MAPE,),
)
SECTION_METRICS = (*(M.any_target(m) for m in ERRORS), M.TEST_MAPE, M.TIME_TOTAL, "epochs_run", M.BEST_EPOCH)
BASELINE_ROW = {"persistence (tomorrow = today)": M.baseline(PERSISTENCE, "")}
NOTE = "Prices in dollars, MAPE in %."


def section(stem: str, title: str, vary: str | None) -> Table:
    return Table(stem, title, SECTION_METRICS, vary=vary, baselines=BASELINE_ROW, interval=M.TEST_MAPE, note=NOTE)


TASK = Task(
    name="stock", study="q1", config=StockConfig,
    # Scale-free, so comparable across losses and tickers.
    metric=M.VAL_MAPE, mode="min",
    build=StockTrainer,
    paper=PAPER, module=__name__, schema=SCHEMA,
    tables=(section("s2_1_cells", "2.1 Cells compared: test error and training time", None),
            section("s2_2_loss", "2.2 MSE vs MAPE loss, per cell", "loss"),
            section("s2_3_optimizer", "2.3 Optimizers, per cell", "optimizer"),
            section("s2_4_dropout", "2.4 Dropout, per cell", "dropout"),
            section("formulation", "Formulation (not in the paper): returns vs the paper's scaled levels, per cell",
                    "formulation")),
    parts=(Series(PRICES_FILE, "Price history"), Curves(loss_field="loss"), Predictions(PREDICTIONS_FILE)),
)
