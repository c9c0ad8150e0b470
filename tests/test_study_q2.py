"""q2 study: bad input stops before Ray, the smoke test end to end, and the analysis."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from chargen_helpers import tiny_text

from analysis import q2 as q2_analysis
from analysis.__main__ import main as analysis_main
from analysis.results import RunResults
from studies import q2
from trainables.common import metrics as M


@pytest.mark.parametrize("argv, message", [
    (["--corpus", "/nonexistent/corpus.txt"], "no such file"),
    (["--set", "hiden_size=3"], "unexpected keyword argument 'hiden_size'"),
    (["--set", "cell=transformer"], "cell: 'transformer' is not one of"),
    (["--set", "nonsense"], "expected FIELD=VALUE"),
    (["--epochs", "0"], "epochs: 0 is outside"),
])
def test_bad_input_fails_in_one_line_before_ray(argv, message, capsys):
    with pytest.raises(SystemExit) as exc:
        q2.main(argv + ["--storage-path", "/tmp/never-written"])
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1


def test_short_corpus_fails_with_the_size_needed(tmp_path, capsys):
    corpus = tmp_path / "short.txt"
    corpus.write_text("to be or not to be\n" * 20)
    with pytest.raises(SystemExit):
        q2.main(["--corpus", str(corpus), "--storage-path", str(tmp_path)])
    assert "too few" in capsys.readouterr().err


def test_smoke_study_end_to_end(ray_cluster, tmp_path):
    corpus = tmp_path / "plays.txt"
    corpus.write_text(tiny_text(8000))
    results = q2.main(["--smoke-test", "--corpus", str(corpus), "--storage-path", str(tmp_path), "--name", "smoke"])
    assert not results.errors and len(results) == 4
    run = tmp_path / "smoke"
    info = json.loads((run / "study.json").read_text())
    assert info["study"] == "q2" and info["seed_text"] == tiny_text(8000)[7200:7300]
    table = pd.read_csv(run / "tables" / "final_best.csv", index_col=0)
    assert {"report / ce / 8", "sequence / mse / 8", "always the most frequent character"} <= set(table.index)
    assert (run / "plots" / "curves_ce.png").stat().st_size > 1000
    samples = (run / "samples.md").read_text()
    assert samples.count("Greedy") == 4 and samples.count("```") == 24


def synthetic_run() -> RunResults:
    """Two groups of two seeds; the sequence group learns faster."""
    rows = []
    for form, start in (("sequence", 2.4), ("report", 3.0)):
        for seed in (0, 1):
            trial = f"{form}{seed}"
            for epoch in range(1, 41):
                loss = start - 0.03 * epoch - 0.1 * seed
                rows.append({"trial_id": trial, "training_iteration": epoch, M.EPOCH: epoch, M.VAL_LOSS: loss,
                             M.TRAIN_LOSS: loss - 0.1, M.VAL_ACC: 0.5 - loss / 10, M.TRAIN_ACC: 0.5,
                             M.TIME_TOTAL: 10.0 * epoch, M.BASELINE_MAJORITY_VAL_ACC: 0.15, M.VAL_BPC: loss / 0.693,
                             "config/formulation": form, "config/loss": "ce", "config/batch_size": 64,
                             "config/seed": seed, "trial_dir": "/nonexistent"})
    history = pd.DataFrame(rows)
    return RunResults(trials=history.groupby("trial_id").last().reset_index(), history=history)


def test_analysis_tables_on_synthetic_results():
    results = synthetic_run()
    trials = q2_analysis.per_trial(results)
    table = q2_analysis.summary_table(trials)
    # sequence: final losses 2.4 - 1.2 = 1.2 and 1.1 -> mean 1.150, std 0.071
    assert table.loc["sequence / ce / 64", M.VAL_LOSS] == "1.150 ± 0.071"
    assert table.loc["sequence / ce / 64", q2_analysis.BEST_VAL_LOSS] == "1.150 ± 0.071"
    assert table.loc["always the most frequent character", M.VAL_ACC] == "0.150"
    points = q2_analysis.curve_points(results.history, trials)
    assert list(points.columns[:2]) == ["val/loss @ epoch 20", "val/loss @ epoch 40"]
    assert points.loc["report / ce / 64", "val/loss @ epoch 20"] == "2.350 ± 0.071"
    reach = q2_analysis.reach_table(results.history, trials)
    # report reaches 2.0 at epoch 34 (seed 0) and 30 (seed 1, 0.1 lower): mean 32, 320 s
    assert reach.loc["report / ce / 64", "val/loss ≤ 2.0"] == "32.0 ep, 320 s"
    assert reach.loc["report / ce / 64", "val/loss ≤ 1.6"] == "never"


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
            lines.append(json.dumps(record))
        (folder / "result.json").write_text("\n".join(lines) + "\n")
    (run / "study.json").write_text(json.dumps({"study": "q2"}))
    analysis_main(["tables", str(run)])
    printed = capsys.readouterr().out.split()
    assert str(run / "report.md") in printed and str(run / "plots" / "curves_ce.png") in printed
    assert "1.150 ± 0.071" in Path(run / "report.md").read_text()
