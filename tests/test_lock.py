"""requirements/lock.txt agrees with pyproject.toml and with the installed environment.

Offline and fast: reads files and installed metadata, never a package index. A
lock that drifts from pyproject.toml (a new dependency, a raised lower bound, a
range instead of a pin) fails here, so CI never tests versions users won't get.
"""

from __future__ import annotations

import re
import subprocess
import sys
from importlib import metadata
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet
from packaging.utils import canonicalize_name
from packaging.version import InvalidVersion, Version

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10: pytest brings tomli there
    import tomli as tomllib

ROOT = Path(__file__).resolve().parents[1]
LOCK = ROOT / "requirements" / "lock.txt"
PROJECT = "rnn-studies"
# A lock line is name==version only: a range would not lock, and pip refuses extras in constraints.
PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==([^\s;#]+)$")


def cuda_runtime(name: str) -> bool:
    """Wheels only torch's CUDA build needs; that build pins them exactly itself."""
    return name.startswith("nvidia-") or name == "triton"


def makefile_var(name: str) -> str:
    match = re.search(rf"^{name}\s*[:?]?=\s*(\S+)\s*$", (ROOT / "Makefile").read_text(), re.MULTILINE)
    assert match, f"Makefile sets no {name}"
    return match.group(1)


def parse_lock(text: str) -> tuple[dict[str, Version], list[str]]:
    """Pins by canonical name, and the lines that are not exact pins."""
    pins: dict[str, Version] = {}
    bad: list[str] = []
    for raw in text.splitlines():
        line = raw.split(" #", 1)[0].strip()
        if not line or line.startswith("#"):
            continue
        match = PIN.match(line)
        try:
            version = Version(match.group(2)) if match else None
        except InvalidVersion:
            version = None
        name = canonicalize_name(match.group(1)) if match else ""
        if version is None or name in pins:
            bad.append(raw)
        else:
            pins[name] = version
    return pins, bad


def project_requirements(pyproject: dict, extras: list[str]) -> list[Requirement]:
    project = pyproject["project"]
    optional = project.get("optional-dependencies", {})
    missing = [e for e in extras if e not in optional]
    assert not missing, f"Makefile's EXTRAS name extras pyproject.toml lacks: {missing}"
    reqs = [Requirement(r) for r in project["dependencies"]]
    for extra in extras:
        reqs += [Requirement(r) for r in optional[extra]]
    return [r for r in reqs if r.marker is None or any(r.marker.evaluate({"extra": e}) for e in ["", *extras])]


def disagreements(reqs: list[Requirement], pins: dict[str, Version]) -> list[str]:
    """Each requirement must be pinned, at a version its range allows."""
    problems = []
    for req in reqs:
        pinned = pins.get(canonicalize_name(req.name))
        if pinned is None:
            problems.append(f"{req} is not pinned in {LOCK.name}")
        elif not req.specifier.contains(pinned, prereleases=True):
            problems.append(f"{req.name}=={pinned} in {LOCK.name} is outside pyproject's {req}")
    return problems


def installed_closure(reqs: list[Requirement]) -> dict[str, tuple[str, Version]]:
    """Every installed distribution the requirements reach: canonical name -> (via, version)."""
    seen: dict[str, tuple[str, Version]] = {}
    walked: set[tuple[str, frozenset[str]]] = set()  # dependency cycles exist (e.g. through extras)
    todo = [(PROJECT, req) for req in reqs]
    while todo:
        via, req = todo.pop()
        name, extras = canonicalize_name(req.name), frozenset(req.extras)
        if (name, extras) in walked or cuda_runtime(name):
            continue
        walked.add((name, extras))
        try:
            dist = metadata.distribution(name)
        except metadata.PackageNotFoundError:
            continue  # an extra this environment was built without
        seen.setdefault(name, (via, Version(dist.version)))
        for line in dist.requires or []:
            sub = Requirement(line)
            if sub.marker is None or any(sub.marker.evaluate({"extra": e}) for e in ["", *extras]):
                todo.append((name, sub))
    return seen


def mismatches(closure: dict[str, tuple[str, Version]], pins: dict[str, Version]) -> list[str]:
    """Installed versions must be the locked ones (a local label such as +cpu is the build, not the version)."""
    problems = []
    for name, (via, version) in sorted(closure.items()):
        pinned = pins.get(name)
        if pinned is None:
            problems.append(f"{name} {version} (needed by {via}) is installed but not pinned in {LOCK.name}")
        elif not SpecifierSet(f"=={pinned}").contains(version, prereleases=True):
            problems.append(f"{name} {version} is installed but {LOCK.name} pins {pinned}")
    return problems


@pytest.fixture(scope="module")
def pins() -> dict[str, Version]:
    pins, _ = parse_lock(LOCK.read_text())
    return pins


@pytest.fixture(scope="module")
def reqs() -> list[Requirement]:
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    return project_requirements(pyproject, makefile_var("EXTRAS").split(","))


def test_lock_holds_only_exact_pins():
    pins, bad = parse_lock(LOCK.read_text())
    assert not bad, f"not an exact pin: {bad}"
    assert len(pins) > 50


def test_every_requirement_of_pyproject_is_pinned_within_its_range(reqs, pins):
    assert disagreements(reqs, pins) == []


def test_torch_is_the_held_release_and_its_cpu_build(pins):
    """A bare release pin lets GPU nodes keep that release's CUDA build; CUDA
    runtime wheels in the lock would mean it was resolved for the wrong build."""
    assert pins["torch"] == Version(makefile_var("TORCH"))
    assert not pins["torch"].local, "a local label (+cpu) would refuse the CUDA build on GPU nodes"
    cuda = [n for n in pins if cuda_runtime(n)]
    assert not cuda, f"the lock was resolved against torch's CUDA build: {cuda}"


def test_installed_environment_is_the_lock(reqs, pins):
    try:
        metadata.distribution(PROJECT)
    except metadata.PackageNotFoundError:
        pytest.skip("the project is not installed in this environment")
    closure = installed_closure(reqs)
    assert "ray" in closure and "torch" in closure
    assert mismatches(closure, pins) == []


def test_installed_environment_is_consistent():
    """pip's own check: no installed package misses a requirement or has a wrong version of one."""
    result = subprocess.run(
        [sys.executable, "-m", "pip", "check"], check=False, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stdout + result.stderr


# The check can fail: each way a lock drifts from pyproject.toml or from the
# environment is caught (on small made-up inputs, independent of the real lock).

REQS = [Requirement("optuna>=4"), Requirement("ray[tune]>=2.50,<3")]
PINS = {"optuna": Version("5.0.0"), "ray": Version("2.60.0"), "torch": Version("2.13.0")}


def test_a_range_or_unpinned_line_is_refused():
    pins, bad = parse_lock("numpy==2.4.6\n    # via optuna\noptuna>=4\nray[tune]==2.60.0\ntorch\n")
    assert pins == {"numpy": Version("2.4.6")}
    assert bad == ["optuna>=4", "ray[tune]==2.60.0", "torch"]


def test_a_dependency_missing_from_the_lock_is_caught():
    assert disagreements(REQS, PINS) == []
    assert disagreements(REQS, {"ray": PINS["ray"]}) == [f"optuna>=4 is not pinned in {LOCK.name}"]


def test_a_pin_outside_pyprojects_range_is_caught():
    assert disagreements(REQS, {**PINS, "ray": Version("3.0.0")}) == [
        f"ray==3.0.0 in {LOCK.name} is outside pyproject's ray[tune]<3,>=2.50"
    ]
    assert disagreements([Requirement("optuna>=6"), *REQS[1:]], PINS) == [
        f"optuna==5.0.0 in {LOCK.name} is outside pyproject's optuna>=6"
    ]


def test_a_new_pyproject_dependency_is_caught():
    assert disagreements([*REQS, Requirement("yfinance>=0.2.40")], PINS) == [
        f"yfinance>=0.2.40 is not pinned in {LOCK.name}"
    ]


def test_an_installed_version_other_than_the_locked_one_is_caught():
    closure = {"optuna": ("rnn-studies", Version("4.1.0")), "torch": ("rnn-studies", Version("2.13.0+cpu"))}
    assert mismatches(closure, PINS) == [f"optuna 4.1.0 is installed but {LOCK.name} pins 5.0.0"]
    assert installed_closure([Requirement("triton")]) == {}, "GPU nodes' CUDA runtime is torch's to pin"
    assert mismatches({"left-pad": ("optuna", Version("1.0"))}, PINS) == [
        f"left-pad 1.0 (needed by optuna) is installed but not pinned in {LOCK.name}"
    ]
