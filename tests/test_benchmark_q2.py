"""benchmarks/q2_budget.py on a tiny budget, model and text: it runs, scores the held-out parts, refuses a
starved run."""

from __future__ import annotations

import json

import pytest
import torch
from chargen_helpers import tiny_text

from tests.helpers import load_benchmark
from trainables.common import loop, runtime

TINY = ["--hidden-size", "8", "--num-layers", "1", "--batch-size", "4", "--seq-len", "16", "--embed-size", "4"]


class TickClock:
    """A fake ``loop.clock``: each reading is 0.1 s after the last."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        self.now += 0.1
        return self.now


@pytest.mark.parametrize("preset", ["searched", "config", "paper"])
def test_budget_ends_the_run_and_both_held_out_parts_are_scored(preset, tmp_path, capsys, monkeypatch):
    bench = load_benchmark("q2_budget")
    monkeypatch.setattr(loop, "clock", TickClock())
    text = tiny_text(8000)
    (tmp_path / "input.txt").write_text(text)
    out = tmp_path / "q2.json"
    r = bench.main(["--data", str(tmp_path / "input.txt"), "--preset", preset, "--budget-s", "1.2", "--threads", "1",
                    "--eval-steps", "2", "--val-chars", "64", "--min-cpu-share", "0", *TINY,
                    "--set", "lr=0.01", "--out", str(out)])
    # A round reads the clock 6 times, 5 ticks (0.5 s) of them around train_epoch: 3 rounds reach 1.2 s.
    assert [c["train_s"] for c in r["curve"]] == [0.5, 1.0, 1.5] and r["steps"] == 6 and r["chars"] == 6 * 4 * 16
    assert r["counted"] and r["cpu_share"] > 0 and r["config"]["lr"] == 0.01
    assert r["config"]["formulation"] == ("paper" if preset == "paper" else "sequence")
    assert r["config"]["lowercase"] is False and r["best_val_loss"] <= r["val_loss"]
    bf16 = preset == "searched" and runtime.cpu_bf16_computes(torch.nn.LSTM)  # only "searched" asks for it
    assert r["precision"] == (runtime.BFLOAT16 if bf16 else runtime.FLOAT32)
    assert r["cpu_capability"] == runtime.cpu_capability()
    test, last10 = r["scores"]["test"], r["scores"]["last10"]
    assert (test["span"], test["chars"]) == ([7600, 8000], 400)  # the last 5%
    assert (last10["span"], last10["chars"]) == ([7200, 8000], 800)  # the last 10%: validation and test parts
    assert 0 < r["test_loss"] < 10 and 0 < r["last10_loss"] < 10 and r["test_loss"] != r["last10_loss"]
    printed = capsys.readouterr().out
    assert "corpus characters [7,200, 8,000) of 8,000, cased; 800 scored, 0 outside" in printed
    assert repr(text[7200:7230]) in printed and repr(text[-30:]) in printed
    assert f"last 10%: {r['last10_loss']:.4f} nats per character" in printed and "CPU share" in printed
    assert f"char/s of training in {r['precision']} (CPU: {runtime.cpu_capability()})" in printed
    assert json.loads(out.read_text())["result"]["last10_chars"] == 800


def test_budget_benchmark_refuses_to_count_a_starved_run(tmp_path, capsys):
    bench = load_benchmark("q2_budget")
    (tmp_path / "input.txt").write_text(tiny_text(8013))  # 5% parts of 400, rounded down: 2 fewer than 10%
    result = bench.main(["--data", str(tmp_path / "input.txt"), "--budget-s", "0.2", "--threads", "1",
                         "--eval-steps", "1", "--val-chars", "32", "--min-cpu-share", "50", *TINY,
                         "--out", str(tmp_path / "q2.json")])
    assert not result["counted"] and result["cpu_share"] < 50
    assert result["curve"][-1]["train_s"] >= 0.2  # the budget, not the round count, ended it
    assert result["scores"]["last10"]["span"] == [7213, 8013]
    printed = capsys.readouterr().out
    assert "NOT COUNTED: CPU share below 50.00" in printed
    assert "[7,213, 8,013) of 8,013, cased; 800 scored" in printed and "nanoGPT's last 10% starts at 7,211" in printed


@pytest.mark.parametrize(("preset", "val_chars"), [("searched", 0), ("config", 0), ("paper", 4000)])
def test_rounds_are_chosen_on_the_whole_validation_part_unless_the_preset_caps_it(preset, val_chars):
    bench = load_benchmark("q2_budget")
    p = bench.parser()
    assert bench.config(p.parse_args(["--preset", preset]), p).val_max_chars == val_chars  # 0: all of it
    assert bench.config(p.parse_args(["--preset", preset, "--val-chars", "64"]), p).val_max_chars == 64


def test_the_benchmark_refuses_to_change_what_it_fixes(tmp_path):
    bench = load_benchmark("q2_budget")
    for item in ("lowercase=true", "test_fraction=0.1", "budget_s=5", "hidden=3"):
        with pytest.raises(SystemExit):
            bench.main(["--data", str(tmp_path / "none.txt"), "--set", item])


def lever_rows(bench, tmp_path, arms: str) -> list[dict]:
    (tmp_path / "input.txt").write_text(tiny_text(8000))
    result = bench.main(["--data", str(tmp_path / "input.txt"), "--levers", arms, "--arm-s", "0.1",
                         "--repeats", "2", "--lever-steps", "2", *TINY, "--out", str(tmp_path / "levers.json")])
    assert json.loads((tmp_path / "levers.json").read_text())["levers"] == result["levers"]
    return result["levers"]


def check_measured(row: dict) -> None:
    assert len(row["per_slice"]) == 2 and min(row["per_slice"]) <= row["chars_per_s"] <= max(row["per_slice"])
    assert row["chars_per_cpu_s"] > 0 and row["first_call_s"] >= 0


@pytest.mark.skipif(not runtime.cpu_bf16_computes(torch.nn.LSTM),
                    reason=f"this CPU ({runtime.cpu_capability()}) does not compute an LSTM in bfloat16")
def test_levers_interleave_their_arms_and_report_each(tmp_path, capsys):
    rows = lever_rows(load_benchmark("q2_budget"), tmp_path, "fp32-1t,bf16-1t")
    assert [r["arm"] for r in rows] == ["fp32-1t", "bf16-1t"] and all(r["threads"] == 1 for r in rows)
    # The default preset asks for cpu_bf16: the float32 arm must still run in float32.
    assert [r["precision"] for r in rows] == [runtime.FLOAT32, runtime.BFLOAT16]
    for r in rows:
        check_measured(r)
    printed = capsys.readouterr().out
    assert "| arm | char/s |" in printed and "| bf16-1t | " in printed
    assert f"CPU {runtime.cpu_capability()}" in printed


def test_levers_report_bf16_as_unsupported_where_the_cpu_cannot_compute_it(no_cpu_bf16, tmp_path, capsys):
    bench = load_benchmark("q2_budget")
    rows = lever_rows(bench, tmp_path, "bf16-1t,fp32-1t")
    assert [r["arm"] for r in rows] == ["bf16-1t", "fp32-1t"]
    assert rows[0]["unsupported"].startswith(f"unsupported here: this CPU ({runtime.cpu_capability()})")
    assert "chars_per_s" not in rows[0]
    check_measured(rows[1])
    assert rows[1]["precision"] == runtime.FLOAT32
    assert f"| bf16-1t | unsupported here: this CPU ({runtime.cpu_capability()})" in capsys.readouterr().out
    with pytest.raises(SystemExit):
        bench.main(["--data", str(tmp_path / "input.txt"), "--levers", "fp64-9t",
                    "--out", str(tmp_path / "levers.json")])
