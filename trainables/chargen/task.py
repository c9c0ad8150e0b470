"""q2 as a task: names, main metric, artifacts (see ``trainables.common.task``)."""

from __future__ import annotations

from trainables.chargen.config import CharConfig
from trainables.chargen.paper import PAPER
from trainables.chargen.trainer import VOCAB_FILE, CharTrainer
from trainables.common import metrics as M
from trainables.common.task import Task

TASK = Task(
    name="chargen", study="q2", config=CharConfig,
    # Cross-entropy in nats per character whatever the training loss, so losses compare.
    metric=M.VAL_LOSS, mode="min",
    build=CharTrainer, artifacts={"vocabulary": VOCAB_FILE},
    paper=PAPER, module=__name__,
)
