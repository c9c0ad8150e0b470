"""q1 losses and error measures.

MAPE is computed on prices, never on the model's scaled target: min-max
scaling maps the training minimum to 0 and a return is near 0 every day, so
a percentage of either divides by numbers near zero and explodes. Prices are
validated positive, and both formulations turn outputs into prices by a
differentiable map (``StockData.to_prices``), so MAPE on prices is bounded,
means the same in both formulations, and trains.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch
from sklearn.metrics import mean_absolute_error, mean_absolute_percentage_error, root_mean_squared_error

from trainables.common import metrics as M
from trainables.common.metrics import per_target
from trainables.stock.splits import StockData

LossFn = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]  # (scaled outputs, target days) -> loss


def mape_loss(pred_price: torch.Tensor, price: torch.Tensor) -> torch.Tensor:
    return ((pred_price - price).abs() / price.abs()).mean() * 100.0


def make_loss(name: str, data: StockData, device: torch.device) -> LossFn:
    """The training loss of outputs for target ``days``: mse on the scaled target, mape on prices."""
    if name == "mse":
        return lambda pred, days: torch.nn.functional.mse_loss(pred, data.y[days].to(device))
    if name == "mape":
        return lambda pred, days: mape_loss(data.to_prices(pred, days), data.close[days].to(device))
    raise ValueError(f"unknown loss {name!r}")


def price_errors(pred: np.ndarray, target: np.ndarray, tickers: tuple[str, ...], split: str,
                 baseline: str | None = None) -> dict[str, float]:
    """RMSE, MAE and MAPE (%) per ticker and averaged, in price units.

    Names are the ``split``'s (``val/mape/GOOG``), or a ``baseline``'s on that
    split (``baseline/persistence/test/mape``).
    """
    out: dict[str, float] = {}
    measures = {
        "rmse": root_mean_squared_error,
        "mae": mean_absolute_error,
        "mape": lambda t, p, **kw: 100.0 * mean_absolute_percentage_error(t, p, **kw),
    }
    for name, fn in measures.items():
        values = np.atleast_1d(fn(target, pred, multioutput="raw_values"))
        base = M.named(split, name) if baseline is None else M.baseline(baseline, M.named(split, name))
        out[base] = float(values.mean())
        for ticker, value in zip(tickers, values):
            out[per_target(base, ticker)] = float(value)
    return out


def persistence(close: np.ndarray, days: np.ndarray) -> np.ndarray:
    """The naive forecast: each target day's close is the previous day's."""
    return close[days - 1]
