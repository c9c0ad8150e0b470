"""q1's paper design: the reference setting, the factors of its sections 2.1-2.4, its conclusions as claims.

The paper varied one factor at a time around a reference setting (MSE loss,
Adam, no dropout) for each cell; this project adds the formulation (its
scale-free returns against the paper's min-max scaled levels). Accuracy is
test MAPE on prices (lower is better), scored with the best validation
epoch's weights. Margins are declared here, before any data: a difference in
accuracy smaller than 1% of the persistence forecast's test MAPE does not
matter to a forecaster (1% of its validation MAPE for the learning curves, which are validation MAPE), nor one
in speed below 5% of the time per epoch.
"""

from __future__ import annotations

from trainables.common import metrics as M
from trainables.common.paper import CHOSEN, CURVE, HIGHER, LOWER, NOT_LOWER, PER_EPOCH, Claim, Compare, Margin, Paper
from trainables.stock.config import CELLS, FORMULATIONS, LOSSES, OPTIMIZERS

ACCURACY = Margin(0.01, "1% of the persistence forecast's test MAPE", of=M.PERSISTENCE_TEST_MAPE)
VAL_ACCURACY = Margin(0.01, "1% of the persistence forecast's validation MAPE", of=M.PERSISTENCE_VAL_MAPE)
SPEED = Margin(0.05, "5% of the time per epoch", relative=True)


def per_cell(factor: str, a, b, expect: str | dict[str, str]) -> tuple[Compare, ...]:
    """``factor``'s a − b in each cell (``expect`` per cell when it differs)."""
    return tuple(Compare(factor, a, b, expect if isinstance(expect, str) else expect[cell], at={"cell": cell},
                         label=f"{cell}: {a} − {b}") for cell in ("gru", "lstm", "rnn"))


CLAIMS = (
    Claim("cells_accuracy", "GRU > LSTM > RNN in accuracy (test MAPE)", M.TEST_MAPE,
          (Compare("cell", "gru", "lstm", LOWER), Compare("cell", "lstm", "rnn", LOWER)), ACCURACY),
    Claim("cells_time", "Training time LSTM > GRU > RNN (time per epoch)", M.TIME_TOTAL,
          (Compare("cell", "lstm", "gru", HIGHER), Compare("cell", "gru", "rnn", HIGHER)), SPEED, measure=PER_EPOCH,
          note="Time per epoch (training and validation seconds over the epochs run): trials stopped early "
               "run fewer epochs, so totals would not compare."),
    Claim("mape_loss", "MAPE loss does not improve GRU and LSTM, and hurts the RNN", M.TEST_MAPE,
          per_cell("loss", "mape", "mse", {"gru": NOT_LOWER, "lstm": NOT_LOWER, "rnn": HIGHER}), ACCURACY,
          note="'Does not improve' holds when MAPE loss is not better than MSE by more than the margin."),
    Claim("adam", "Adam beats Adagrad and RMSprop, and trains faster", M.TEST_MAPE,
          tuple(Compare("optimizer", "adam", other, LOWER, over=("cell",)) for other in ("adagrad", "rmsprop"))
          + tuple(Compare("optimizer", "adam", other, LOWER, over=("cell",), metric=M.VAL_MAPE, measure=CURVE,
                          margin=VAL_ACCURACY, label=f"adam − {other}, learning speed")
                  for other in ("adagrad", "rmsprop")),
          ACCURACY,
          note="Averaged over the three cells within each seed. Learning speed: validation MAPE averaged over the "
               "epochs both trials of a pair ran (the area under the learning curve on a common span, fair when "
               "early stopping ends trials at different epochs); its margin is 1% of persistence's MAPE on the same "
               "validation days."),
    Claim("dropout", "Dropout 0.1 hurts LSTM and GRU and helps the RNN", M.TEST_MAPE,
          per_cell("dropout", 0.1, 0.0, {"gru": HIGHER, "lstm": HIGHER, "rnn": LOWER}), ACCURACY),
    Claim("persistence", "The best network (chosen on validation) beats the persistence forecast", M.TEST_MAPE,
          (Compare("setting", "chosen", against=M.PERSISTENCE_TEST_MAPE, expect=LOWER,
                   label="best on validation − persistence"),), ACCURACY, measure=CHOSEN, paper=False,
          note="The reader's question: the setting with the best mean validation MAPE, against tomorrow = today "
               "on the same test days and seeds."),
    Claim("formulation", "Returns in, next-day return out beats the paper's min-max scaled levels (test MAPE)",
          M.TEST_MAPE, per_cell("formulation", "returns", "paper", LOWER), ACCURACY, paper=False,
          note="Not in the paper: whether its scaled-levels formulation is what holds the networks back."),
)

PAPER = Paper(
    reference={"loss": "mse", "optimizer": "adam", "dropout": 0.0, "formulation": "returns"},
    factors={"cell": CELLS, "loss": LOSSES, "optimizer": OPTIMIZERS, "dropout": (0.0, 0.1),
             "formulation": FORMULATIONS},
    blocks=("cell",),
    claims=CLAIMS,
    # The paper's formulation improves until its last epochs (benchmarks/RESULTS.md, q1 early stopping):
    # early stopping would cut it short, so its arms train the paper's fixed epochs.
    level_settings={("formulation", "paper"): {"patience": 0}},
)
