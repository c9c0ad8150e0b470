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
PERSISTENCE_TEST_RMSE = "baseline/persistence/test/rmse"
PERSISTENCE_TEST_MAE = "baseline/persistence/test/mae"
PERSISTENCE_TEST_MAPE = "baseline/persistence/test/mape"
PERSISTENCE_VAL_MAPE = "baseline/persistence/val/mape"  # the same forecast on the validation days

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
TIME_CPU = "time/cpu_s"  # CPU seconds of the trial's process (all threads) in the trial loop so far: its cost

# Written by the shared trial loop (trainables/common/loop.py) for every task.
BEST_EPOCH = "best/epoch"  # the epoch whose weights the test part is scored with
COMPLETED = "completed"  # 1 on a trial's final record (test metrics present); absent before

# Where a trial ran: bookkeeping beside Ray's own ``node_ip`` and ``hostname`` in every report, not metrics
# (no split prefix: the tables give them columns of their own). The loop reports the device; ``RaySession``
# adds the GPU ids Ray gave the trial, so a trial given GPUs on a node without CUDA shows it.
DEVICE = "device"  # the torch device type the trial trained on: cpu or cuda
GPU_IDS = "gpu_ids"  # ray.get_gpu_ids() of the trial, comma-separated; "" when it was given none


def per_target(name: str, target: str) -> str:
    """Name of ``name`` measured for one target, e.g. ``val/mape/GOOG``."""
    return f"{name}/{target}"


def named(split: str, measure: str) -> str:
    """A measure on a part of the data: ``named("val", "mape") == "val/mape"``."""
    return f"{split}/{measure}"


def any_target(name: str) -> str:
    """The schema pattern of ``name`` measured for any one target (``val/mape/*``)."""
    return per_target(name, "*")


def baseline(kind: str, name: str) -> str:
    """``name`` scored by a baseline on the same data: ``baseline("persistence", TEST_MAPE)``."""
    return f"baseline/{kind}/{name}"


def best(name: str) -> str:
    """``name`` at a trial's best epoch (the epoch whose weights the test part is scored with)."""
    return f"best/{name}"


def tuned(name: str) -> str:
    """``name``'s scores under q3's decision rule chosen on validation: ``tuned("test") == "test/tuned"``."""
    return f"{name}/tuned"


def with_targets(*names: str) -> tuple[str, ...]:
    """Each name, then its per-target pattern: what a metric reported overall and per target declares."""
    return tuple(n for name in names for n in (name, any_target(name)))

# Character-level language modelling (q2). val/loss is cross-entropy in nats
# per character whatever the training loss; val/bpc is the same in bits.
BASELINE_MAJORITY_VAL_ACC = "baseline/majority/val/acc"  # always the most frequent validation character
TRAIN_CHARS = "train/chars"  # character-steps through the network so far
TRAIN_STEPS = "train/steps"  # optimizer steps (updates) so far
TRAIN_PASSES = "train/passes"  # passes over the training part so far (an epoch's worth of batches = 1)
# The number format the training steps ran in: float32; bfloat16 (q2's cpu_bf16, where the CPU computes the
# cell in bfloat16, else float32); float16 (amp on CUDA). Text, not a number: tables list it per row.
TRAIN_PRECISION = "train/precision"
TEST_BPC = "test/bpc"
TEST_CHARS = "test/chars"  # characters scored on the test part (all of it unless the config caps it)
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
BASELINE_TFIDF_TEST_PRECISION = "baseline/tfidf/test/precision"
BASELINE_TFIDF_TEST_RECALL = "baseline/tfidf/test/recall"

# q3's decision rule chosen on validation: per-class offsets added to the scores
# (log-probabilities, T5's label-word log-likelihoods) that maximise validation
# macro-F1, chosen once with the best epoch's weights and applied once to the
# test scores. Its test metrics hang below ``test/tuned`` with the argmax
# rule's names (``test/tuned/f1/hate``); TF-IDF's below ``baseline/tfidf/test/tuned``.
TEST_TUNED = "test/tuned"
TEST_TUNED_ACC = "test/tuned/acc"
TEST_TUNED_MACRO_F1 = "test/tuned/macro_f1"
TEST_TUNED_WEIGHTED_F1 = "test/tuned/weighted_f1"
TEST_TUNED_PRECISION = "test/tuned/precision"
TEST_TUNED_RECALL = "test/tuned/recall"
TEST_TUNED_F1 = "test/tuned/f1"
TUNED_OFFSET = "tuned/offset"  # per class: the offset chosen (the validation majority class's is 0)
TUNED_VAL_MACRO_F1 = "tuned/val/macro_f1"  # validation macro-F1 under the chosen offsets, the value maximised
BASELINE_TFIDF_TEST_TUNED = "baseline/tfidf/test/tuned"
BASELINE_TFIDF_TEST_TUNED_ACC = "baseline/tfidf/test/tuned/acc"
BASELINE_TFIDF_TEST_TUNED_MACRO_F1 = "baseline/tfidf/test/tuned/macro_f1"
BASELINE_TFIDF_TEST_TUNED_WEIGHTED_F1 = "baseline/tfidf/test/tuned/weighted_f1"
BASELINE_TFIDF_TEST_TUNED_PRECISION = "baseline/tfidf/test/tuned/precision"
BASELINE_TFIDF_TEST_TUNED_RECALL = "baseline/tfidf/test/tuned/recall"
BASELINE_TFIDF_TEST_TUNED_F1 = "baseline/tfidf/test/tuned/f1"
BASELINE_TFIDF_TUNED_OFFSET = "baseline/tfidf/tuned/offset"
BASELINE_TFIDF_TUNED_VAL_MACRO_F1 = "baseline/tfidf/tuned/val/macro_f1"



# What the shared trial loop itself reports (trainables/common/loop.py), part of every task's schema.
LOOP_EPOCH = (EPOCH, TIME_EPOCH, TIME_TOTAL, TIME_TRAIN, TIME_CPU, BEST_EPOCH, DEVICE)
LOOP_FINAL = (COMPLETED,)
LOOP_OPTIONAL: tuple[str, ...] = ()
