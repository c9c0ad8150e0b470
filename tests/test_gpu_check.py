"""benchmarks/gpu_check.py on the CPU: every field the GPU run fills exists, and what a CPU can check holds."""

from __future__ import annotations

import dataclasses
import json
import subprocess
import sys
import typing
from pathlib import Path

import pytest
import torch

from trainables.common import runtime

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.gpu_check import extras, schema, specs


@pytest.fixture(scope="module")
def cpu_check(tmp_path_factory) -> tuple[dict, str, Path]:
    out = tmp_path_factory.mktemp("gpu-check")
    done = subprocess.run([sys.executable, "benchmarks/gpu_check.py", "--device", "cpu", "--out", str(out)],
                          cwd=ROOT, capture_output=True, text=True, timeout=600, check=False)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return json.loads((out / "gpu_check.json").read_text()), done.stdout, out


def fields_of(cls) -> set[str]:
    return {f.name for f in dataclasses.fields(cls)}


def test_the_json_holds_every_field_of_the_schema(cpu_check):
    check, _, _ = cpu_check
    assert set(check) == fields_of(schema.Check)
    assert {k for t in check["tasks"] for k in t} == fields_of(schema.TaskCheck)
    hints = typing.get_type_hints(schema.TaskCheck)
    for name in ("run", "resume", "two_trials", "speed"):
        assert all(set(t[name]) == fields_of(hints[name]) for t in check["tasks"]), name
    assert all(set(p) == fields_of(schema.Precision) for t in check["tasks"] for p in t["precisions"])
    assert set(check["tests"]) == fields_of(schema.Tests) and set(check["ray"]) == fields_of(schema.RayStudy)
    assert (check["device"], check["sizes"], check["cuda"], check["ok"]) == ("cpu", "tiny", None, True)
    assert [t["study"] for t in check["tasks"]] == list(specs.STUDIES)


def test_resume_is_bit_exact_and_the_second_trial_is_a_fresh_processes(cpu_check):
    check, _, _ = cpu_check
    for t in check["tasks"]:
        assert t["run"]["device"] == "cpu" and t["run"]["throughput"] > 0 and t["ok"], t["study"]
        resume = t["resume"]
        assert resume["exact"] and resume["differing"] == {} and resume["deterministic_exact"], t["study"]
        two = t["two_trials"]
        assert two["second_equals_fresh"] and two["differing"] == {}
        assert [two[k] for k in ("memory_before", "memory_between", "memory_after", "memory_back")] == [None] * 4
        assert "no CUDA" in two["memory_reason"]


def test_precisions_run_only_where_this_machine_computes_them(cpu_check):
    check, _, _ = cpu_check
    by_study = {t["study"]: {p["dtype"]: p for p in t["precisions"]} for t in check["tasks"]}
    for study, precisions in by_study.items():
        fp16 = precisions[runtime.FLOAT16]
        assert fp16["ran"] is None and "for GPUs" in fp16["reason"] and fp16["throughput"] is None, study
    q2_bf16 = by_study["q2"][runtime.BFLOAT16]
    if runtime.cpu_bf16_computes(torch.nn.LSTM):
        assert q2_bf16["ran"] == runtime.BFLOAT16 and q2_bf16["speedup"] > 0 and q2_bf16["reason"] is None
        assert q2_bf16["loss_change"] == q2_bf16["test_loss"] - q2_bf16["float32_test_loss"]
    else:
        assert q2_bf16["ran"] is None and "does not compute lstm in bfloat16" in q2_bf16["reason"]
    assert by_study["q1"][runtime.BFLOAT16]["ran"] is None and by_study["q3"][runtime.BFLOAT16]["ran"] is None


def test_the_gpu_parts_say_why_they_did_not_run_and_the_summary_is_written(cpu_check):
    check, printed, out = cpu_check
    assert check["tests"]["ran"] is False and check["tests"]["reason"] == "skipped: no CUDA"
    assert check["ray"]["ran"] is False and check["ray"]["reason"].startswith("no CUDA")
    q2 = next(t for t in check["tasks"] if t["study"] == "q2")["speed"]
    assert q2["cpu_figure"] == specs.CPU_FIGURES["q2"].value and q2["ratio"] is None  # tiny sizes: not compared
    summary = (out / "gpu_check.md").read_text()
    assert summary in printed and summary.startswith("# GPU check: ok")
    assert "- `pytest -m gpu`: not run (skipped: no CUDA)" in summary


def test_the_cpu_figure_is_the_one_results_md_reports():
    results = (ROOT / "benchmarks" / "RESULTS.md").read_text()
    figure = specs.CPU_FIGURES["q2"]
    assert f"{figure.value:,}" in results and "python benchmarks/q2_budget.py --budget-s 600" in figure.source


BLOCKED = """
import sys
for name in ("ray", "optuna", "wandb"):
    sys.modules[name] = None
sys.path[:0] = [{root!r}, {tests!r}]
import importlib.util
from benchmarks.gpu_check import extras, schema, specs, summary, trials
spec = importlib.util.spec_from_file_location("gpu_check", {script!r})
spec.loader.exec_module(importlib.util.module_from_spec(spec))
for test_file in extras.gpu_test_files():
    importlib.import_module(test_file.removeprefix("tests/").removesuffix(".py"))
from trainables.common import runtime
print(runtime.assigned_cpus(default=3), extras.missing("ray", "optuna", "wandb"))
"""


def test_the_check_and_the_gpu_tests_import_without_ray_optuna_or_wandb():
    """A GPU machine's plain Python has none of them: the check's modules and the gpu tests' files import."""
    code = BLOCKED.format(root=str(ROOT), tests=str(ROOT / "tests"), script=str(ROOT / "benchmarks" / "gpu_check.py"))
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=300,
                          check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.strip().splitlines()[-1] == "3 ['ray', 'optuna', 'wandb']"


def test_the_gpu_test_files_are_those_with_gpu_tests():
    files = extras.gpu_test_files()
    assert {"tests/test_gpu_runtime.py", "tests/test_loop.py"} <= set(files)
    assert all(extras.GPU_MARK in (ROOT / f).read_text() for f in files) and "tests/test_gpu_check.py" not in files


def test_pytest_counts_come_from_its_report(tmp_path):
    """The GPU path of the tests part, run here: every gpu test skips without CUDA, and the counts say so."""
    result = extras.gpu_tests(True, tmp_path)
    assert result.ran and result.failed == 0 and result.errors == 0 and result.passed == 0
    assert result.skipped >= 6 and "-m gpu" in result.command


def report(trial: str, pid: int, gpu: str, timestamp: int, since: float) -> dict:
    return {"trial_id": trial, "pid": pid, "gpu_ids": gpu, "device": "cuda", "timestamp": timestamp,
            "time_since_restore": since, "node_ip": "10.0.0.1", "hostname": "gpu-host", "epoch": 1}


@pytest.mark.parametrize("third_start, ok", [(120, True), (108, False)])
def test_the_ray_part_reads_gpu_sharing_from_the_trials_reports(tmp_path, third_start, ok):
    rows = {"a": [report("a", 1, "0", 104, 4.0), report("a", 1, "0", 110, 10.0)],
            "b": [report("b", 2, "0", 106, 2.0), report("b", 2, "0", 112, 8.0)],
            "c": [report("c", 3, "0", third_start + 2, 3.0)]}
    for trial, lines in rows.items():
        (tmp_path / trial).mkdir()
        (tmp_path / trial / "result.json").write_text("".join(json.dumps(r) + "\n" for r in lines))
    study = extras.placement(tmp_path, "python studies/q1.py --smoke-test --gpus-per-trial 0.5")
    assert study.ran and study.trials == 3 and study.devices == ("cuda",)
    assert study.most_per_gpu == {"0": 2 if ok else 3} and study.ok is ok
    assert "| 10.0.0.1 | gpu-host | 3 | 3 |" in study.placement
