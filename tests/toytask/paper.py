"""The toy's "paper": the GRU beats the plain RNN, and both beat predicting the mean."""

from __future__ import annotations

from trainables.common import metrics as M
from trainables.common.paper import LOWER, Claim, Compare, Margin, Paper

LOSS = Margin(0.01, "0.01 (squared error)")
PAPER = Paper(
    reference={"cell": "rnn"},
    factors={"cell": ("rnn", "gru")},
    claims=(
        Claim("cells", "The GRU beats the RNN (test loss)", M.TEST_LOSS, (Compare("cell", "gru", "rnn", LOWER),),
              LOSS),
        Claim("baseline", "The GRU beats predicting the mean (test loss)", M.TEST_LOSS,
              (Compare("cell", "gru", against=M.baseline("mean", M.TEST_LOSS), expect=LOWER),), LOSS, paper=False),
    ),
)
