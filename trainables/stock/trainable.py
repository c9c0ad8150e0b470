"""q1 trainable: train one forecaster, report every epoch, checkpoint, resume.

Use through Ray Tune with the prices in the object store:
``tune.with_parameters(train_stock, prices=frame)``. A trial given a GPU
trains on it; otherwise it uses the CPUs Ray assigned.
"""

from __future__ import annotations

import io
import time
from typing import Any

import numpy as np
import pandas as pd
import torch

from trainables.common import checkpoint, faults, runtime
from trainables.common import metrics as M
from trainables.common.config import to_dict
from trainables.stock.config import StockConfig
from trainables.stock.data import StockData, make_splits
from trainables.stock.metrics import make_loss, persistence, price_errors
from trainables.stock.model import build_model

OPTIMIZERS = {"adam": torch.optim.Adam, "adagrad": torch.optim.Adagrad, "rmsprop": torch.optim.RMSprop}
PREDICTIONS_FILE = "predictions.csv"


def train_stock(config: dict[str, Any], prices: pd.DataFrame) -> None:
    cfg = StockConfig(**config)
    device = runtime.setup_device()
    gen = runtime.seed_everything(cfg.seed)
    data = make_splits(prices, cfg)
    model = build_model(cfg, len(data.tickers)).to(device)
    optimizer = OPTIMIZERS[cfg.optimizer](model.parameters(), lr=cfg.lr)
    loss_fn = make_loss(cfg.loss, data.y_min.to(device), data.y_scale.to(device))
    precision = runtime.MixedPrecision(device, cfg.amp)

    first_epoch, elapsed = 1, 0.0
    state = checkpoint.restore()
    if state is not None:
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        precision.load_state_dict(state.get("scaler", {}))
        gen.set_state(state["rng"])
        first_epoch, elapsed = state["epoch"] + 1, state["elapsed_s"]

    for epoch in range(first_epoch, cfg.epochs + 1):
        faults.maybe_crash(cfg.fail_at_epoch, epoch)
        started = time.perf_counter()
        train_loss = train_epoch(model, optimizer, loss_fn, data, cfg.batch_size, gen, device, precision)
        val_loss, val_pred = evaluate(model, loss_fn, data, data.val, device, precision)
        epoch_s = time.perf_counter() - started
        elapsed += epoch_s
        metrics = {M.EPOCH: epoch, M.TRAIN_LOSS: train_loss, M.VAL_LOSS: val_loss, M.TIME_EPOCH: epoch_s, M.TIME_TOTAL: elapsed}
        metrics.update(price_errors(val_pred, data.close[data.val].numpy(), data.tickers, "val"))
        last = epoch == cfg.epochs
        files = None
        if last:
            test_metrics, files = final_evaluation(model, loss_fn, data, device, precision)
            metrics.update(test_metrics)
        if last or epoch % cfg.checkpoint_every == 0:
            state = {
                "model": model.state_dict(), "optimizer": optimizer.state_dict(), "rng": gen.get_state(),
                "scaler": precision.state_dict(),
                "epoch": epoch, "elapsed_s": elapsed, "config": to_dict(cfg),
                "y_min": data.y_min, "y_scale": data.y_scale,
            }
            checkpoint.report(metrics, state, files)
        else:
            checkpoint.report(metrics)


def train_epoch(model, optimizer, loss_fn, data: StockData, batch_size: int, gen: torch.Generator, device,
                precision: runtime.MixedPrecision) -> float:
    model.train()
    order = data.train[torch.randperm(len(data.train), generator=gen)]
    total = 0.0
    for days in order.split(batch_size):
        x = runtime.to_device(data.inputs(days), device)
        y = runtime.to_device(data.y[days], device)
        optimizer.zero_grad(set_to_none=True)
        with precision.autocast():
            pred = model(x)
        # The loss in float32: MAPE divides, and float16 would lose the small errors.
        loss = loss_fn(pred.float(), y)
        precision.step(loss, optimizer)
        total += loss.item() * len(days)
    return total / len(data.train)


@torch.no_grad()
def evaluate(model, loss_fn, data: StockData, days: torch.Tensor, device,
             precision: runtime.MixedPrecision) -> tuple[float, np.ndarray]:
    """Loss (in the training loss' units) and predicted prices on ``days``."""
    model.eval()
    with precision.autocast():
        pred = model(runtime.to_device(data.inputs(days), device)).float()
    loss = loss_fn(pred, data.y[days].to(device)).item()
    return loss, data.to_prices(pred).cpu().numpy()


def final_evaluation(model, loss_fn, data: StockData, device,
                     precision: runtime.MixedPrecision) -> tuple[dict[str, float], dict[str, str]]:
    """Test errors, the persistence baseline on the same days, and a predictions file."""
    test_loss, pred = evaluate(model, loss_fn, data, data.test, device, precision)
    actual = data.close[data.test].numpy()
    naive = persistence(data.close.numpy(), data.test.numpy())
    out = {M.TEST_LOSS: test_loss}
    out.update(price_errors(pred, actual, data.tickers, "test"))
    out.update(price_errors(naive, actual, data.tickers, "baseline/persistence/test"))
    frame = pd.concat(
        {
            t: pd.DataFrame({"actual": actual[:, i], "predicted": pred[:, i], "persistence": naive[:, i]},
                            index=data.dates[data.test.numpy()])
            for i, t in enumerate(data.tickers)
        },
        names=["ticker", "date"],
    )
    buf = io.StringIO()
    frame.to_csv(buf)
    return out, {PREDICTIONS_FILE: buf.getvalue()}
