"""One reader of a run: the task's names, completed trials only, unfinished ones named, runs on object storage."""

from __future__ import annotations

import json

import pandas as pd
import pyarrow.fs as pafs
import pytest
from fakerun import q1_epochs, q1_run, write_run

from analysis.__main__ import main as analysis_main
from analysis.report.build import finish_run
from analysis.runs import remote
from analysis.runs.read import read_run
from trainables.common import metrics as M
from trainables.common import storage
from trainables.stock.task import TASK as STOCK


def test_study_file_names_its_task_module():
    from analysis.runs.read import load_task

    assert load_task({"task": "trainables.stock.task"}) is STOCK
    assert load_task({"task": "stock"}) is STOCK  # runs recorded before the module path
    with pytest.raises(FileNotFoundError, match="names the task 'nowhere.task'"):
        load_task({"task": "nowhere.task"})


def run_with_left_out_trials(path):
    """Nine q1 trials (3 cells x 3 seeds); gru seed 0 raised, gru seed 1 was stopped after one epoch.

    Both report a validation MAPE far better than any completed trial, so a reader that kept them would rank them first.
    """
    trials = []
    for seed in range(3):
        for i, cell in enumerate(("rnn", "lstm", "gru")):
            cfg = {"cell": cell, "loss": "mse", "optimizer": "adam", "dropout": 0.0, "seed": seed}
            epochs = q1_epochs(3.0 - 0.5 * i + 0.01 * seed)
            if cell == "gru" and seed < 2:
                epochs = [dict(epochs[0], **{"val/mape": 0.1})]
            trials.append((cfg, epochs))
    return write_run(path, "q1", trials, unfinished={2: "error", 5: "unfinished"})


def test_unfinished_and_errored_trials_are_left_out_and_named(tmp_path):
    run_dir = run_with_left_out_trials(tmp_path / "q1")
    run = read_run(run_dir)
    assert len(run.trials) == 7 and set(run.trials["status"]) == {"finished"}
    assert dict(zip(run.unfinished["trial_id"], run.unfinished["status"])) == {"00002": "failed", "00005": "unfinished"}
    assert set(run.history["trial_id"]) == set(run.trials["trial_id"])
    finish_run(run_dir, quiet=True)
    left_out = ("2 of 9 trials left out of the tables and claims, having no completed final record with test "
                "metrics (1 failed, 1 stopped early or still running): 00002, 00005.")
    for name in ("report.md", "claims.md", "report.html"):
        text = (run_dir / name).read_text()
        assert left_out in text, name
    top = (run_dir / "tables" / "trials.csv").read_text()
    assert "0.1," not in top  # the left-out trials' validation MAPE ranks nothing
    trials_table = (run_dir / "tables" / "trials.csv").read_text().splitlines()
    header = trials_table[0]
    assert header.startswith("trial_id,") and "best/epoch" in header and "epochs_run" in header
    assert len(trials_table) == 1 + 7
    # gru has one completed seed left: its claim comparisons have n = 1.
    comparisons = pd.read_csv(run_dir / "tables" / "comparisons.csv").set_index("comparison")
    assert comparisons.loc["gru − lstm", "n"] == 1 and comparisons.loc["lstm − rnn", "n"] == 3


def test_written_results_keep_every_trial_with_its_status(tmp_path):
    run_dir = run_with_left_out_trials(tmp_path / "q1")
    finish_run(run_dir, quiet=True)
    trials = pd.read_parquet(run_dir / "trials.parquet")
    assert len(trials) == 9 and trials["status"].value_counts().to_dict() == {"finished": 7, "failed": 1,
                                                                             "unfinished": 1}
    assert trials.set_index("trial_id").loc["00005", M.BEST_EPOCH] == 1


def memory_run(tmp_path, name: str) -> tuple[str, pafs.FileSystem, str]:
    """A q1 run folder uploaded to an in-process fsspec memory filesystem; (URI, filesystem, path in it)."""
    local = q1_run(tmp_path / "local" / "q1", seeds=3)
    ckpt = local / "train_stock_00000" / "checkpoint_000000"  # the best rnn trial's final checkpoint
    ckpt.mkdir()
    (ckpt / "state.pt").write_bytes(b"weights")
    (ckpt / "predictions.csv").write_text(
        "date,ticker,actual,predicted\n2020-01-02,GOOG,10,11\n2020-01-03,GOOG,11,12\n")
    uri = f"memory://{name}/q1"
    fs, inner = storage.resolve(uri)
    pafs.copy_files(str(local), inner, source_filesystem=pafs.LocalFileSystem(), destination_filesystem=fs)
    return uri, fs, inner


def read(fs: pafs.FileSystem, path: str) -> str:
    with fs.open_input_stream(path) as fh:
        return fh.read().decode()


def test_report_on_a_storage_uri_writes_the_outputs_back(tmp_path, capsys):
    pytest.importorskip("fsspec")
    uri, fs, inner = memory_run(tmp_path, f"bucket-{tmp_path.name}")
    analysis_main(["report", uri])
    printed = capsys.readouterr().out
    for name in ("trials.parquet", "history.csv", "report.md", "claims.md", "report.html", "tables/trials.md",
                 "tables/comparisons.csv", "plots/learning_curves.png", "plots/real_vs_predicted_rnn.png"):
        assert fs.get_file_info(f"{inner}/{name}").type == pafs.FileType.File, name
        assert f"{uri}/{name}" in printed
    assert "GRU > LSTM > RNN" in read(fs, f"{inner}/claims.md")
    assert f"Report: {uri}/report.html" in printed
    # The run read back from storage matches what was written there.
    with remote.local_copy(uri) as local:
        run = read_run(local)
        assert len(run.trials) == 9 and run.study == "q1"
        assert (local / "claims.md").exists() and not list(local.rglob("state.pt"))  # weights stay behind
    assert not local.exists()  # the temporary copy is gone
    assert fs.get_file_info(f"{inner}/train_stock_00000/checkpoint_000000/state.pt").type == pafs.FileType.File


def test_cli_on_a_storage_uri_that_is_not_a_run(tmp_path):
    pytest.importorskip("fsspec")
    fs, inner = storage.resolve(f"memory://empty-{tmp_path.name}/x")
    fs.create_dir(inner)
    with pytest.raises(SystemExit, match="no study.json and no runs under it"):
        analysis_main(["report", f"memory://empty-{tmp_path.name}/x"])


def test_compare_prints_each_runs_own_mean(tmp_path, capsys):
    a = q1_run(tmp_path / "a", seeds=2)
    b = q1_run(tmp_path / "b", seeds=2, shift=1.0)
    analysis_main(["compare", str(a), str(b)])
    out = capsys.readouterr().out
    # A: 3.0, 2.5, 2.0, 3.01, 2.51, 2.01 (mean 2.505); B: each + 1.
    assert "test/mape: A 2.505, B 3.505, B − A +1" in out
    analysis_main(["compare", str(b), str(a)])
    assert "test/mape: A 3.505, B 2.505, B − A -1" in capsys.readouterr().out


def test_study_file_from_studies_is_read(tmp_path):
    run_dir = q1_run(tmp_path / "q1", seeds=1)
    info = json.loads((run_dir / "study.json").read_text())
    assert info == {"study": "q1", "task": "trainables.stock.task", "metric": "val/mape", "mode": "min"}
    run = read_run(run_dir)
    names = (run.metric, run.mode, run.best_metric, run.test_metric())
    assert names == ("val/mape", "min", "best/val/mape", "test/mape")


def test_claims_command_checks_every_given_run_on_its_own(tmp_path, capsys):
    """Two runs of one study are two sections: neither is dropped nor mixed into the other."""
    first = q1_run(tmp_path / "a", seeds=3)
    second = q1_run(tmp_path / "b", seeds=3, shift=1.0)
    analysis_main(["claims", str(first), str(second), "--out", str(tmp_path / "claims.md")])
    printed = capsys.readouterr().out
    assert printed.count("[   supported] GRU > LSTM > RNN") == 2
    text = (tmp_path / "claims.md").read_text()
    assert f"q1: {first}" in text and f"q1: {second}" in text
    assert "gru − lstm: 2.01 vs 2.51" in text and "gru − lstm: 3.01 vs 3.51" in text


def test_a_run_missing_a_metric_of_its_schema_is_an_error_naming_it(tmp_path):
    run_dir = q1_run(tmp_path / "q1", seeds=1)
    for result in run_dir.glob("*/result.json"):
        rows = [json.loads(line) for line in result.read_text().splitlines()]
        for row in rows:
            row.pop("test/rmse/AAPL", None)
            row.pop("test/rmse/GOOG", None)
        result.write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    from trainables.common.schema import SchemaError

    with pytest.raises(SchemaError, match="no 'test/rmse/\\*'"):
        read_run(run_dir)


def test_study_file_caught_mid_rewrite_is_read_again(tmp_path):
    """A resumed run's Tune rewrites study.json in place while the run reads itself (--seeds auto): an empty
    read is the file mid-copy, not a folder without a study (CI saw the adaptive kill test fail on it)."""
    import json
    import threading

    from analysis.runs.read import study_info

    path = tmp_path / "study.json"
    path.write_text("")
    threading.Timer(0.2, lambda: path.write_text(json.dumps({"study": "q1"}))).start()
    assert study_info(tmp_path) == {"study": "q1"}
    assert study_info(tmp_path / "missing") == {}
