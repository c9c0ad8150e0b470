"""q2 batches: views into one array of character ids, never a copy of the text per window.

Both iterators keep their position (and the generator state that drew
their order) in ``state_dict``, so a trial resumed from a checkpoint takes
the same next batch as one that never stopped.
"""

from __future__ import annotations

import torch

from trainables.chargen.data import CharData


def windows(series: torch.Tensor, window: int) -> torch.Tensor:
    """All windows of ``series`` as a (n - window + 1, window) view, no copy."""
    return series.unfold(0, window, 1)


class StreamBatches:
    """Truncated-BPTT batches: ``batch_size`` contiguous streams walked ``seq_len`` at a time.

    Row ``b`` of every batch continues row ``b`` of the previous one, so the
    hidden state carries over. Each pass over the training part starts at a
    random offset, so chunk boundaries move between passes. ``state_dict``
    makes a resumed trial continue at the same step of the same pass.
    """

    def __init__(self, ids: torch.Tensor, batch_size: int, seq_len: int, gen: torch.Generator):
        self.ids, self.batch_size, self.seq_len, self.gen = ids, batch_size, seq_len, gen
        self.offset, self.step = self._new_offset(), 0

    def _new_offset(self) -> int:
        return int(torch.randint(self.seq_len, (1,), generator=self.gen))

    def steps_per_pass(self) -> int:
        return max(1, (len(self.ids) - 1 - self.seq_len) // self.batch_size // self.seq_len)

    def next(self) -> tuple[torch.Tensor, torch.Tensor, bool]:
        """(inputs, targets, starts_a_pass): inputs and targets are (batch, seq_len) views."""
        if self.step >= self.steps_per_pass():
            self.offset, self.step = self._new_offset(), 0
        width = self.steps_per_pass() * self.seq_len
        x = self.ids[self.offset: self.offset + self.batch_size * width].view(self.batch_size, width)
        y = self.ids[self.offset + 1: self.offset + 1 + self.batch_size * width].view(self.batch_size, width)
        cols = slice(self.step * self.seq_len, (self.step + 1) * self.seq_len)
        fresh = self.step == 0
        self.step += 1
        return x[:, cols], y[:, cols], fresh

    def state_dict(self) -> dict[str, int]:
        return {"offset": self.offset, "step": self.step}

    def load_state_dict(self, state: dict[str, int]) -> None:
        self.offset, self.step = int(state["offset"]), int(state["step"])


class WindowBatches:
    """The paper's batches: shuffled windows of ``seq_len`` scaled characters, next character as target."""

    def __init__(self, data: CharData, batch_size: int, seq_len: int, gen: torch.Generator):
        self.views = windows(data.scaled()[: data.n_train], seq_len)
        self.targets = data.ids[seq_len: data.n_train]  # target of window i is ids[i + seq_len]
        self.batch_size, self.gen = batch_size, gen
        self.order, self.step = self._new_order(), 0

    def _new_order(self) -> torch.Tensor:
        # The checkpoint keeps the generator state that drew the order, not the
        # order itself (8 bytes a window): a resumed trial draws it again.
        self.order_rng = self.gen.get_state()
        return torch.randperm(len(self.targets), generator=self.gen)

    def steps_per_pass(self) -> int:
        return max(1, len(self.targets) // self.batch_size)

    def next(self) -> tuple[torch.Tensor, torch.Tensor, bool]:
        if self.step >= self.steps_per_pass():
            self.order, self.step = self._new_order(), 0
        rows = self.order[self.step * self.batch_size: (self.step + 1) * self.batch_size]
        fresh = self.step == 0
        self.step += 1
        return self.views[rows], self.targets[rows], fresh

    def state_dict(self) -> dict:
        return {"order_rng": self.order_rng, "step": self.step}

    def load_state_dict(self, state: dict) -> None:
        self.order_rng, self.step = state["order_rng"], int(state["step"])
        gen = torch.Generator()
        gen.set_state(self.order_rng)
        self.order = torch.randperm(len(self.targets), generator=gen)
