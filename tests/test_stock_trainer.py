"""StockTrainer through the shared loop, Ray-free: both formulations scored in prices."""

import io

import pandas as pd
import pytest

from tests.helpers import synthetic_prices
from trainables.common import metrics as M
from trainables.common import task
from trainables.common.loop import LocalSession
from trainables.stock.task import TASK
from trainables.stock.trainer import PREDICTIONS_FILE, StockTrainer

SMALL = {"epochs": 5, "hidden_size": 16, "window": 10, "batch_size": 32}


@pytest.fixture(scope="module")
def prices():
    return synthetic_prices(n=400)


@pytest.mark.parametrize("loss", ["mse", "mape"])
def test_returns_formulation_reaches_persistence_on_a_random_walk(prices, loss, tmp_path):
    # A random walk's best forecast is persistence; the scale-free formulation starts next to it
    # and must stay there, in price units, whichever loss trains it.
    out = task.train_trial(TASK, {**SMALL, "loss": loss}, prices, LocalSession(tmp_path))
    assert out[M.TEST_MAPE] / out[M.PERSISTENCE_TEST_MAPE] <= 1.05
    paper = task.train_trial(TASK, {**SMALL, "loss": loss, "formulation": "paper"}, prices,
                             LocalSession(tmp_path / "paper"))
    assert paper[M.TEST_MAPE] > out[M.TEST_MAPE]


def test_predictions_file_is_in_prices_with_persistence_beside(prices, tmp_path):
    import torch

    from trainables.stock.config import StockConfig

    trainer = StockTrainer(StockConfig(**SMALL), prices, torch.device("cpu"))
    metrics, files = trainer.test()
    frame = pd.read_csv(io.StringIO(files[PREDICTIONS_FILE]), parse_dates=["date"])
    goog = frame[frame["ticker"] == "GOOG"].set_index("date")
    close = prices[("GOOG", "close")]
    assert goog["actual"].to_numpy() == pytest.approx(close.loc[goog.index].to_numpy(), rel=1e-6)
    previous = close.shift(1).loc[goog.index].to_numpy()
    assert goog["persistence"].to_numpy() == pytest.approx(previous, rel=1e-6)
    # Untrained, the scale-free outputs are small returns: predictions stay within a few % of yesterday.
    assert ((goog["predicted"] / previous - 1).abs() < 0.1).all()
    assert metrics[M.PERSISTENCE_TEST_MAPE] > 0 and "test/mape/AAPL" in metrics


def test_persistence_is_scored_on_the_validation_days_too(prices):
    """The learning-speed margin is 1% of persistence's MAPE on the days of the validation curves."""
    import numpy as np
    import torch

    from trainables.stock.config import StockConfig

    trainer = StockTrainer(StockConfig(**SMALL), prices, torch.device("cpu"))
    metrics, _ = trainer.test()
    days = trainer.data.val.numpy()
    close = trainer.data.close.numpy()
    expected = 100 * np.mean(np.abs(close[days - 1] - close[days]) / np.abs(close[days]), axis=0).mean()
    assert metrics[M.PERSISTENCE_VAL_MAPE] == pytest.approx(expected, rel=1e-5)
    assert metrics[M.PERSISTENCE_VAL_MAPE] != pytest.approx(metrics[M.PERSISTENCE_TEST_MAPE], rel=1e-3)
