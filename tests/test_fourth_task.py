"""A fourth task made of its own files only (tests/toytask/) runs study -> report -> claims -> HTML.

And no file outside its folder (this test aside) has to name it: the
searchers and the runner take it from its study's declaration, and analysis
finds its task from the run's study.json.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pandas as pd

from studies import launch
from tests.toytask.study import STUDY

ROOT = Path(__file__).resolve().parents[1]
HOME = "tests/toytask"


def test_the_fourth_task_runs_study_report_claims_and_html(ray_cluster, tmp_path):
    run = Path(launch.main(STUDY, ["--storage-path", str(tmp_path), "--seeds", "3"]))
    info = json.loads((run / "study.json").read_text())
    assert info["study"] == "toy" and info["task"] == "tests.toytask.task" and info["design"] == "paper"
    trials = pd.read_csv(run / "trials.csv")
    assert len(trials) == 2 * 3 and (trials["status"] == "finished").all()
    report = (run / "report.md").read_text()
    assert report.index("## Summary") < report.index("## Cells compared")
    assert "The GRU beats the RNN (test loss)" in report and "the mean" in report
    comparisons = pd.read_csv(run / "tables" / "comparisons.csv")
    assert set(comparisons["claim"]) == {"cells", "baseline"} and (comparisons["n"] == 3).all()
    assert "The GRU beats predicting the mean" in (run / "claims.md").read_text()
    html = (run / "report.html").read_text()
    assert "data:image/png;base64," in html and "Cells compared" in html
    assert (run / "plots" / "comparisons.png").exists() and (run / "plots" / "learning_curves.png").exists()


def test_seeds_auto_adds_seeds_where_a_claim_is_open_and_reports_where_it_settled(ray_cluster, tmp_path):
    run = Path(launch.main(STUDY, ["--storage-path", str(tmp_path), "--seeds", "auto", "--max-seeds", "5"]))
    info = json.loads((run / "study.json").read_text())
    assert (info["seeds"], info["min_seeds"], info["max_seeds"]) == ("auto", 3, 5)
    trials = pd.read_csv(run / "trials.csv")
    per_arm = trials.groupby("config/cell")["config/seed"].apply(sorted)
    assert all(seeds == list(range(len(seeds))) and 3 <= len(seeds) <= 5 for seeds in per_arm)  # no gaps, no repeats
    comparisons = pd.read_csv(run / "tables" / "comparisons.csv")
    assert comparisons["looked"].str.match(r"(settled at \d+ seeds|open at the cap of 5 seeds)").all()
    assert (comparisons["n"] <= 5).all()
    claims = (run / "claims.md").read_text()
    assert "repeated CI" in claims and "Lan–DeMets" in claims


def test_no_file_outside_its_folder_names_the_fourth_task():
    """No code or configuration has to list it (the docs may point at it as the example)."""
    tracked = subprocess.run(["git", "-C", str(ROOT), "ls-files"], capture_output=True, text=True, check=True)
    others = [p for p in tracked.stdout.split() if not p.startswith(HOME) and p != "tests/test_fourth_task.py"
              and not p.endswith(".md")]
    naming = [p for p in others if (ROOT / p).is_file() and "toytask" in (ROOT / p).read_text(errors="ignore")]
    assert naming == []
