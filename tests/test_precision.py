"""bfloat16 on CPUs: probed where the trial runs, float32 where the CPU cannot compute it, and said so."""

from __future__ import annotations

import random

import numpy as np
import pytest
import torch
from chargen_helpers import tiny_text, tiny_trainer

from trainables.chargen.data import Corpus
from trainables.chargen.task import TASK
from trainables.chargen.trainer import precision_notes
from trainables.common import loop, runtime
from trainables.common import metrics as M

LSTM_BF16 = runtime.cpu_bf16_computes(torch.nn.LSTM)
NO_BF16 = f"this CPU ({runtime.cpu_capability()}) does not compute an LSTM in bfloat16"


def global_states() -> tuple:
    return random.getstate(), np.random.get_state()[1].tolist(), torch.get_rng_state().tolist()


def test_the_probe_leaves_every_random_stream_where_it_was():
    """A trial probes after seeding: its numbers must not depend on whether this process probed before."""
    runtime.seed_everything(3)
    before = global_states()
    runtime.cpu_bf16_computes.cache_clear()
    runtime.cpu_bf16_computes(torch.nn.LSTM)
    runtime.cpu_bf16_computes(torch.nn.GRU)
    assert global_states() == before


def test_forced_unsupported_answers_no_for_every_cell_and_is_cached(no_cpu_bf16, monkeypatch):
    for cell in (torch.nn.LSTM, torch.nn.GRU, torch.nn.RNN):
        assert runtime.cpu_bf16_computes(cell) is False
    monkeypatch.delenv(runtime.CPU_BF16_ENV)
    assert runtime.cpu_bf16_computes(torch.nn.LSTM) is False  # once per process: the cached answer


def test_a_misspelt_forcing_value_is_an_error_naming_the_variable(monkeypatch):
    monkeypatch.setenv(runtime.CPU_BF16_ENV, "no")
    runtime.cpu_bf16_computes.cache_clear()
    try:
        with pytest.raises(ValueError, match=runtime.CPU_BF16_ENV):
            runtime.cpu_bf16_computes(torch.nn.LSTM)
    finally:
        runtime.cpu_bf16_computes.cache_clear()


def test_the_probe_says_no_where_autocast_leaves_the_cell_in_float32():
    """The GRU runs under CPU autocast but stays float32: a probe that only caught errors would say yes."""
    with torch.autocast("cpu", dtype=torch.bfloat16):
        out = torch.nn.GRU(4, 4, batch_first=True)(torch.ones(1, 2, 4))[0]
    assert runtime.cpu_bf16_computes(torch.nn.GRU) == (out.dtype == torch.bfloat16)


def linear_dtypes(trainer, monkeypatch) -> set:
    seen = []
    real = torch.nn.Linear.forward
    monkeypatch.setattr(torch.nn.Linear, "forward", lambda self, x: (out := real(self, x), seen.append(out.dtype))[0])
    out = trainer.train_epoch()
    monkeypatch.setattr(torch.nn.Linear, "forward", real)
    return {*seen, out[M.TRAIN_PRECISION]}


@pytest.mark.parametrize("cell", ["lstm", "gru"])
def test_without_bf16_kernels_cpu_bf16_trains_exactly_as_float32(cell, no_cpu_bf16, monkeypatch):
    """The fallback on any CPU: no crash, float32 throughout, the same numbers as cpu_bf16 off, said so."""
    runs = {}
    for bf16 in (False, True):
        trainer = tiny_trainer(cell=cell, cpu_bf16=bf16, n_chars=6000, steps_per_epoch=10)
        assert linear_dtypes(trainer, monkeypatch) == {torch.float32, runtime.FLOAT32}
        runs[bf16] = trainer.validate()[M.VAL_LOSS]
    assert runs[True] == runs[False]


@pytest.mark.skipif(not LSTM_BF16, reason=NO_BF16)
def test_where_the_cpu_computes_bf16_the_trial_reports_bfloat16(monkeypatch):
    trainer = tiny_trainer(cell="lstm", cpu_bf16=True, n_chars=6000, steps_per_epoch=5)
    assert linear_dtypes(trainer, monkeypatch) == {torch.bfloat16, runtime.BFLOAT16}


def test_a_whole_trial_records_its_precision_in_every_epoch_report(no_cpu_bf16):
    session = loop.LocalSession()
    cfg = TASK.config(cell="lstm", cpu_bf16=True, hidden_size=8, embed_size=4, num_layers=1, batch_size=4,
                      seq_len=16, epochs=2, steps_per_epoch=2, val_max_chars=64)
    trainer = TASK.build(cfg, Corpus(tiny_text(4000), "tiny"), torch.device("cpu"))
    loop.run_trial(trainer, cfg, session, TASK.metric, TASK.mode, TASK.schema.check_record)
    assert [r[M.TRAIN_PRECISION] for r in session.records] == [runtime.FLOAT32] * 2


def test_the_study_notes_the_cells_this_cpu_trains_in_float32(no_cpu_bf16):
    configs = [TASK.config(cell=c, cpu_bf16=b) for c in ("lstm", "gru", "rnn") for b in (True, False)]
    (note,) = precision_notes(configs)
    assert f"this CPU ({runtime.cpu_capability()}) does not compute gru or lstm or rnn in bfloat16" in note
    assert "float32" in note and M.TRAIN_PRECISION in note
    assert precision_notes([TASK.config(cell="lstm")]) == []  # nobody asked for bfloat16


@pytest.mark.parametrize("dtype", [runtime.FLOAT16, runtime.BFLOAT16])
def test_amp_is_float32_on_a_cpu_in_either_dtype(dtype):
    mp = runtime.MixedPrecision(torch.device("cpu"), requested=True, dtype=dtype)
    assert not mp.enabled and mp.name == runtime.FLOAT32 and not mp.scaler.is_enabled()
    with mp.autocast():
        assert torch.nn.Linear(2, 2)(torch.ones(1, 2)).dtype == torch.float32


def test_an_unknown_amp_dtype_is_refused_naming_the_field():
    from trainables.common.config import ConfigError

    with pytest.raises(ConfigError, match="amp_dtype: 'int8' is not one of float16, bfloat16"):
        TASK.config(amp=True, amp_dtype="int8")
