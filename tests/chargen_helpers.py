"""Small texts and configs the q2 tests build themselves (no downloads, no shared data)."""

from __future__ import annotations

from trainables.chargen.config import CharConfig
from trainables.chargen.data import synthetic_text as tiny_text

TINY = {"cell": "lstm", "hidden_size": 16, "embed_size": 8, "num_layers": 1, "batch_size": 4, "seq_len": 16,
        "epochs": 2, "steps_per_epoch": 3, "val_max_chars": 160, "lr": 3e-3, "lr_schedule": "constant"}


def tiny_config(**overrides) -> CharConfig:
    return CharConfig(**{**TINY, **overrides})


def tiny_trainer(formulation: str = "sequence", n_chars: int = 4000, seed: int = 0, **overrides):
    """A CPU trainer on ``tiny_text``, seeded as a trial would be."""
    import torch

    from trainables.chargen.data import Corpus
    from trainables.chargen.trainer import CharTrainer
    from trainables.common import runtime

    cfg = tiny_config(formulation=formulation, seed=seed, **overrides)
    runtime.seed_everything(cfg.seed)
    return CharTrainer(cfg, Corpus(tiny_text(n_chars), "tiny"), torch.device("cpu"))
