"""q3's claims: HateBERT against BERT, T5 last, and both against TF-IDF.

Models are grouped into families: ``t5`` (model_type t5), ``hatebert`` (an
encoder whose id or path contains "hatebert") and ``bert`` (any other
encoder, e.g. bert-base-uncased or the offline MiniLM). Trials are paired by
seed (and training mode where both sides have it), averaged within a seed.
"""

from __future__ import annotations

import pandas as pd

from analysis.claims import SEED, C, Claim, build, compare, compare_columns
from trainables.common import metrics as M
from trainables.common.metrics import per_target

FAMILY = "family"
TFIDF_MACRO_F1 = M.BASELINE_TFIDF_TEST_MACRO_F1
F1 = M.TEST_F1

CLAIMS = {
    "hatebert": "HateBERT beats BERT on the hate and neither classes (test F1)",
    "t5_worst": "T5 is the worst model (test macro-F1)",
    "tfidf": "HateBERT+LSTM and BERT+LSTM beat the TF-IDF baseline (test macro-F1)",
}
NEEDS = {
    "hatebert": "encoder_lstm trials with a HateBERT and a BERT encoder and test/f1/hate, test/f1/neither",
    "t5_worst": "t5 and encoder_lstm trials with test/macro_f1",
    "tfidf": f"encoder_lstm trials with test/macro_f1 and {TFIDF_MACRO_F1}",
}
NOTES = {
    "tfidf": "Each model against the TF-IDF logistic regression on the same split and seed.",
}


def family(row: pd.Series) -> str:
    if row.get(C + "model_type") == "t5":
        return "t5"
    return "hatebert" if "hatebert" in str(row.get(C + "encoder", "")).lower() else "bert"


def with_family(trials: pd.DataFrame) -> pd.DataFrame:
    if C + "model_type" not in trials:
        return trials.assign(**{FAMILY: pd.Series(dtype=object)})
    return trials.assign(**{FAMILY: trials.apply(family, axis=1)})


def pair_keys(rows: pd.DataFrame) -> list[str]:
    keys = [SEED] if SEED in rows else []
    if C + "mode" in rows and rows[C + "mode"].notna().all() and rows[C + "mode"].nunique() > 1:
        keys.append(C + "mode")
    return keys


def hatebert(t: pd.DataFrame) -> list:
    rows = t[t[FAMILY].isin(["hatebert", "bert"])]
    return [compare(rows, FAMILY, "hatebert", "bert", per_target(F1, cls), +1, keys=pair_keys(rows))
            for cls in ("hate", "neither")]


def t5_worst(t: pd.DataFrame) -> list:
    return [compare(t, FAMILY, "t5", other, M.TEST_MACRO_F1, -1, keys=[SEED] if SEED in t else [])
            for other in ("hatebert", "bert")]


def tfidf(t: pd.DataFrame) -> list:
    out = []
    for fam in ("hatebert", "bert"):
        rows = t[t[FAMILY] == fam]
        out.append(compare_columns(rows, M.TEST_MACRO_F1, TFIDF_MACRO_F1, +1, f"{fam} − tf-idf, test/macro_f1")
                   if not rows.empty else None)
    return out


def evaluate(results) -> list[Claim]:
    """The claims on ``results`` (``.trials``, ``.history``: an ``analysis.run.Run``)."""
    t = with_family(results.trials)
    found = {"hatebert": hatebert(t), "t5_worst": t5_worst(t), "tfidf": tfidf(t)}
    return [build("q3", key, CLAIMS[key], comps, NEEDS[key], NOTES.get(key, "")) for key, comps in found.items()]
