"""q3's paper design: BERT + LSTM, HateBERT + LSTM and T5, its conclusions, and the classic baseline question.

Models are compared by family, derived from a trial's config: ``t5`` (model
type t5), ``hatebert`` (an encoder whose name holds "hatebert"), ``bert`` (a
BERT encoder, e.g. bert-base-uncased), else the encoder's own short name
(the offline MiniLM is ``minilm``, not ``bert``). Every trial of a seed is
scored on the same split (the seed sets the split too), and the baselines
on the same tweets, so comparisons pair by that seed. Declared before any
data: one point of F1 (0.01) is the smallest difference that matters.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import PurePosixPath
from typing import Any

from trainables.common import metrics as M
from trainables.common.metrics import per_target
from trainables.common.paper import CHOSEN, HIGHER, LOWER, Claim, Compare, Margin, Paper

F1 = Margin(0.01, "one point of F1 (0.01)")
TUNED_MACRO_F1 = M.TEST_TUNED_MACRO_F1  # the decision rule chosen on validation
TFIDF_TUNED_MACRO_F1 = M.BASELINE_TFIDF_TEST_TUNED_MACRO_F1
FAMILIES = ("bert", "hatebert", "t5")


def family(config: Mapping[str, Any]) -> str:
    """The model family of a trial's config (see the module's docstring)."""
    if config.get("model_type") == "t5":
        return "t5"
    name = PurePosixPath(str(config.get("encoder", "")).rstrip("/")).name.lower()
    if "hatebert" in name:
        return "hatebert"
    if name.startswith("bert"):
        return "bert"
    return name.removeprefix("offline-") or "encoder"


CLAIMS = (
    Claim("hatebert", "HateBERT beats BERT on the hate and neither classes (test F1)", per_target(M.TEST_F1, "hate"),
          (Compare("family", "hatebert", "bert", HIGHER),
           Compare("family", "hatebert", "bert", HIGHER, metric=per_target(M.TEST_F1, "neither"))), F1),
    Claim("t5_worst", "T5 is the worst model (test macro-F1)", M.TEST_MACRO_F1,
          (Compare("family", "t5", "hatebert", LOWER), Compare("family", "t5", "bert", LOWER)), F1),
    Claim("tfidf", "HateBERT + LSTM and BERT + LSTM beat the TF-IDF baseline (test macro-F1)", M.TEST_MACRO_F1,
          tuple(Compare("family", fam, against=M.BASELINE_TFIDF_TEST_MACRO_F1, expect=HIGHER,
                        label=f"{fam} − tf-idf") for fam in ("hatebert", "bert")), F1,
          note="Each model against the TF-IDF logistic regression on the same split."),
    Claim("network_vs_tfidf", "The best network (chosen on validation) beats TF-IDF + logistic regression "
          "(test macro-F1)", M.TEST_MACRO_F1,
          (Compare("setting", "chosen", against=M.BASELINE_TFIDF_TEST_MACRO_F1, expect=HIGHER,
                   label="best on validation − tf-idf, argmax"),
           Compare("setting", "chosen", against=TFIDF_TUNED_MACRO_F1, expect=HIGHER, metric=TUNED_MACRO_F1,
                   label="best on validation − tf-idf, decision rule chosen on validation")),
          F1, measure=CHOSEN, paper=False,
          note="The reader's question: the setting with the best mean validation macro-F1, against the classic "
               "baseline on the same splits, with plain argmax and with per-class offsets chosen on validation "
               "(the same rule for both)."),
)

PAPER = Paper(
    reference={"family": "bert"},
    factors={"family": FAMILIES},
    claims=CLAIMS,
    columns={"family": family},
)


def replicate(seed: int) -> dict[str, int]:
    """A replicate sets the initialisation and the split alike, so the comparison spans several splits."""
    return {"seed": seed, "split_seed": seed}
