"""q2 model: recurrent layers over characters and a linear head over the vocabulary."""

from __future__ import annotations

import torch
from torch import nn

from trainables.chargen.config import CharConfig

CELLS: dict[str, type[nn.RNNBase]] = {"rnn": nn.RNN, "lstm": nn.LSTM, "gru": nn.GRU}
State = torch.Tensor | tuple[torch.Tensor, torch.Tensor] | None


class CharRNN(nn.Module):
    """Characters in, next-character logits out.

    ``paper``: one scaled number per step in, logits of the last step out,
    as the paper's Keras stack LSTM -> Dropout -> LSTM -> Dropout -> Dense
    (PyTorch's between-layer dropout plus the one before the head is the
    same thing). ``sequence``: an embedding in, logits at every step out.
    """

    def __init__(self, vocab_size: int, formulation: str, cell: str, embed_size: int,
                 hidden_size: int, num_layers: int, dropout: float):
        super().__init__()
        self.formulation = formulation
        self.embed = nn.Embedding(vocab_size, embed_size) if formulation == "sequence" else None
        self.rnn = CELLS[cell](
            embed_size if self.embed is not None else 1, hidden_size, num_layers=num_layers,
            batch_first=True, dropout=dropout if num_layers > 1 else 0.0,
        )
        self.drop = nn.Dropout(dropout)
        self.head = nn.Linear(hidden_size, vocab_size)

    def forward(self, x: torch.Tensor, state: State = None) -> tuple[torch.Tensor, State]:
        """``x``: (batch, steps) ids (sequence) or scaled floats (paper).

        Returns logits (batch, steps, vocab) for sequence, (batch, vocab) for
        paper, and the recurrent state after the last step.
        """
        inputs = self.embed(x) if self.embed is not None else x.unsqueeze(-1)
        out, state = self.rnn(inputs, state)
        if self.formulation == "paper":
            out = out[:, -1]
        return self.head(self.drop(out)), state


def build_model(cfg: CharConfig, vocab_size: int) -> CharRNN:
    return CharRNN(vocab_size, cfg.formulation, cfg.cell, cfg.embed_size, cfg.hidden_size, cfg.num_layers, cfg.dropout)


def state_to(state: State | list, device: torch.device) -> State:
    """A carried state (as a checkpoint holds it: a list for an LSTM's pair) on ``device``."""
    if state is None:
        return None
    if isinstance(state, (list, tuple)):
        return tuple(s.to(device) for s in state)
    return state.to(device)


def detach(state: State) -> State:
    """Cut the graph at a chunk boundary (truncated back-propagation through time)."""
    if state is None:
        return None
    if isinstance(state, tuple):
        return tuple(s.detach() for s in state)
    return state.detach()
