"""The toy trainer, without Ray: full-batch Adam steps, mean squared error, a mean-prediction baseline."""

from __future__ import annotations

from typing import Any

import torch

from tests.toytask.config import ToyConfig
from tests.toytask.data import ToyData, parts
from tests.toytask.model import Summer
from trainables.common import metrics as M

MEAN = "mean"  # the baseline: always the training part's mean target


class ToyTrainer:
    def __init__(self, cfg: ToyConfig, data: ToyData, device: torch.device):
        self.cfg, self.data, self.device = cfg, data, device
        self.train, self.val, self.test_part = parts(len(data.y))
        self.model = Summer(cfg.cell, cfg.hidden)
        self.optimizer = torch.optim.Adam(self.model.parameters(), lr=cfg.lr)

    def _loss(self, part: slice) -> torch.Tensor:
        return torch.nn.functional.mse_loss(self.model(self.data.x[part]), self.data.y[part])

    def train_epoch(self) -> dict[str, float]:
        self.model.train()
        for _ in range(20):
            self.optimizer.zero_grad()
            loss = self._loss(self.train)
            loss.backward()
            self.optimizer.step()
        return {M.TRAIN_LOSS: float(loss)}

    @torch.no_grad()
    def validate(self) -> dict[str, float]:
        self.model.eval()
        return {M.VAL_LOSS: float(self._loss(self.val))}

    @torch.no_grad()
    def test(self) -> tuple[dict[str, float], dict[str, str]]:
        self.model.eval()
        y = self.data.y
        mean = torch.full_like(y[self.test_part], float(y[self.train].mean()))
        baseline = float(torch.nn.functional.mse_loss(mean, y[self.test_part]))
        return {M.TEST_LOSS: float(self._loss(self.test_part)), M.baseline(MEAN, M.TEST_LOSS): baseline}, {}

    def state_dict(self) -> dict[str, Any]:
        return {"model": self.model.state_dict(), "optimizer": self.optimizer.state_dict()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.model.load_state_dict(state["model"])
        self.optimizer.load_state_dict(state["optimizer"])
