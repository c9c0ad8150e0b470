"""benchmarks/q2_budget.py on a tiny budget, model and text: it runs, scores, and refuses a starved run."""

from __future__ import annotations

import json

from chargen_helpers import tiny_text

from tests.helpers import load_benchmark

TINY = [f"--set={v}:{k}" for v in "ab" for k in ("hidden_size=8", "num_layers=1", "batch_size=4", "seq_len=16")]


def test_budget_benchmark_runs_both_rows_through_the_shared_loop(tmp_path, capsys):
    bench = load_benchmark("q2_budget")
    assert bench.VARIANTS["b"][1]["formulation"] == "paper" and bench.VARIANTS["b"][1]["cell"] == "lstm"
    text = tmp_path / "input.txt"
    text.write_text(tiny_text(8000))
    out = tmp_path / "q2.json"
    results = bench.main(["--data", str(text), "--budget-s", "0.5", "--threads", "1", "--eval-steps", "2",
                          "--val-chars", "64", "--min-cpu-share", "0", "--set", "a:embed_size=4", *TINY,
                          "--out", str(out)])
    assert [r["variant"] for r in results] == ["a", "b"] and results[1]["label"] == "paper formulation"
    for r in results:
        assert r["counted"] and r["cpu_share"] > 0
        assert r["steps"] == 2 * len(r["curve"]) and r["chars"] == r["steps"] * 4 * 16
        assert r["curve"][-1]["seconds"] >= 0.5  # the budget ended it
        assert r["test_chars"] == 400 and 0 < r["test_loss"] < 10  # the whole 5% test part
        assert r["best_val_loss"] <= r["val_loss"]
    assert json.loads(out.read_text())["results"][1]["config"]["dropout"] == 0.2
    assert "CPU share" in capsys.readouterr().out


def test_budget_benchmark_refuses_to_count_a_starved_run(tmp_path, capsys):
    bench = load_benchmark("q2_budget")
    text = tmp_path / "input.txt"
    text.write_text(tiny_text(8000))
    (result,) = bench.main(["--data", str(text), "--only", "a", "--budget-s", "0.2", "--threads", "1",
                            "--eval-steps", "1", "--val-chars", "32", "--min-cpu-share", "50", *TINY,
                            "--out", str(tmp_path / "q2.json")])
    assert not result["counted"] and result["cpu_share"] < 50
    assert "NOT COUNTED: CPU share below 50.00" in capsys.readouterr().out
