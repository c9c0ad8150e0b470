"""q1 trainer: one forecaster, its optimizer and its data, without Ray.

The shared loop (``trainables.common.loop``) drives it; through Ray Tune
as ``trainables.common.task.trainable(TASK)`` with the prices in the object
store.
"""

from __future__ import annotations

import io
from typing import Any

import numpy as np
import pandas as pd
import torch

from trainables.common import metrics as M
from trainables.common import runtime
from trainables.stock.config import StockConfig
from trainables.stock.data import make_splits
from trainables.stock.metrics import make_loss, persistence, price_errors
from trainables.stock.model import build_model

OPTIMIZERS = {"adam": torch.optim.Adam, "adagrad": torch.optim.Adagrad, "rmsprop": torch.optim.RMSprop}
PREDICTIONS_FILE = "predictions.csv"
PERSISTENCE = "persistence"  # the naive forecast (tomorrow = today): the baseline of every q1 table


class StockTrainer:
    def __init__(self, cfg: StockConfig, prices: pd.DataFrame, device: torch.device):
        self.cfg, self.device = cfg, device
        self.data = make_splits(prices, cfg)
        self.model = build_model(cfg, len(self.data.tickers)).to(device)
        self.optimizer = OPTIMIZERS[cfg.optimizer](self.model.parameters(), lr=cfg.lr)
        self.loss_fn = make_loss(cfg.loss, self.data, device)
        self.precision = runtime.MixedPrecision(device, cfg.amp, cfg.amp_dtype)
        self.gen = runtime.make_generator(cfg.seed)

    def train_epoch(self) -> dict[str, float]:
        data, model = self.data, self.model
        model.train()
        order = data.train[torch.randperm(len(data.train), generator=self.gen)]
        total = 0.0
        for days in order.split(self.cfg.batch_size):
            x = runtime.to_device(data.inputs(days), self.device)
            self.optimizer.zero_grad(set_to_none=True)
            with self.precision.autocast():
                pred = model(x)
            # The loss in float32: MAPE divides, and float16 would lose the small errors.
            loss = self.loss_fn(pred.float(), days)
            self.precision.step(loss, self.optimizer)
            total += loss.item() * len(days)
        return {M.TRAIN_LOSS: total / len(data.train)}

    def validate(self) -> dict[str, float]:
        loss, pred = self._predict(self.data.val)
        actual = self.data.close[self.data.val].numpy()
        return {M.VAL_LOSS: loss, **price_errors(pred, actual, self.data.tickers, "val")}

    def test(self) -> tuple[dict[str, float], dict[str, str]]:
        """Test errors, the persistence baseline on the same days (and its MAPE on the validation days), and a
        predictions file."""
        data = self.data
        test_loss, pred = self._predict(data.test)
        actual = data.close[data.test].numpy()
        naive = persistence(data.close.numpy(), data.test.numpy())
        out = {M.TEST_LOSS: test_loss}
        out.update(price_errors(pred, actual, data.tickers, "test"))
        out.update(price_errors(naive, actual, data.tickers, "test", baseline=PERSISTENCE))
        val = data.val.numpy()  # the period of the validation curves, for margins on them
        val_mape = price_errors(persistence(data.close.numpy(), val), data.close[data.val].numpy(), data.tickers, "val",
                                baseline=PERSISTENCE)[M.PERSISTENCE_VAL_MAPE]
        out[M.PERSISTENCE_VAL_MAPE] = val_mape
        frame = pd.concat(
            {t: pd.DataFrame({"actual": actual[:, i], "predicted": pred[:, i], "persistence": naive[:, i]},
                             index=data.dates[data.test.numpy()])
             for i, t in enumerate(data.tickers)},
            names=["ticker", "date"],
        )
        buf = io.StringIO()
        frame.to_csv(buf)
        return out, {PREDICTIONS_FILE: buf.getvalue()}

    @torch.no_grad()
    def _predict(self, days: torch.Tensor) -> tuple[float, np.ndarray]:
        """Loss (in the training loss' units) and predicted prices on ``days``."""
        self.model.eval()
        with self.precision.autocast():
            pred = self.model(runtime.to_device(self.data.inputs(days), self.device)).float()
        loss = self.loss_fn(pred, days).item()
        return loss, self.data.to_prices(pred, days).cpu().numpy()

    def state_dict(self) -> dict[str, Any]:
        return {"model": self.model.state_dict(), "optimizer": self.optimizer.state_dict(),
                "scaler": self.precision.state_dict(), "shuffle": self.gen.get_state()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.model.load_state_dict(state["model"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.precision.load_state_dict(state["scaler"])
        self.gen.set_state(state["shuffle"])
