"""The toy model: one recurrent layer and a linear head on its last step."""

from __future__ import annotations

from torch import nn


class Summer(nn.Module):
    def __init__(self, cell: str, hidden: int):
        super().__init__()
        self.rnn = {"rnn": nn.RNN, "gru": nn.GRU}[cell](1, hidden, batch_first=True)
        self.head = nn.Linear(hidden, 1)

    def forward(self, x):
        out, _ = self.rnn(x)
        return self.head(out[:, -1]).squeeze(-1)
