"""q1 losses and error measures.

MAPE is computed on prices, not on the scaled series: min-max scaling maps
the training minimum to 0, so a percentage error of a scaled value divides
by numbers near zero and explodes. Prices are validated positive, and the
scaler is an affine map, so MAPE on prices stays bounded and differentiable.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch
from sklearn.metrics import mean_absolute_error, mean_absolute_percentage_error, root_mean_squared_error

from trainables.common.metrics import per_target

LossFn = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


def make_loss(name: str, y_min: torch.Tensor, y_scale: torch.Tensor) -> LossFn:
    """Loss on scaled predictions and targets (the model works in scaled units)."""
    if name == "mse":
        return torch.nn.functional.mse_loss
    if name == "mape":
        def mape(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
            p = pred * y_scale + y_min
            t = target * y_scale + y_min
            return ((p - t).abs() / t.abs()).mean() * 100.0
        return mape
    raise ValueError(f"unknown loss {name!r}")


def price_errors(pred: np.ndarray, target: np.ndarray, tickers: tuple[str, ...], prefix: str) -> dict[str, float]:
    """RMSE, MAE and MAPE (%) per ticker and averaged, in price units.

    ``prefix`` is a metric family such as ``val`` or
    ``baseline/persistence/test``; names come out as ``val/mape/GOOG``.
    """
    out: dict[str, float] = {}
    measures = {
        "rmse": root_mean_squared_error,
        "mae": mean_absolute_error,
        "mape": lambda t, p, **kw: 100.0 * mean_absolute_percentage_error(t, p, **kw),
    }
    for name, fn in measures.items():
        values = np.atleast_1d(fn(target, pred, multioutput="raw_values"))
        base = f"{prefix}/{name}"
        out[base] = float(values.mean())
        for ticker, value in zip(tickers, values):
            out[per_target(base, ticker)] = float(value)
    return out


def persistence(close: np.ndarray, days: np.ndarray) -> np.ndarray:
    """The naive forecast: each target day's close is the previous day's."""
    return close[days - 1]
