"""q2 study: the paper's grid, old flags, bad input before Ray, the smoke test end to end, the analysis."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from chargen_helpers import tiny_text

from analysis import claims_q2
from analysis import q2 as q2_analysis
from analysis.__main__ import main as analysis_main
from analysis.results import RunResults
from studies import cli, q2
from trainables.chargen import data
from trainables.common import metrics as M


def arms(argv: list[str]) -> list:
    """Every arm's config, as the study builds them before Ray starts."""
    args = q2.STUDY.parser().parse_args(q2.upgrade(argv))
    return q2.STUDY.space(args, cli.build(args, data.DataOptions))[1]


def test_the_paper_grid_trains_the_papers_lstm_in_every_arm():
    grid = arms([])
    assert len(grid) == 12
    assert {(a.cell, a.hidden_size, a.num_layers, a.dropout, a.seq_len, a.lr) for a in grid} == {
        ("lstm", 256, 2, 0.2, 100, 1e-3)}
    assert {(a.formulation, a.loss, a.batch_size) for a in grid} == {
        (f, loss, b) for f in ("sequence", "paper") for loss in ("ce", "mse", "mae") for b in (64, 128)}
    assert all(a.lowercase and a.lr_schedule == "constant" and a.grad_clip == 0 for a in grid)
    assert {(a.epochs, a.steps_per_epoch) for a in grid} == {(40, 25)}  # rounds, labelled as such
    space = q2.STUDY.space(q2.STUDY.parser().parse_args([]), data.DataOptions())[0]
    assert space["cell"] == "lstm" and sorted(space["formulation"]["grid_search"]) == ["paper", "sequence"]


def test_old_flags_and_config_fields_fix_every_arm():
    grid = arms(["--cased", "--steps-per-epoch", "0", "--epochs", "20", "--val-max-chars", "500",
                 "--min-char-count", "3", "--formulation", "report", "--seeds", "2"])
    assert len(grid) == 12  # 3 losses x 2 batch sizes x 2 seeds: one formulation given
    assert {(a.lowercase, a.steps_per_epoch, a.epochs, a.val_max_chars, a.min_char_count, a.formulation)
            for a in grid} == {(False, 0, 20, 500, 3, "paper")}
    args = q2.STUDY.parser().parse_args(["--corpus", "x.txt", "--cache-dir", "/c", "--max-chars", "9"])
    assert cli.build(args, data.DataOptions) == data.DataOptions("x.txt", "/c", 9)


def test_optuna_and_smoke_arms():
    tpe = arms(["--search", "optuna"])
    assert {(a.formulation, a.lowercase, a.epochs, a.steps_per_epoch) for a in tpe} == {("sequence", True, 40, 25)}
    assert {a.cell for a in tpe} == {"lstm", "gru", "rnn"}
    smoke = arms(["--smoke-test"])
    assert len(smoke) == 4 and {a.cell for a in smoke} == {"lstm"}


@pytest.mark.parametrize("argv, message", [
    (["--corpus", "/nonexistent/corpus.txt"], "no such file"),
    (["--set", "hiden_size=3"], "unexpected keyword argument 'hiden_size'"),
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
    assert not (tmp_path / "q2").exists()


def test_short_corpus_fails_with_the_size_needed(tmp_path, capsys):
    corpus = tmp_path / "short.txt"
    corpus.write_text("to be or not to be\n" * 20)
    with pytest.raises(SystemExit):
        q2.main(["--corpus", str(corpus), "--storage-path", str(tmp_path)])
    assert "too few" in capsys.readouterr().err


def test_smoke_study_end_to_end(ray_cluster, tmp_path):
    corpus = tmp_path / "plays.txt"
    corpus.write_text(tiny_text(8000))
    run = Path(q2.main(["--smoke-test", "--corpus", str(corpus), "--storage-path", str(tmp_path), "--name", "smoke"]))
    info = json.loads((run / "study.json").read_text())
    assert info["study"] == "q2" and info["seed_text"] == tiny_text(8000)[7200:7300]
    table = pd.read_csv(run / "tables" / "final_best.csv", index_col=0)
    assert {"paper / ce / 8", "sequence / mse / 8", "always the most frequent character"} <= set(table.index)
    assert float(table.loc["paper / ce / 8", "rounds"]) == 2.0 and float(table.loc["paper / ce / 8", M.TEST_LOSS]) > 0
    assert (run / "plots" / "curves_ce.png").stat().st_size > 1000
    assert "not the paper's epochs" in (run / "report.md").read_text()
    samples = (run / "samples.md").read_text()
    assert samples.count("Greedy") == 4 and samples.count("```") == 24


def synthetic_run(steps_per_epoch: int = 25) -> RunResults:
    """Two groups of two seeds; the sequence group learns faster. Old runs' "report" name for the paper's."""
    rows = []
    for form, start in (("sequence", 2.4), ("report", 3.0)):
        for seed in (0, 1):
            trial = f"{form}{seed}"
            for epoch in range(1, 41):
                loss = start - 0.03 * epoch - 0.1 * seed
                rows.append({"trial_id": trial, "training_iteration": epoch, M.EPOCH: epoch, M.VAL_LOSS: loss,
                             M.TRAIN_LOSS: loss - 0.1, M.VAL_ACC: 0.5 - loss / 10, M.TRAIN_ACC: 0.5,
                             M.TIME_TOTAL: 10.0 * epoch, M.BASELINE_MAJORITY_VAL_ACC: 0.15, M.VAL_BPC: loss / 0.693,
                             M.TRAIN_CHARS: epoch * 1000, M.TRAIN_STEPS: epoch * 10,
                             M.TEST_LOSS: loss + 0.05, M.BASELINE_MAJORITY_TEST_ACC: 0.2,
                             "config/formulation": form, "config/loss": "ce", "config/batch_size": 64,
                             "config/steps_per_epoch": steps_per_epoch, "config/seed": seed,
                             "trial_dir": "/nonexistent"})
    history = pd.DataFrame(rows)
    trials = history.groupby("trial_id").last().reset_index()
    # Losses fall every round: the best epoch is the last (the trial table's best/ columns).
    trials = trials.assign(**{"best/" + M.VAL_LOSS: trials[M.VAL_LOSS], "best/" + M.VAL_ACC: trials[M.VAL_ACC]})
    return RunResults(trials=trials, history=history)


def test_analysis_tables_on_synthetic_results():
    results = synthetic_run()
    trials = q2_analysis.per_trial(results)
    table = q2_analysis.summary_table(trials)
    # sequence: final losses 2.4 - 1.2 = 1.2 and 1.1 -> mean 1.150, std 0.071; test 0.05 above
    assert table.loc["sequence / ce / 64", M.VAL_LOSS] == "1.150 ± 0.071"
    assert table.loc["sequence / ce / 64", M.TEST_LOSS] == "1.200 ± 0.071"
    assert table.loc["sequence / ce / 64", q2_analysis.BEST_VAL_LOSS] == "1.150 ± 0.071"
    assert table.loc["always the most frequent character", M.VAL_ACC] == "0.150"
    points = q2_analysis.curve_points(results.history, trials)
    assert list(points.columns[:2]) == ["val/loss @ round 20", "val/loss @ round 40"]
    assert points.loc["paper / ce / 64", "val/loss @ round 20"] == "2.350 ± 0.071"
    reach = q2_analysis.reach_table(results.history, trials)
    # the paper's formulation reaches 2.0 at round 34 (seed 0) and 30 (seed 1, 0.1 lower): mean 32, 320 s
    assert reach.loc["paper / ce / 64", "val/loss ≤ 2.0"] == "32.0 rounds, 0.03M chars, 320 s"
    assert reach.loc["paper / ce / 64", "val/loss ≤ 1.6"] == "never"
    full = synthetic_run(steps_per_epoch=0)
    assert q2_analysis.curve_points(full.history, q2_analysis.per_trial(full)).columns[0] == "val/loss @ epoch 20"


def test_batch_claim_compares_at_equal_characters_and_equal_updates():
    """Batch 128 sees twice the characters per update; at equal characters it has had half the updates."""
    rows = []
    for batch, seed in [(b, s) for b in (64, 128) for s in (0, 1, 2)]:
        for r in range(1, 11):
            chars, steps = r * 100 * batch, r * 100
            loss = 3.0 - chars / 1e5 - (0.2 if batch == 64 else 0.0) - 0.01 * seed  # 64 better per character
            rows.append({"trial_id": f"b{batch}s{seed}", M.EPOCH: r, M.VAL_LOSS: loss, M.TRAIN_CHARS: chars,
                         M.TRAIN_STEPS: steps, "config/batch_size": batch, "config/seed": seed,
                         "config/loss": "ce", "config/steps_per_epoch": 100})
    history = pd.DataFrame(rows)
    trials = history.groupby("trial_id").last().reset_index()
    by_chars, by_updates = claims_q2.batch(trials, history)
    # equal characters: 64 at round 10 (64,000) against 128 at round 5: 0.2 lower
    assert by_chars.result.diff == pytest.approx(-0.2)
    # equal updates: 128 has seen 64,000 more characters (0.64 lower) against 64's 0.2 edge
    assert by_updates.result.diff == pytest.approx(0.44)
    assert "equal characters" in by_chars.label and "equal updates" in by_updates.label


def test_analysis_cli_dispatches_on_the_study_file(tmp_path, capsys):
    run = tmp_path / "run"
    history = synthetic_run().history
    for trial_id, rows in history.groupby("trial_id"):
        folder = run / trial_id
        folder.mkdir(parents=True)
        lines = []
        for _, r in rows.iterrows():
            record = {k: v for k, v in r.items() if not k.startswith("config/") and k != "trial_dir"}
            record["config"] = {k[len("config/"):]: v for k, v in r.items() if k.startswith("config/")}
            if r[M.EPOCH] == rows[M.EPOCH].max():
                record[M.COMPLETED] = 1  # the final report of a finished trial
            lines.append(json.dumps(record))
        (folder / "result.json").write_text("\n".join(lines) + "\n")
    (run / "study.json").write_text(json.dumps({"study": "q2"}))
    analysis_main(["tables", str(run)])
    printed = capsys.readouterr().out.split()
    assert str(run / "report.md") in printed and str(run / "plots" / "curves_ce.png") in printed
    report = Path(run / "report.md").read_text()
    assert "1.150 ± 0.071" in report and "rounds are not the paper's epochs" in report
