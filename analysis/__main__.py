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


def existing_run(path: str) -> Path:
    run_dir = Path(path)
    study_of(run_dir)  # exits with a clear message when it is not a run folder
    return run_dir


def cmd_report(args: argparse.Namespace) -> None:
    from analysis.report import finish_run

    for path in finish_run(existing_run(args.run_dir), quiet=False):
        print(path)


def cmd_claims(args: argparse.Namespace) -> None:
    from analysis import claims

    for path in args.run_dirs:
        existing_run(path)
    found = claims.evaluate_runs(args.run_dirs)
    text = claims.to_markdown(found)
    if args.out:
        Path(args.out).write_text(text)
    print(text if args.full else "\n".join(claims.summary_lines(found)))


def cmd_html(args: argparse.Namespace) -> None:
    from analysis import claims, export, html

    run_dir = existing_run(args.run_dir)
    if not (run_dir / f"{export.TRIALS_FILE}.parquet").exists():
        export.write_results(run_dir)
    _, found = claims.write_claims(run_dir)
    print(html.write_html(run_dir, found))


def cmd_compare(args: argparse.Namespace) -> None:
    from analysis.compare import compare_runs

    table, text = compare_runs(existing_run(args.run_a), existing_run(args.run_b), args.metric, tuple(args.ignore))
    if args.out:
        table.to_csv(args.out)
    print(text)


def cmd_wandb_report(args: argparse.Namespace) -> None:
    from analysis.wandb_report import build_report

    print(build_report(existing_run(args.run_dir), args.project, args.entity))


def add_commands(sub) -> None:
    r = sub.add_parser("report", help="everything a finished run gets: results tables, report, claims.md, report.html")
    r.add_argument("run_dir")
    r.set_defaults(func=cmd_report)
    c = sub.add_parser("claims", help="check the report's claims on one or more runs (one per study)")
    c.add_argument("run_dirs", nargs="+", help="run folders; studies without one are listed as not run")
    c.add_argument("--out", help="also write the Markdown here")
    c.add_argument("--full", action="store_true", help="print the evidence, not only the verdicts")
    c.set_defaults(func=cmd_claims)
    h = sub.add_parser("html", help="write RUN_DIR/report.html: one self-contained page (opens offline)")
    h.add_argument("run_dir")
    h.set_defaults(func=cmd_html)
    m = sub.add_parser("compare", help="line up the same configurations of two runs: metric and time differences")
    m.add_argument("run_a")
    m.add_argument("run_b")
    m.add_argument("--metric", default=None, help="default: the study's main test metric")
    m.add_argument("--ignore", action="append", default=[], help="config field not to match on (repeatable)")
    m.add_argument("--out", help="write the lined-up table as CSV here")
    m.set_defaults(func=cmd_compare)
    w = sub.add_parser("wandb-report", help="build a W&B Report from RUN_DIR (needs a network and an API key)")
    w.add_argument("run_dir")
    w.add_argument("--project", required=True, help="W&B project holding the run's trials")
    w.add_argument("--entity", default=None, help="W&B entity (default: your default entity)")
    w.set_defaults(func=cmd_wandb_report)


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m analysis", description="Reports from finished study runs.")
    sub = p.add_subparsers(dest="command", required=True)
    t = sub.add_parser("tables", help="write comparison tables, plots and report.md into RUN_DIR (no retraining)")
    t.add_argument("run_dir", help="a study's run folder, e.g. results/q1")
    t.set_defaults(func=cmd_tables)
    add_commands(sub)
    return p


def main(argv: list[str] | None = None) -> None:
    args = build_parser().parse_args(argv)
    args.func(args)


if __name__ == "__main__":
    main(sys.argv[1:])
