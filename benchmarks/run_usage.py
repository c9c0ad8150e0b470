"""What a finished run's trials cost the machine: compute floor, wall, slots busy.

    python benchmarks/run_usage.py results/q1/latest     # e.g. after `make study`

Reads the run folder only (``provenance.json`` and the trials' ``result.json``),
through the same code the study records its ``provenance.json`` with
(``trainables.common.usage``). Runs from before trials reported their CPU
seconds show a compute floor of 0; their slots busy is still measured.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from trainables.common import provenance, usage


def run_usage(run_dir: str) -> usage.Usage:
    """The run's usage, with the cores, slots and wall the study recorded (older runs: from their resources)."""
    prov = provenance.read(run_dir)
    recorded = prov.get("usage") or {}
    cores = recorded.get("cores") or (prov.get("cluster", {}).get("total") or {}).get("CPU", 0.0)
    cpus = (prov.get("resources_per_trial") or {}).get("cpu") or 1.0
    slots = recorded.get("slots") or usage.slots(cores, cpus)
    return usage.measure(run_dir, cores, slots, recorded.get("wall_s"))


def main(argv: list[str] | None = None) -> list[str]:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("run", help="a run folder (RESULTS/NAME/RUN_ID or RESULTS/NAME/latest)")
    args = p.parse_args(argv)
    if not Path(args.run, "provenance.json").exists():
        p.error(f"{args.run}: no provenance.json (not a run folder)")
    lines = run_usage(str(Path(args.run).resolve())).lines()
    print("\n".join(lines))
    return lines


if __name__ == "__main__":
    main()
