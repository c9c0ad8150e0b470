import pytest
import torch

from trainables.stock.config import StockConfig
from trainables.stock.metrics import make_loss, persistence, price_errors
from trainables.stock.model import build_model, keras_parameter_count

ALL_FIELDS = ("open", "high", "low", "close", "adj_close", "volume")


@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
def test_output_has_one_value_per_ticker(cell):
    model = build_model(StockConfig(cell=cell, dropout=0.1), n_tickers=2)
    assert model(torch.randn(5, 30, 2)).shape == (5, 2)


@pytest.mark.parametrize("cell, keras, extra_torch", [("lstm", 52_866, 512), ("gru", 40_066, 0)])
def test_parameter_counts_match_the_report(cell, keras, extra_torch):
    # The report's Keras counts come from 12 inputs: six price fields of two tickers.
    cfg = StockConfig(cell=cell, features=ALL_FIELDS)
    model = build_model(cfg, n_tickers=2)
    assert keras_parameter_count(cell, 12, 64, 2, 2) == keras
    assert sum(p.numel() for p in model.parameters()) == keras + extra_torch


def test_mse_loss_is_torch_mse():
    loss = make_loss("mse", torch.zeros(2), torch.ones(2))
    assert loss(torch.tensor([[1.0, 3.0]]), torch.zeros(1, 2)).item() == pytest.approx(5.0)


def test_mape_loss_is_taken_on_prices_so_scaled_zero_is_harmless():
    y_min, y_scale = torch.tensor([100.0]), torch.tensor([50.0])
    loss = make_loss("mape", y_min, y_scale)
    # A scaled target of 0 is the price 100: a 0.1 scaled miss is 5 dollars, 5%.
    pred, target = torch.tensor([[0.1]], requires_grad=True), torch.tensor([[0.0]])
    value = loss(pred, target)
    assert value.item() == pytest.approx(5.0)
    value.backward()
    assert torch.isfinite(pred.grad).all()


def test_price_errors_per_ticker_and_mean():
    target = torch.tensor([[100.0, 10.0], [200.0, 20.0]]).numpy()
    pred = torch.tensor([[110.0, 10.0], [190.0, 22.0]]).numpy()
    out = price_errors(pred, target, ("A", "B"), "test")
    assert out["test/mae/A"] == pytest.approx(10.0)
    assert out["test/mae/B"] == pytest.approx(1.0)
    assert out["test/rmse/B"] == pytest.approx((2.0**2 / 2) ** 0.5)
    assert out["test/mape/A"] == pytest.approx((10 + 5) / 2)
    assert out["test/mape"] == pytest.approx(((10 + 5) / 2 + (0 + 10) / 2) / 2)


def test_persistence_predicts_yesterdays_close():
    close = torch.arange(10.0).reshape(5, 2).numpy()
    assert (persistence(close, torch.tensor([3, 4]).numpy()) == close[[2, 3]]).all()
