"""No unused public code: vulture over the packages and the benchmarks (callers too), tests not counted.

A name a test alone uses is dead: the code it tests serves nobody. Names
used in ways vulture cannot see (interfaces Ray or torch call, strings,
private members set for Ray to read) are listed in tests/dead_code_allowed.txt,
each with its reason.
"""

from __future__ import annotations

from pathlib import Path

import vulture

ROOT = Path(__file__).resolve().parents[1]
SCANNED = ("trainables", "studies", "analysis", "benchmarks")
ALLOWED = ROOT / "tests" / "dead_code_allowed.txt"
CONFIDENCE = 60  # vulture's lowest for unused functions, classes, variables and attributes


def allowed() -> dict[str, str]:
    """Name -> reason, from the allow-list; a line without a reason fails."""
    out = {}
    for line in ALLOWED.read_text().splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        name, _, reason = line.partition("#")
        assert reason.strip(), f"{ALLOWED.name}: {name.strip()} has no reason"
        out[name.strip()] = reason.strip()
    return out


def test_no_unused_code():
    v = vulture.Vulture()
    v.scavenge([str(ROOT / d) for d in SCANNED])
    unused = v.get_unused_code(min_confidence=CONFIDENCE)
    allow = allowed()
    found = [f"{Path(i.filename).relative_to(ROOT)}:{i.first_lineno}: {i.message}" for i in unused
             if i.name not in allow]
    why = "unused code (delete it, or give it a reason in tests/dead_code_allowed.txt):\n"
    assert not found, why + "\n".join(found)
    stale = set(allow) - {i.name for i in unused}
    assert not stale, f"{ALLOWED.name} lists names vulture no longer reports: {sorted(stale)}"
