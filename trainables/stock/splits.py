"""q1 splits and formulations: chronological parts, scaling fit on the training part, windows as views.

Two formulations of the same forecast, both scored on the prices they imply:

``returns`` (the default) is scale-free: inputs are each field's daily log
change, the target is the next day's simple return of the close. A price
level the network never saw in training (the test years trade far above
the training years) looks no different from one it did, and an output of 0
is exactly the persistence forecast (tomorrow = today).

``paper`` is the paper's: every field min-max scaled on the training part,
the target the next day's scaled close. Test prices above the training
maximum map outside [0, 1], where the network has never been fitted.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch

from trainables.common.errors import DataError
from trainables.stock.config import StockConfig


def split_sizes(n_rows: int, cfg: StockConfig) -> tuple[int, int, int]:
    """Target days in the train, validation and test parts.

    A target day needs ``window`` days before it, so the first
    ``cfg.first_target`` rows (``window``, or ``split_window`` if larger)
    are inputs only. The remaining days are split in time order.
    """
    first = cfg.first_target
    n_targets = n_rows - first
    n_val = int(n_targets * cfg.val_fraction)
    n_test = int(n_targets * cfg.test_fraction)
    n_train = n_targets - n_val - n_test
    if n_val < 1 or n_test < 1 or n_train < max(cfg.batch_size, cfg.window):
        need = first + int(np.ceil(max(cfg.batch_size, cfg.window) / (1 - cfg.val_fraction - cfg.test_fraction)))
        need = max(need, first + int(np.ceil(1 / min(cfg.val_fraction, cfg.test_fraction))))
        raise DataError(
            f"{n_rows} rows are too few for a {first}-day window and "
            f"{cfg.val_fraction:.0%}/{cfg.test_fraction:.0%} validation/test parts: need at least {need}"
        )
    return n_train, n_val, n_test


@dataclass(frozen=True)
class StockData:
    """Scaled series and the target days of each part, ready for batching.

    ``x`` holds every input column, scaled with statistics of the training
    part only (no look-ahead); windows are views into it, gathered per batch.
    """

    x: torch.Tensor  # (days, tickers * fields), scaled
    y: torch.Tensor  # (days, tickers), the scaled target (close level or return)
    y_min: torch.Tensor  # value = y * y_scale + y_min
    y_scale: torch.Tensor
    close: torch.Tensor  # (days, tickers), prices
    dates: pd.DatetimeIndex
    tickers: tuple[str, ...]
    window: int
    formulation: str
    train: torch.Tensor  # target day indices
    val: torch.Tensor
    test: torch.Tensor

    def inputs(self, days: torch.Tensor) -> torch.Tensor:
        """Windows ending the day before each target day: (batch, window, features)."""
        views = self.x.unfold(0, self.window, 1)  # (days - window + 1, features, window), no copy
        return views[days - self.window].transpose(1, 2)

    def to_prices(self, y: torch.Tensor, days: torch.Tensor) -> torch.Tensor:
        """The closes that scaled outputs ``y`` for target ``days`` stand for (differentiable)."""
        value = y * self.y_scale.to(y.device) + self.y_min.to(y.device)
        if self.formulation == "returns":
            return self.close[days - 1].to(y.device) * (1.0 + value)
        return value


def make_splits(prices: pd.DataFrame, cfg: StockConfig) -> StockData:
    """Chronological split, scaling fit on the training part, windows as views."""
    tickers = tuple(dict.fromkeys(prices.columns.get_level_values("ticker")))
    have = set(prices.columns.get_level_values("field"))
    missing = [f for f in cfg.features if f not in have]
    if missing:
        raise DataError(f"the data has no {', '.join(missing)} column (have: {', '.join(sorted(have))})")
    n_train, n_val, n_test = split_sizes(len(prices), cfg)
    cols = [(t, f) for t in tickers for f in cfg.features]
    raw = prices[cols].to_numpy(dtype=np.float64)
    close_cols = [cols.index((t, "close")) for t in tickers]
    first = cfg.first_target
    fit_rows = first + n_train  # rows the training windows and targets touch
    scale_fn = _returns if cfg.formulation == "returns" else _levels
    x, y, y_min, y_scale = scale_fn(raw, [f for _, f in cols], close_cols, fit_rows)
    bounds = np.cumsum([first, n_train, n_val, n_test])
    days = torch.arange(len(prices))
    f32 = torch.float32
    return StockData(
        x=torch.tensor(x, dtype=f32), y=torch.tensor(y, dtype=f32),
        y_min=torch.tensor(y_min, dtype=f32), y_scale=torch.tensor(y_scale, dtype=f32),
        close=torch.tensor(raw[:, close_cols], dtype=f32),
        dates=pd.DatetimeIndex(prices.index), tickers=tickers, window=cfg.window, formulation=cfg.formulation,
        train=days[bounds[0]:bounds[1]], val=days[bounds[1]:bounds[2]], test=days[bounds[2]:bounds[3]],
    )


def _levels(raw: np.ndarray, fields: list[str], close_cols: list[int], fit_rows: int):
    """The paper's: min-max scaling of every column's level over the training rows."""
    lo, hi = raw[:fit_rows].min(axis=0), raw[:fit_rows].max(axis=0)
    scale = np.where(hi > lo, hi - lo, 1.0)
    x = (raw - lo) / scale
    return x, x[:, close_cols], lo[close_cols], scale[close_cols]


def _returns(raw: np.ndarray, fields: list[str], close_cols: list[int], fit_rows: int):
    """Daily log changes in, standardised; the close's next-day return out, divided by its spread.

    The target is not centred, so an output of 0 predicts no change (the
    persistence forecast). Volume may be 0, hence log1p; row 0 has no
    previous day and is set to no change.
    """
    is_volume = np.array([f == "volume" for f in fields])
    logs = np.where(is_volume, np.log1p(raw), np.log(np.where(is_volume, 1.0, raw)))
    change = np.zeros_like(raw)
    change[1:] = np.diff(logs, axis=0)
    mean, std = change[1:fit_rows].mean(axis=0), change[1:fit_rows].std(axis=0)
    x = (change - mean) / np.where(std > 0, std, 1.0)
    x[0] = 0.0
    close = raw[:, close_cols]
    ret = np.zeros_like(close)
    ret[1:] = close[1:] / close[:-1] - 1.0
    spread = ret[1:fit_rows].std(axis=0)
    spread = np.where(spread > 0, spread, 1.0)
    return x, ret / spread, np.zeros_like(spread), spread
