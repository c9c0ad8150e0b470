"""q2 study: the paper's grid, old flags, bad input before Ray, the smoke test end to end, the analysis."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
import torch
from chargen_helpers import tiny_text

from studies import cli, launch, q2
from trainables.chargen import data
from trainables.common import runtime


def arms(argv: list[str]) -> list:
    """Every arm's config, as the study builds them before Ray starts."""
    return launch.prepare(q2.STUDY, argv + ["--storage-path", "/tmp/never-written"])[1].configs


def test_the_paper_design_trains_the_papers_lstm_in_every_arm():
    design = arms(["--seeds", "1"])
    assert len(design) == 5  # the reference, mse, mae, batch 128, the paper's formulation
    assert {(a.cell, a.hidden_size, a.num_layers, a.dropout, a.seq_len, a.lr) for a in design} == {
        ("lstm", 256, 2, 0.2, 100, 1e-3)}
    assert {(a.formulation, a.loss, a.batch_size) for a in design} == {
        ("sequence", "ce", 64), ("sequence", "mse", 64), ("sequence", "mae", 64), ("sequence", "ce", 128),
        ("paper", "ce", 64)}
    assert all(a.lowercase and a.lr_schedule == "constant" and a.grad_clip == 0 for a in design)
    assert all(a.cpu_bf16 for a in design)  # bfloat16 where the CPU computes it (its losses within 0.02 nats)
    assert {(a.epochs, a.steps_per_epoch) for a in design if a.formulation == "sequence"} == {(40, 25)}  # rounds
    # the paper formulation's arm stops where the formulation claim stops reading it: the reference's compute
    assert {(a.epochs, a.steps_per_epoch) for a in design if a.formulation == "paper"} == {(5, 25)}
    # and scores 20,000 test characters as it validates on 20,000 (a window each); the other arms the whole part
    assert {(a.formulation, a.test_max_chars, a.val_max_chars) for a in design} == {("paper", 20_000, 20_000),
                                                                                   ("sequence", 0, 20_000)}
    assert len(arms(["--design", "factorial", "--seeds", "1"])) == 12


def test_old_flags_and_config_fields_fix_every_arm():
    design = arms(["--cased", "--steps-per-epoch", "0", "--epochs", "20", "--val-max-chars", "500",
                   "--min-char-count", "3", "--formulation", "report", "--seeds", "2"])
    assert len(design) == 8  # the formulation given: 4 arms left, 2 seeds
    assert {(a.lowercase, a.steps_per_epoch, a.epochs, a.val_max_chars, a.min_char_count, a.formulation)
            for a in design} == {(False, 0, 20, 500, 3, "paper")}
    args = launch.flags.parser(q2.STUDY).parse_args(["--corpus", "x.txt", "--cache-dir", "/c", "--max-chars", "9"])
    assert cli.build(args, data.DataOptions) == data.DataOptions("x.txt", "/c", 9)


def test_searched_and_smoke_arms():
    searched = arms(["--search", "optuna"])
    assert {(a.formulation, a.budget_s > 0) for a in searched} == {("sequence", True)}
    assert {a.cell for a in searched} == {"lstm", "gru"}
    smoke = arms(["--smoke-test"])
    assert len(smoke) == 4 and {a.cell for a in smoke} == {"lstm"}


@pytest.mark.parametrize("argv, message", [
    (["--corpus", "/nonexistent/corpus.txt"], "no such file"),
    (["--set", "hiden_size=3"], "unknown config field 'hiden_size' of CharConfig"),
    (["--cell", "transformer"], "cell: 'transformer' is not one of"),
    (["--set", "nonsense"], "expected FIELD=VALUE"),
    (["--epochs", "0"], "epochs: 0 is outside"),
    (["--max-chars", "-1"], "--max-chars cannot be negative"),
])
def test_bad_input_fails_in_one_line_before_ray(argv, message, capsys, tmp_path):
    with pytest.raises(SystemExit) as exc:
        q2.main(argv + ["--storage-path", str(tmp_path)])
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1
    assert not (tmp_path / "q2").exists() or not list((tmp_path / "q2").iterdir())


def test_short_corpus_fails_with_the_size_needed(tmp_path, capsys):
    corpus = tmp_path / "short.txt"
    corpus.write_text("to be or not to be\n" * 20)
    with pytest.raises(SystemExit):
        q2.main(["--corpus", str(corpus), "--storage-path", str(tmp_path)])
    assert "too few" in capsys.readouterr().err


def test_smoke_study_end_to_end(ray_cluster, tmp_path, capsys):
    """With cpu_bf16 asked for: the trials (on this machine's CPU) train in bfloat16 where the probe says the
    CPU computes an LSTM in it, else in float32 with one note before the trials; the table says which."""
    corpus = tmp_path / "plays.txt"
    corpus.write_text(tiny_text(8000))
    run = Path(q2.main(["--smoke-test", "--corpus", str(corpus), "--storage-path", str(tmp_path), "--name", "smoke",
                        "--cpu-bf16"]))
    info = json.loads((run / "study.json").read_text())
    assert info["study"] == "q2" and info["seed_text"] == tiny_text(8000)[7200:7300]
    table = pd.read_csv(run / "tables" / "final_best.csv", index_col=0)
    bf16 = runtime.cpu_bf16_computes(torch.nn.LSTM)
    assert set(table["train/precision"].dropna()) == {runtime.BFLOAT16 if bf16 else runtime.FLOAT32}
    notes = [line for line in capsys.readouterr().out.splitlines() if line.startswith("note: cpu_bf16")]
    assert len(notes) == (0 if bf16 else 1)
    assert {"paper / ce", "sequence / mse", "always the most frequent character"} <= set(table.index)
    assert float(table.loc["paper / ce", "epochs_run"]) == 2.0 and float(table.loc["paper / ce", "loss"]) > 0
    assert (run / "plots" / "learning_curves.png").stat().st_size > 1000
    report = (run / "report.md").read_text()
    assert "round" in report and report.count("Greedy (the paper's decoding)") == 4


