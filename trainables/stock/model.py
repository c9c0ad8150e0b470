"""q1 model: stacked recurrent layers and a linear head, one output per ticker."""

from __future__ import annotations

from torch import nn

from trainables.stock.config import StockConfig

CELLS: dict[str, type[nn.RNNBase]] = {"rnn": nn.RNN, "lstm": nn.LSTM, "gru": nn.GRU}


class Forecaster(nn.Module):
    """Window of past days in, next-day value of every ticker out (scaled close or return, see data.py).

    Mirrors the paper's Keras stack: recurrent layers with dropout between
    them, dropout after the last one, and ``Dense(n_tickers)`` on the last
    step's output.
    """

    def __init__(self, n_inputs: int, n_outputs: int, cell: str, hidden_size: int, num_layers: int, dropout: float):
        super().__init__()
        self.rnn = CELLS[cell](
            n_inputs, hidden_size, num_layers=num_layers, batch_first=True,
            dropout=dropout if num_layers > 1 else 0.0,
        )
        self.drop = nn.Dropout(dropout)
        self.head = nn.Linear(hidden_size, n_outputs)

    def forward(self, x):
        out, _ = self.rnn(x)
        return self.head(self.drop(out[:, -1]))


def build_model(cfg: StockConfig, n_tickers: int) -> Forecaster:
    return Forecaster(
        n_inputs=n_tickers * len(cfg.features), n_outputs=n_tickers, cell=cfg.cell,
        hidden_size=cfg.hidden_size, num_layers=cfg.num_layers, dropout=cfg.dropout,
    )
