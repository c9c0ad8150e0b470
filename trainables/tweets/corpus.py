"""The labelled tweets every q3 module passes around.

Kept apart from ``data.py`` (loading, validation, the study's pre-flight)
and ``split.py`` (one trial's split and cleaning) so that both can use it
without importing each other: ``data`` imports ``split``, never the reverse.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class TweetData:
    """Raw tweets, their class indices, the class names and where they came from."""

    texts: tuple[str, ...]
    labels: np.ndarray  # int64 class index per tweet
    classes: tuple[str, ...]  # class index -> name (the label word for T5)
    origin: str

    def __len__(self) -> int:
        return len(self.texts)

    def counts(self) -> dict[str, int]:
        return {c: int((self.labels == i).sum()) for i, c in enumerate(self.classes)}
