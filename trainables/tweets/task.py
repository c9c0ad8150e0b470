"""q3 as a task: names, main metric, artifacts (see ``trainables.common.task``)."""

from __future__ import annotations

from trainables.common import metrics as M
from trainables.common.task import Task
from trainables.tweets.config import TweetConfig
from trainables.tweets.paper import PAPER, replicate
from trainables.tweets.trainer import CLASSES_FILE, CONFUSION_FILE, TweetTrainer

TASK = Task(
    name="tweets", study="q3", config=TweetConfig,
    # The rare hate class counts as much as the others.
    metric=M.VAL_MACRO_F1, mode="max",
    build=TweetTrainer, artifacts={"confusion": CONFUSION_FILE, "classes": CLASSES_FILE},
    paper=PAPER, module=__name__, replicate=replicate,
)
