"""Metric names, defined once.

Trainables report them, studies select on them and analysis reads them, so a
rename happens here and nowhere else. Names are namespaced by the data split
(``train/``, ``val/``, ``test/``) or by what they measure (``time/``,
``baseline/``). A metric for one target (a ticker, a class) hangs below its
base name: ``per_target(VAL_MAPE, "GOOG") == "val/mape/GOOG"``.
"""

EPOCH = "epoch"
TRAINING_ITERATION = "training_iteration"  # Ray's own counter of reports

TRAIN_LOSS = "train/loss"
VAL_LOSS = "val/loss"
TEST_LOSS = "test/loss"

# Regression (q1), in the data's own units (prices), averaged over targets
# unless taken per target.
VAL_RMSE = "val/rmse"
VAL_MAE = "val/mae"
VAL_MAPE = "val/mape"
TEST_RMSE = "test/rmse"
TEST_MAE = "test/mae"
TEST_MAPE = "test/mape"

# The naive forecast (tomorrow = today) on the same test days.
BASELINE_TEST_RMSE = "baseline/persistence/test/rmse"
BASELINE_TEST_MAE = "baseline/persistence/test/mae"
BASELINE_TEST_MAPE = "baseline/persistence/test/mape"

# Classification and language modelling (q2, q3).
TRAIN_ACC = "train/acc"
VAL_ACC = "val/acc"
VAL_BPC = "val/bpc"
VAL_MACRO_F1 = "val/macro_f1"
TEST_ACC = "test/acc"
TEST_MACRO_F1 = "test/macro_f1"
TEST_WEIGHTED_F1 = "test/weighted_f1"

TIME_EPOCH = "time/epoch_s"  # training and validation of one epoch
TIME_TOTAL = "time/total_s"  # training and validation so far
TIME_TRAIN = "time/train_s"  # training only (inside train_epoch) so far: what TrialConfig.budget_s spends

# Written by the shared trial loop (trainables/common/loop.py) for every task.
BEST_EPOCH = "best/epoch"  # the epoch whose weights the test part is scored with
COMPLETED = "completed"  # 1 on a trial's final report (test metrics present); absent before


def per_target(name: str, target: str) -> str:
    """Name of ``name`` measured for one target, e.g. ``val/mape/GOOG``."""
    return f"{name}/{target}"

# Character-level language modelling (q2). val/loss is cross-entropy in nats
# per character whatever the training loss; val/bpc is the same in bits.
BASELINE_MAJORITY_VAL_ACC = "baseline/majority/val/acc"  # always the most frequent validation character
TRAIN_CHARS = "train/chars"  # character-steps through the network so far
TRAIN_STEPS = "train/steps"  # optimizer steps (updates) so far
TRAIN_PASSES = "train/passes"  # passes over the training part so far (an epoch's worth of batches = 1)
TEST_BPC = "test/bpc"
TEST_CHARS = "test/chars"  # characters scored on the test part (all of it)
VAL_UNKNOWN = "val/unknown_rate"  # share of validation characters outside the training vocabulary
TEST_UNKNOWN = "test/unknown_rate"

# Text classification (q3). Per-class values hang below the base name:
# ``per_target(TEST_F1, "hate") == "test/f1/hate"``.
TEST_PRECISION = "test/precision"
TEST_RECALL = "test/recall"
TEST_F1 = "test/f1"
TEST_INVALID = "test/invalid_rate"  # T5 free generation: share of outputs that are no label
BASELINE_MAJORITY_TEST_ACC = "baseline/majority/test/acc"
BASELINE_MAJORITY_TEST_MACRO_F1 = "baseline/majority/test/macro_f1"
BASELINE_MAJORITY_TEST_WEIGHTED_F1 = "baseline/majority/test/weighted_f1"
BASELINE_TFIDF_TEST_ACC = "baseline/tfidf/test/acc"
BASELINE_TFIDF_TEST_MACRO_F1 = "baseline/tfidf/test/macro_f1"
BASELINE_TFIDF_TEST_WEIGHTED_F1 = "baseline/tfidf/test/weighted_f1"
BASELINE_TFIDF_TEST_F1 = "baseline/tfidf/test/f1"
TIME_ENCODE = "time/encode_s"  # building or loading the frozen encoder's token outputs
