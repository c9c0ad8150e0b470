"""q3 as a task: names, main metric, metric schema, report tables, artifacts (see ``trainables.common.task``)."""

from __future__ import annotations

from trainables.common import metrics as M
from trainables.common.parts import Confusion, Curves, Table, TokenLengths
from trainables.common.schema import Schema
from trainables.common.task import Task
from trainables.tweets.baselines import TFIDF_TEST
from trainables.tweets.config import TweetConfig
from trainables.tweets.data import LENGTHS_FILE
from trainables.tweets.paper import PAPER, replicate
from trainables.tweets.trainer import CONFUSION_FILE, TweetTrainer


def scores(split: str) -> tuple[str, ...]:
    """Every classification score of ``split`` (accuracy, macro and weighted F1, per-class P/R/F1)."""
    overall = tuple(M.named(split, m) for m in ("acc", "macro_f1", "weighted_f1"))
    return overall + tuple(M.any_target(M.named(split, m)) for m in ("precision", "recall", "f1"))


SCHEMA = Schema(
    epoch=(M.TRAIN_LOSS, M.VAL_LOSS, M.VAL_MACRO_F1, M.VAL_ACC),
    final=(M.TEST_LOSS, M.TEST_INVALID, *scores("test"), *scores(M.TEST_TUNED), M.any_target(M.TUNED_OFFSET),
           M.TUNED_VAL_MACRO_F1, M.BASELINE_MAJORITY_TEST_ACC, M.BASELINE_MAJORITY_TEST_MACRO_F1,
           M.BASELINE_MAJORITY_TEST_WEIGHTED_F1, *scores(TFIDF_TEST), *scores(M.tuned(TFIDF_TEST)),
           M.any_target(M.BASELINE_TFIDF_TUNED_OFFSET), M.BASELINE_TFIDF_TUNED_VAL_MACRO_F1),
    optional=(M.TIME_ENCODE,),
)
HATE = tuple(M.per_target(m, "hate") for m in (M.TEST_PRECISION, M.TEST_RECALL, M.TEST_F1))
MODELS = Table("models", "Models compared on the test tweets",
               (M.TEST_MACRO_F1, M.TEST_WEIGHTED_F1, M.TEST_ACC, *HATE, M.TEST_TUNED_MACRO_F1,
                *(M.per_target(M.tuned(m), "hate") for m in (M.TEST_PRECISION, M.TEST_RECALL, M.TEST_F1)),
                M.TIME_TOTAL),
               reference=False,
               baselines={"always majority": M.baseline("majority", ""), "TF-IDF logistic regression":
                          M.baseline("tfidf", "")},
               note="test/tuned: the per-class offsets chosen on validation (the same rule for every model and "
                    "TF-IDF), applied once to the test tweets. The baselines are fit and scored on the same splits.")
PER_CLASS = Table("per_class", "Per-class precision, recall and F1 (test, argmax)",
                  tuple(M.any_target(m) for m in (M.TEST_PRECISION, M.TEST_RECALL, M.TEST_F1)), reference=False,
                  baselines={"TF-IDF logistic regression": M.baseline("tfidf", "")})

TASK = Task(
    name="tweets", study="q3", config=TweetConfig,
    # The rare hate class counts as much as the others.
    metric=M.VAL_MACRO_F1, mode="max",
    build=TweetTrainer,
    paper=PAPER, module=__name__, replicate=replicate, schema=SCHEMA, tables=(MODELS, PER_CLASS),
    parts=(TokenLengths(LENGTHS_FILE, "4.1 Tokens per cleaned tweet", cut_field="max_length"), Curves(),
            Confusion(CONFUSION_FILE)),
)
