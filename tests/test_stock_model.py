import pytest
import torch

from tests.helpers import synthetic_prices
from trainables.stock.config import StockConfig
from trainables.stock.data import make_splits
from trainables.stock.metrics import make_loss, mape_loss, persistence, price_errors
from trainables.stock.model import build_model

ALL_FIELDS = ("open", "high", "low", "close", "adj_close", "volume")


def keras_parameter_count(cell: str, n_inputs: int, hidden_size: int, num_layers: int, n_outputs: int) -> int:
    """What Keras reports for the same stack, to compare with the paper.

    Keras' LSTM and SimpleRNN carry one bias vector per gate, PyTorch two
    (input and recurrent): PyTorch has ``gates * hidden`` more per layer.
    Keras' GRU (``reset_after=True``, its default) already has both, so the
    GRU counts agree exactly.
    """
    gates = {"rnn": 1, "lstm": 4, "gru": 3}[cell]
    biases = 2 if cell == "gru" else 1
    total, width = 0, n_inputs
    for _ in range(num_layers):
        total += gates * (hidden_size * (width + hidden_size) + biases * hidden_size)
        width = hidden_size
    return total + hidden_size * n_outputs + n_outputs


@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
def test_output_has_one_value_per_ticker(cell):
    model = build_model(StockConfig(cell=cell, dropout=0.1), n_tickers=2)
    assert model(torch.randn(5, 30, 2)).shape == (5, 2)


@pytest.mark.parametrize("cell, keras, extra_torch", [("lstm", 52_866, 512), ("gru", 40_066, 0)])
def test_parameter_counts_match_the_paper(cell, keras, extra_torch):
    # The paper's Keras counts come from 12 inputs: six price fields of two tickers.
    cfg = StockConfig(cell=cell, features=ALL_FIELDS)
    model = build_model(cfg, n_tickers=2)
    assert keras_parameter_count(cell, 12, 64, 2, 2) == keras
    assert sum(p.numel() for p in model.parameters()) == keras + extra_torch


CPU = torch.device("cpu")


@pytest.mark.parametrize("formulation", ["returns", "paper"])
def test_mse_loss_is_on_the_scaled_target(formulation):
    data = make_splits(synthetic_prices(n=200), StockConfig(window=30, batch_size=16, formulation=formulation))
    days = data.val[:5]
    loss = make_loss("mse", data, CPU)
    assert loss(data.y[days], days).item() == 0.0
    assert loss(data.y[days] + 1.0, days).item() == pytest.approx(1.0)


@pytest.mark.parametrize("formulation", ["returns", "paper"])
def test_mape_loss_is_taken_on_prices_in_both_formulations(formulation):
    data = make_splits(synthetic_prices(n=200), StockConfig(window=30, batch_size=16, formulation=formulation))
    days = data.val[:5]
    loss = make_loss("mape", data, CPU)
    assert loss(data.y[days], days).item() == pytest.approx(0.0, abs=1e-4)
    # Persistence's outputs, whatever they are in this formulation's units:
    # the loss is persistence's MAPE on prices, the same number for both formulations.
    yesterday = data.close[days - 1]
    expected = float(((yesterday - data.close[days]).abs() / data.close[days]).mean() * 100)
    outputs = ((yesterday - data.y_min) / data.y_scale if formulation == "paper"
               else (yesterday / data.close[days - 1] - 1) / data.y_scale).requires_grad_(True)
    value = loss(outputs, days)
    assert value.item() == pytest.approx(expected, rel=1e-4) and expected > 0.1
    value.backward()
    assert torch.isfinite(outputs.grad).all() and outputs.grad.abs().sum() > 0


def test_mape_of_prices_near_a_scaled_zero_stays_small():
    # A scaled target of 0 is the training minimum, 100 dollars: a 5-dollar miss is 5%, not infinite.
    assert mape_loss(torch.tensor([105.0]), torch.tensor([100.0])).item() == pytest.approx(5.0)


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
