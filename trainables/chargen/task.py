"""q2 as a task: names, main metric, metric schema, report tables, artifacts (see ``trainables.common.task``)."""

from __future__ import annotations

from trainables.chargen.config import CharConfig
from trainables.chargen.generate import sample
from trainables.chargen.paper import PAPER
from trainables.chargen.trainer import CharTrainer, precision_notes
from trainables.common import metrics as M
from trainables.common.parts import Curves, Points, Reach, Samples, Table
from trainables.common.schema import Schema
from trainables.common.task import Task

SCHEMA = Schema(
    epoch=(M.TRAIN_LOSS, M.TRAIN_ACC, M.TRAIN_CHARS, M.TRAIN_STEPS, M.TRAIN_PASSES, M.TRAIN_PRECISION,
           M.VAL_LOSS, M.VAL_ACC, M.VAL_BPC, M.VAL_UNKNOWN, M.BASELINE_MAJORITY_VAL_ACC),
    final=(M.TEST_LOSS, M.TEST_ACC, M.TEST_BPC, M.TEST_CHARS, M.TEST_UNKNOWN, M.BASELINE_MAJORITY_TEST_ACC),
)
# An epoch is a round of steps_per_epoch updates unless that is 0 (a full pass): tables and plots say which.
ROUNDS = "steps_per_epoch"
FINAL = Table("final_best", "Test, final and best validation loss and accuracy",
              (M.TEST_LOSS, M.TEST_BPC, M.TEST_ACC, M.VAL_LOSS, M.best(M.VAL_LOSS), M.VAL_ACC, M.TRAIN_LOSS,
               M.BEST_EPOCH, "epochs_run", M.TRAIN_CHARS, M.TRAIN_STEPS, M.TEST_CHARS, M.TEST_UNKNOWN,
               M.TIME_TOTAL, M.TRAIN_PRECISION),
              reference=False, baselines={"always the most frequent character": M.baseline("majority", "")},
              note="test/ and val/loss are cross-entropy in nats per character whatever the training loss; test/ is "
                   "the test part (test/chars of it: the whole part, or its first characters where the config "
                   "caps it), scored with the best validation epoch's (round's) weights.")

TASK = Task(
    name="chargen", study="q2", config=CharConfig,
    # Cross-entropy in nats per character whatever the training loss, so losses compare.
    metric=M.VAL_LOSS, mode="min",
    build=CharTrainer,
    paper=PAPER, module=__name__, schema=SCHEMA, tables=(FINAL,),
    parts=(Points(M.VAL_LOSS, (20, 40, 100), rounds_field=ROUNDS),
            Reach(M.VAL_LOSS, (2.5, 2.0, 1.8, 1.6), work=M.TRAIN_CHARS),
            Curves(loss_field="loss", rounds_field=ROUNDS), Samples()),
    uses_weights=True, generate=sample, notes=precision_notes,
)
