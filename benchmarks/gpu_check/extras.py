"""Beyond the trials: the ``gpu`` tests (pytest) and a q1 smoke study on Ray at ``--gpus-per-trial 0.5``.

Each runs in a subprocess of its own, when what it needs is here (CUDA; pytest; Ray and Optuna, which the
studies import), and otherwise is recorded as not run, with the reason.
"""

from __future__ import annotations

import importlib.util
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

from benchmarks.gpu_check.schema import RayStudy, Tests
from benchmarks.gpu_check.specs import ROOT

GPU_MARK = "pytest.mark.gpu"
TESTS_TIMEOUT_S = 240
STUDY_TIMEOUT_S = 240
TRIALS_PER_GPU = 2  # at --gpus-per-trial 0.5
STUDY_NAME = "gpu-check"


def missing(*modules: str) -> list[str]:
    return [m for m in modules if importlib.util.find_spec(m) is None]


def gpu_test_files() -> list[str]:
    """The test files that hold ``gpu`` tests: collecting only these, pytest needs neither Ray nor Optuna."""
    return [str(p.relative_to(ROOT)) for p in sorted((ROOT / "tests").glob("test_*.py")) if GPU_MARK in p.read_text()]


def not_run(reason: str) -> Tests:
    return Tests(ran=False, reason=reason, command=None, passed=None, failed=None, skipped=None, errors=None)


def gpu_tests(cuda: bool, out: Path) -> Tests:
    """``pytest -m gpu`` over ``gpu_test_files()``; the counts from its JUnit XML."""
    if not cuda:
        return not_run("skipped: no CUDA")
    if missing("pytest"):
        return not_run("pytest is not installed (benchmarks/gpu_wheels.sh carries it)")
    xml = out / "gpu_tests.xml"
    args = ["-m", "pytest", "-m", "gpu", "-q", "-p", "no:cacheprovider", f"--junitxml={xml}", *gpu_test_files()]
    try:
        subprocess.run([sys.executable, *args], cwd=ROOT, timeout=TESTS_TIMEOUT_S, check=False)
    except subprocess.TimeoutExpired:
        return not_run(f"pytest ran past {TESTS_TIMEOUT_S} s")
    if not xml.exists():
        return not_run("pytest wrote no report (see its output above)")
    suite = ET.parse(xml).getroot()
    suite = suite.find("testsuite") if suite.tag == "testsuites" else suite
    counts = {k: int(suite.get(k, 0)) for k in ("tests", "failures", "errors", "skipped")}
    return Tests(ran=True, reason=None, command="python " + " ".join(args), errors=counts["errors"],
                 passed=counts["tests"] - counts["failures"] - counts["errors"] - counts["skipped"],
                 failed=counts["failures"], skipped=counts["skipped"])


def study_not_run(reason: str) -> RayStudy:
    return RayStudy(ran=False, reason=reason, command=None, trials=None, devices=None, most_per_gpu=None,
                    placement=None, ok=None)


def ray_study(cuda: bool, out: Path) -> RayStudy:
    """``studies/q1.py --smoke-test --gpus-per-trial 0.5``; how many trials held each GPU at once."""
    if not cuda:
        return study_not_run("no CUDA: --gpus-per-trial 0.5 needs a GPU")
    lacking = missing("ray", "optuna")
    if lacking:
        return study_not_run(f"not installed: {', '.join(lacking)} (the studies import them; Ray's wheel alone is "
                             "over the 64 MiB that can travel: docs/gpu.md)")
    storage = out / "ray"
    args = ["studies/q1.py", "--smoke-test", "--gpus-per-trial", "0.5", "--storage-path", str(storage),
            "--name", STUDY_NAME]
    try:
        done = subprocess.run([sys.executable, *args], cwd=ROOT, timeout=STUDY_TIMEOUT_S, check=False)
    except subprocess.TimeoutExpired:
        return study_not_run(f"the study ran past {STUDY_TIMEOUT_S} s")
    if done.returncode != 0:
        return study_not_run(f"the study exited with status {done.returncode} (see its output above)")
    return placement(storage / STUDY_NAME / "latest", "python " + " ".join(args))


def placement(run_dir: Path, command: str) -> RayStudy:
    """The trials' GPU sharing, read from their reports."""
    from analysis.runs.gpu_sharing import attempts, sharing, table
    from trainables.common import metrics as M
    from trainables.common.usage import trial_rows

    trials = trial_rows(str(run_dir.resolve()))
    rows = [row for rows in trials for row in rows]
    runs = attempts(rows)
    most = sharing(runs)
    devices = tuple(sorted({str(r.get(M.DEVICE)) for r in rows}))
    ok = bool(most) and max(most.values()) <= TRIALS_PER_GPU and devices == ("cuda",)
    return RayStudy(ran=True, reason=None, command=command, trials=len(trials), devices=devices, most_per_gpu=most,
                    placement=table(runs), ok=ok)
