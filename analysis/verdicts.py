"""A comparison's verdict from where its interval lies against zero and its margin.

One rule for the fixed design and for seeds looked at one by one
(``analysis.sequential``), written on arrays so the simulations run the very
rule the reports use:

- ``same`` is supported when the interval lies within ±margin, contradicted
  when it lies wholly outside;
- ``not lower`` is supported unless the interval shows a loss beyond the margin,
  contradicted when it lies wholly below −margin;
- ``lower`` / ``higher``: equivalent when the interval lies within ±margin;
  supported when the test (``significant``: the sign the corrected test found,
  0 when none) points the claimed way, contradicted when it points the other way.
"""

from __future__ import annotations

import numpy as np

from trainables.common.paper import HIGHER, LOWER, NOT_LOWER, SAME

SUPPORTED, CONTRADICTED, EQUIVALENT, INCONCLUSIVE, NOT_RUN = (
    "supported", "contradicted", "equivalent", "inconclusive", "not run")
SIGN = {LOWER: -1, HIGHER: 1}


def rule(expect: str, margin, low, high, significant) -> np.ndarray:
    """The verdict of each interval [low, high] (arrays, broadcast together); NaN bounds are inconclusive."""
    low, high = np.asarray(low, dtype=float), np.asarray(high, dtype=float)
    margin, significant = np.asarray(margin, dtype=float), np.asarray(significant)
    within = (-margin <= low) & (high <= margin)
    outside = (low > margin) | (high < -margin)
    if expect == SAME:
        choices = [(within, SUPPORTED), (outside, CONTRADICTED)]
    elif expect == NOT_LOWER:
        choices = [(low > -margin, SUPPORTED), (high < -margin, CONTRADICTED)]
    else:
        choices = [(within, EQUIVALENT), (significant == SIGN[expect], SUPPORTED),
                   (significant == -SIGN[expect], CONTRADICTED)]
    conditions = [np.broadcast_to(c, np.broadcast(low, high, margin).shape) for c, _ in choices]
    return np.select(conditions, [v for _, v in choices], default=INCONCLUSIVE)
