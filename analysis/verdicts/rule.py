"""A comparison's verdict from where its intervals lie against zero and its margin.

One rule for the fixed design and for seeds looked at one by one
(``analysis.verdicts.sequential``), written on arrays so the simulations run the very
rule the reports use. It reads three intervals (the same one three times in the fixed design):
``equal``, the one equivalence reads (two one-sided tests); ``claim``, the one that supports what is
claimed; ``against``, the one that contradicts it.

- ``same`` is supported when ``equal`` lies within ±margin, contradicted when ``against`` lies wholly
  outside;
- ``not lower`` is supported unless ``claim`` reaches a loss beyond the margin, contradicted when
  ``against`` lies wholly below −margin;
- ``lower`` / ``higher``: equivalent when ``equal`` lies within ±margin; supported when ``claim`` lies on the
  claimed side of zero, contradicted when ``against`` lies on the other side.

NaN bounds decide nothing: the fixed design passes NaN as ``claim`` and ``against`` of a directional
comparison whose Holm-corrected test is not significant.
"""

from __future__ import annotations

import numpy as np

from trainables.common.paper import HIGHER, LOWER, NOT_LOWER, SAME

SUPPORTED, CONTRADICTED, EQUIVALENT, INCONCLUSIVE, NOT_RUN = (
    "supported", "contradicted", "equivalent", "inconclusive", "not run")
SIGN = {LOWER: -1, HIGHER: 1}


def rule(expect: str, margin, equal, claim, against) -> np.ndarray:
    """The verdict of each set of intervals, each a (low, high) pair of arrays broadcast together."""
    (el, eh), (cl, ch), (al, ah) = ((np.asarray(x, dtype=float) for x in pair) for pair in (equal, claim, against))
    margin = np.asarray(margin, dtype=float)
    within = (-margin <= el) & (eh <= margin)
    if expect == SAME:
        choices = [(within, SUPPORTED), ((al > margin) | (ah < -margin), CONTRADICTED)]
    elif expect == NOT_LOWER:
        choices = [(cl > -margin, SUPPORTED), (ah < -margin, CONTRADICTED)]
    elif SIGN[expect] > 0:
        choices = [(within, EQUIVALENT), (cl > 0, SUPPORTED), (ah < 0, CONTRADICTED)]
    else:
        choices = [(within, EQUIVALENT), (ch < 0, SUPPORTED), (al > 0, CONTRADICTED)]
    shape = np.broadcast(el, eh, cl, ch, al, ah, margin).shape
    conditions = [np.broadcast_to(c, shape) for c, _ in choices]
    return np.select(conditions, [v for _, v in choices], default=INCONCLUSIVE)
