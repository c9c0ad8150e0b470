"""q2 model shapes and parameter counts, losses and learning-rate schedules."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F
from chargen_helpers import tiny_config

from trainables.chargen.config import CELLS
from trainables.chargen.losses import lr_factor, make_loss
from trainables.chargen.model import CharRNN, build_model, detach


@pytest.mark.parametrize("cell", CELLS)
def test_sequence_model_predicts_every_position_and_carries_state(cell):
    model = build_model(tiny_config(cell=cell, num_layers=2), vocab_size=11).eval()
    x = torch.randint(0, 11, (3, 7))
    logits, _ = model(x)
    assert logits.shape == (3, 7, 11)
    # Two halves with the state carried equal the whole sequence at once.
    first, mid = model(x[:, :4])
    second, _ = model(x[:, 4:], detach(mid))
    assert torch.allclose(torch.cat([first, second], dim=1), logits, atol=1e-5)


@pytest.mark.parametrize("cell", CELLS)
def test_paper_model_predicts_once_per_window(cell):
    model = build_model(tiny_config(cell=cell, formulation="paper"), vocab_size=11)
    logits, _ = model(torch.rand(5, 16))
    assert logits.shape == (5, 11)
    assert model.embed is None and model.rnn.input_size == 1  # one scaled number per step


def test_paper_model_size_matches_keras_up_to_pytorch_biases():
    """The paper's stack: LSTM(256) x 2 on one input feature, Dense(vocab).

    Keras counts 4 * (256 * (in + 256) + 256) per LSTM layer; PyTorch keeps a
    second bias vector per gate, 4 * 256 = 1,024 more per layer.
    """
    vocab = 39  # the lower-cased Tiny Shakespeare vocabulary
    model = CharRNN(vocab, "paper", "lstm", embed_size=1, hidden_size=256, num_layers=2, dropout=0.2)
    keras = 4 * (256 * (1 + 256) + 256) + 4 * (256 * (256 + 256) + 256) + 256 * vocab + vocab
    assert keras == 799_527
    assert sum(p.numel() for p in model.parameters()) == keras + 2 * 1024


def test_cross_entropy_loss_is_torchs():
    logits, y = torch.randn(2, 5, 7), torch.randint(0, 7, (2, 5))
    expected = F.cross_entropy(logits.reshape(-1, 7), y.reshape(-1))
    assert make_loss("ce")(logits, y).item() == pytest.approx(expected.item())


def test_mse_and_mae_compare_softmax_with_one_hot():
    vocab = 4
    uniform = torch.zeros(1, vocab)  # softmax = 1/4 everywhere
    y = torch.tensor([2])
    # one-hot (0, 0, 1, 0) against 1/4s: squared errors 3 * 1/16 + 9/16, absolute 3 * 1/4 + 3/4
    assert make_loss("mse")(uniform, y).item() == pytest.approx((3 / 16 + 9 / 16) / vocab)
    assert make_loss("mae")(uniform, y).item() == pytest.approx((3 / 4 + 3 / 4) / vocab)
    confident = torch.tensor([[0.0, 0.0, 30.0, 0.0]])
    assert make_loss("mse")(confident, y).item() < 1e-12
    assert make_loss("mae")(confident, y).item() < 1e-12
    with pytest.raises(ValueError):
        make_loss("hinge")


def test_learning_rate_schedules():
    assert lr_factor("constant", 0.7) == 1.0
    assert lr_factor("onecycle", 0.0) == pytest.approx(1 / 25)
    assert lr_factor("onecycle", 0.25) == pytest.approx(1.0)
    assert lr_factor("onecycle", 1.0) == pytest.approx(1e-3)
    assert lr_factor("cosine", 0.0) < 0.05 and lr_factor("cosine", 0.02) == pytest.approx(1.0)
    decay = [lr_factor("cosine", p) for p in (0.1, 0.4, 0.7, 1.0)]
    assert decay == sorted(decay, reverse=True) and decay[-1] == pytest.approx(0.02)
    assert lr_factor("cosine", 2.0) == lr_factor("cosine", 1.0)  # progress past the end is clamped
    assert not math.isnan(lr_factor("onecycle", -1.0))
