"""``python -m analysis SUBCOMMAND RUN_DIR``: tables and plots from a finished run."""

from __future__ import annotations

import argparse
import importlib
import json
import sys
from pathlib import Path

STUDY_FILE = "study.json"


def study_of(run_dir: Path) -> str:
    info = run_dir / STUDY_FILE
    if not info.exists():
        raise SystemExit(f"error: {run_dir}: no {STUDY_FILE}; is this a study's run folder?")
    return json.loads(info.read_text())["study"]


def cmd_tables(args: argparse.Namespace) -> None:
    run_dir = Path(args.run_dir)
    module = importlib.import_module(f"analysis.{study_of(run_dir)}")
    try:
        written = module.write_report(run_dir)
    except FileNotFoundError as exc:
        raise SystemExit(f"error: {exc}") from None
    for path in written:
        print(path)


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m analysis", description="Reports from finished study runs.")
    sub = p.add_subparsers(dest="command", required=True)
    t = sub.add_parser("tables", help="write comparison tables, plots and report.md into RUN_DIR (no retraining)")
    t.add_argument("run_dir", help="a study's run folder, e.g. results/q1")
    t.set_defaults(func=cmd_tables)
    return p


def main(argv: list[str] | None = None) -> None:
    args = build_parser().parse_args(argv)
    args.func(args)


if __name__ == "__main__":
    main(sys.argv[1:])
