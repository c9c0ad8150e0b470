"""The shared results format (round trip), provenance, the HTML report and run comparison."""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from fakerun import q1_epochs, q1_run, write_run

from analysis.report.build import finish_run
from analysis.runs import trial_tables, two_runs
from analysis.runs.read import read_run
from trainables.common import provenance
from trainables.stock.data import DataOptions

ROOT = Path(__file__).resolve().parents[1]


def test_trial_and_history_tables_round_trip(tmp_path):
    run = q1_run(tmp_path / "q1")
    written = trial_tables.write_results(run)
    assert {p.name for p in written} == {"trials.parquet", "trials.csv", "history.parquet", "history.csv"}
    trials, history = trial_tables.read_tables(run)
    assert len(trials) == 6 and len(history) == 18
    assert list(trials.columns[:len(trial_tables.ID_COLUMNS)]) == trial_tables.ID_COLUMNS
    # Trials that did not report their placement (older runs): the node from Ray's node_ip, the device from the
    # run's resources (no GPUs: cpu).
    assert set(trials["study"]) == {"q1"} and set(trials["node"]) == {"10.0.0.1"} and set(trials["device"]) == {"cpu"}
    assert trials["epochs_run"].tolist() == [3] * 6 and trials["status"].tolist() == ["finished"] * 6
    assert trials["best/epoch"].tolist() == [3] * 6  # val/mape falls every epoch
    assert trials["wall_time_s"].tolist() == [6.0] * 6  # time/total_s of the last epoch
    gru = trials[trials["config/cell"] == "gru"].sort_values("seed")
    assert gru["test/mape"].tolist() == pytest.approx([2.0, 2.01])
    assert gru["val/mape"].tolist() == pytest.approx([2.0, 2.01])  # final
    assert gru["best/val/mape"].tolist() == pytest.approx([2.0, 2.01])  # at the best epoch
    assert gru["best/val/loss"].tolist() == pytest.approx([2 / 3, 2 / 3])
    assert trials["config/features"].tolist() == ["close"] * 6
    assert list(history.columns[:7]) == trial_tables.HISTORY_ID_COLUMNS
    assert history["timestamp"].tolist() == [1_800_000_001, 1_800_000_002, 1_800_000_003] * 6  # Ray's report clock
    # The CSV holds the same table as the Parquet file.
    csv = pd.read_csv(run / "trials.csv", dtype={"trial_id": str})
    pd.testing.assert_frame_equal(csv[["trial_id", "test/mape"]], trials[["trial_id", "test/mape"]], check_dtype=False)
    # Without the written files the same tables are built from Ray's folders.
    for p in written:
        p.unlink()
    rebuilt = trial_tables.read_tables(run)[0]
    pd.testing.assert_frame_equal(rebuilt.reset_index(drop=True), trials.reset_index(drop=True), check_dtype=False)


def test_placement_is_what_each_trial_reported(tmp_path):
    placed = [{**row, "device": "cpu", "gpu_ids": "1"} for row in q1_epochs(2.0)]
    plain = [{**row, "device": "cpu", "gpu_ids": ""} for row in q1_epochs(2.0)]
    run = write_run(tmp_path / "q1", "q1", [({"cell": "gru", "seed": 0}, placed), ({"cell": "rnn", "seed": 0}, plain)])
    # A run that asked for GPUs: the reported device wins over the one its resources imply.
    (run / "provenance.json").write_text(json.dumps({"resources_per_trial": {"cpu": 1, "gpu": 0.5}}))
    trial_tables.write_results(run)
    csv = pd.read_csv(run / "trials.csv", dtype={"gpu_ids": str}).set_index("config/cell")
    assert csv.loc["gru", ["node", "gpu_ids", "device"]].tolist() == ["10.0.0.1", "1", "cpu"]
    assert csv.loc["rnn", "device"] == "cpu" and pd.isna(csv.loc["rnn", "gpu_ids"])


def test_best_values_are_those_of_the_best_epoch_the_loop_reported(tmp_path):
    epochs = q1_epochs(2.0, n=3)
    epochs[0]["val/mape"], epochs[1]["val/mape"], epochs[2]["val/mape"] = 2.5, 2.2, 2.4  # best: epoch 2
    epochs[1]["val/loss"] = 5.0  # not the lowest loss: "best" follows the selection metric's epoch
    run = write_run(tmp_path / "q1", "q1", [({"cell": "gru", "seed": 0}, epochs)])
    trials = read_run(run).trials
    assert trials[["best/epoch", "best/val/mape", "best/val/loss", "val/mape"]].iloc[0].tolist() == [2, 2.2, 5.0, 2.4]


def test_best_epoch_of_older_runs_found_from_the_task_metric(tmp_path):
    epochs = q1_epochs(2.0, n=3)
    for row, value in zip(epochs, (2.5, 2.1, 2.4)):
        row["val/mape"], row["best/epoch"] = value, None  # no best epoch reported
    run = write_run(tmp_path / "q1", "q1", [({"cell": "gru", "seed": 0}, epochs)])
    # No metric: the task's (val/mape, min).
    (run / "study.json").write_text(json.dumps({"study": "q1", "task": "stock"}))
    assert read_run(run).trials["best/epoch"].tolist() == [2]


def test_provenance_fields(tmp_path, monkeypatch):
    data = tmp_path / "prices.csv"
    data.write_text("date,ticker,close\n2020-01-01,A,1\n")
    monkeypatch.setenv("WANDB_API_KEY", "sk-secret-never-written-123")
    monkeypatch.setattr(sys, "argv", ["studies/q1.py", "--data", str(data)])
    args = argparse.Namespace(cpus_per_trial=1.0, gpus_per_trial=0.5)
    options = DataOptions(data=str(data))
    run = tmp_path / "run"
    info = provenance.start(str(run), args, options)
    assert info["command"][1:] == ["studies/q1.py", "--data", str(data)]
    head = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "HEAD"], capture_output=True, text=True,
                          check=True).stdout.strip()
    assert info["git"]["commit"] == head and isinstance(info["git"]["dirty"], bool)
    assert info["data"]["data"]["sha256"] == provenance.fingerprint(data)
    assert len(info["data"]["data"]["sha256"]) == 64
    assert info["versions"]["python"] == ".".join(map(str, sys.version_info[:3]))
    assert {"ray", "torch", "transformers"} <= set(info["versions"])
    assert info["resources_per_trial"] == {"cpu": 1.0, "gpu": 0.5}
    assert info["started"] and info["ended"] is None
    done = provenance.finish(str(run), data_loaded_sha256=provenance.fingerprint(pd.DataFrame({"a": [1, 2]})))
    assert done["ended"] >= done["started"] and len(done["data_loaded_sha256"]) == 64
    assert "sk-secret" not in (run / "provenance.json").read_text()
    # A changed input changes its fingerprint; the same frame gives the same one.
    data.write_text("date,ticker,close\n2020-01-01,A,2\n")
    assert provenance.fingerprint(data) != info["data"]["data"]["sha256"]
    frame = pd.DataFrame({"x": np.arange(5.0)})
    assert provenance.fingerprint(frame) == provenance.fingerprint(frame.copy())
    assert provenance.fingerprint(frame) != provenance.fingerprint(frame + 1)


class Page(HTMLParser):
    def __init__(self):
        super().__init__()
        self.tags: list[str] = []
        self.images: list[str] = []
        self.external: list[str] = []
        self.text: list[str] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        attrs = dict(attrs)
        if tag == "img":
            self.images.append(attrs.get("src", ""))
        for key in ("src", "href"):
            if attrs.get(key, "").startswith(("http:", "https:", "//")) or (tag in ("script", "link") and key in attrs):
                self.external.append(attrs[key])

    def handle_data(self, data):
        self.text.append(data)


def finished_run(tmp_path) -> Path:
    run = q1_run(tmp_path / "q1", seeds=3)
    provenance.write(run, {"command": ["studies/q1.py"], "git": {"commit": "abc", "dirty": False}})
    provenance.update(run, data_loaded_sha256=provenance.fingerprint(pd.DataFrame({"close": [1.0, 2.0]})))
    finish_run(run, quiet=True)
    return run


def test_finish_run_writes_claims_and_self_contained_html(tmp_path):
    run = finished_run(tmp_path)
    claims = (run / "claims.md").read_text()
    assert "GRU > LSTM > RNN in accuracy (test MAPE): **supported**" in claims
    assert "cross-entropy" not in claims.lower()  # its own task's claims only
    assert "averages the other settings that vary within each seed" in claims
    comps = pd.read_csv(run / "tables" / "comparisons.csv")
    assert set(comps.columns) >= {"diff", "ci_low", "ci_high", "margin", "p_t", "p_holm", "p_wilcoxon", "d_z",
                                  "verdict", "seeds_needed"}
    gru_lstm = comps[comps["comparison"] == "gru − lstm"].iloc[0]
    assert gru_lstm["diff"] == pytest.approx(-0.5) and gru_lstm["n"] == 3
    assert len(json.loads((run / "provenance.json").read_text())["data_loaded_sha256"]) == 64
    page = Page()
    page.feed((run / "report.html").read_text())
    text = " ".join(page.text)
    assert page.external == []
    assert page.images and all(src.startswith("data:image/png;base64,") for src in page.images)
    assert "learning_curves" in text and "Provenance" in text and '"commit": "abc"' in text
    assert "supported" in text and "cross-entropy" not in text.lower()
    assert "2.1 Cells compared" in text and "mape 95% CI" in text
    # The page opens with the answer: the summary and the picture of every comparison come before any table.
    assert text.index("Summary") < text.index("Every comparison at once") < text.index("2.1 Cells compared")
    assert page.tags.count("table") >= 3


class Cells(HTMLParser):
    """Every text node, and each header row of every table as its cells' text."""

    def __init__(self):
        super().__init__()
        self.text, self.header_rows, self.bold = [], [], []
        self._in_head = self._in_bold = False

    def handle_starttag(self, tag, attrs):
        if tag == "thead":
            self._in_head = True
        elif tag == "tr" and self._in_head:
            self.header_rows.append([])
        self._in_bold = self._in_bold or tag == "b"

    def handle_endtag(self, tag):
        self._in_head = self._in_head and tag != "thead"
        self._in_bold = self._in_bold and tag != "b"

    def handle_data(self, data):
        self.text.append(data)
        if self._in_head and self.header_rows:
            self.header_rows[-1].append(data.strip())
        if self._in_bold:
            self.bold.append(data)


def test_the_page_renders_what_it_shows(tmp_path):
    """Bold is bold, not literal asterisks, and no table has a header row without a single heading."""
    page = Cells()
    page.feed((finished_run(tmp_path) / "report.html").read_text())
    assert [t for t in page.text if "**" in t] == []
    assert page.header_rows and [row for row in page.header_rows if not any(row)] == []
    assert any(t.startswith("supported") for t in page.bold)  # the verdict in words, in the summary table


def test_compare_lines_up_configurations(tmp_path):
    a = q1_run(tmp_path / "cpu")
    b = q1_run(tmp_path / "gpu", shift=0.25)
    hist = b / "train_stock_00005" / "result.json"  # drop one trial from B: it is reported as only in A
    hist.unlink()
    table, text = two_runs.compare_runs(a, b)
    assert len(table) == 5
    assert table["test/mape B − A"].tolist() == pytest.approx([0.25] * 5)
    assert table["time B / A"].tolist() == pytest.approx([1.0] * 5)
    assert "only in A: 1, only in B: 0" in text and "B − A +0.25" in text
    # Means of the matched trials: A 3.0, 2.5, 2.0, 3.01, 2.51 and B the same + 0.25, each under its own name.
    assert "test/mape: A 2.604, B 2.854," in text


@pytest.mark.slow
def test_html_report_renders_in_headless_chromium(tmp_path):
    import shutil

    browser = shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")
    if browser is None:
        pytest.skip("no chromium binary: install it with `apt-get install -y chromium` to render the report")
    run = finished_run(tmp_path)
    shot = tmp_path / "report.png"
    cmd = [browser, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", f"--screenshot={shot}",
           "--window-size=1280,2000", (run / "report.html").as_uri()]
    subprocess.run(cmd, capture_output=True, timeout=120, check=False)
    assert shot.exists(), "chromium wrote no screenshot"
    from matplotlib import image

    pixels = image.imread(shot)
    assert pixels.shape[0] >= 1000 and pixels.shape[1] >= 1000
    # A rendered page is not blank: several distinct colours (text, verdict cells, plots).
    assert len(np.unique(pixels.reshape(-1, pixels.shape[-1]).round(2), axis=0)) > 20


def test_rows_are_labelled_with_searched_floats_shortened():
    from analysis.report.tables import level, row_label, to_markdown

    assert level(0.3353189348090797) == "0.3353" and level(True) == "True" and level(64) == "64"

    assert row_label(("gru", 0.10247755607813525, 64, 1e-05)) == "gru / 0.1025 / 64 / 1e-05"
    assert row_label(np.float64(0.0092953203404718)) == "0.009295" and row_label("all") == "all"
    table = pd.DataFrame({"loss": [1.5]}, index=pd.MultiIndex.from_tuples([("lstm", 0.00899315326242902)]))
    assert "| lstm / 0.008993 | 1.5 |" in to_markdown(table)


def test_a_run_of_one_setting_is_one_row_named_for_all_its_trials(tmp_path):
    from analysis.report import entries
    from trainables.common import metrics as M
    from trainables.common.parts import Table

    trials = [({"cell": "gru", "loss": "mse", "optimizer": "adam", "dropout": 0.0, "seed": s, "features": ["close"],
                "epochs": 3, "formulation": "returns"}, q1_epochs(2.0 + s / 10)) for s in range(3)]
    run = read_run(write_run(tmp_path / "one", "q1", trials))
    shown = entries.table(run, Table("all", "All trials", (M.TEST_MAPE,), reference=False))
    assert shown.index.name == "trials" and list(shown.index) == ["all"]
    assert shown.iloc[0][M.TEST_MAPE.removeprefix("test/")].startswith("2.100 ± 0.100")
