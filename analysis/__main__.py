"""``python -m analysis SUBCOMMAND RUN_DIR``: tables and plots from a finished run (a folder or a storage URI)."""

from __future__ import annotations

import argparse
import importlib
import sys
from contextlib import ExitStack
from pathlib import Path

from analysis import remote
from analysis.run import Run, read_run
from trainables.common.layout import STUDY_FILE


def open_run(path: str | Path) -> Run:
    """The run at ``path`` (a local folder), or a one-line error when it is not a study's run folder."""
    try:
        return read_run(path)
    except FileNotFoundError as exc:
        raise SystemExit(f"error: {exc}") from None


def cmd_tables(args: argparse.Namespace) -> None:
    from analysis.report import write_trials

    with remote.local_copy(args.run_dir) as local:
        run = open_run(local)
        module = importlib.import_module(f"analysis.{run.study}")
        written = list(dict.fromkeys(module.write_report(run.path, run) + write_trials(run)))
        written = remote.upload(local, written, args.run_dir)
    for path in written:
        print(path)


def cmd_report(args: argparse.Namespace) -> None:
    from analysis.report import finish_run

    if not remote.is_run(args.run_dir):
        raise SystemExit(f"error: {args.run_dir}: no {STUDY_FILE}; is this a study's run folder?")
    for path in finish_run(args.run_dir, quiet=False):
        print(path)


def cmd_claims(args: argparse.Namespace) -> None:
    from analysis import claims

    with ExitStack() as stack:
        locals_ = [stack.enter_context(remote.local_copy(p)) for p in args.run_dirs]
        for path in locals_:
            open_run(path)
        found = claims.evaluate_runs(locals_)
    text = claims.to_markdown(found)
    if args.out:
        Path(args.out).write_text(text)
    print(text if args.full else "\n".join(claims.summary_lines(found)))


def cmd_html(args: argparse.Namespace) -> None:
    from analysis import claims, export, html

    with remote.local_copy(args.run_dir) as local:
        written = export.write_results(local)
        run = open_run(local)
        path, found = claims.write_claims(run)
        written += [path, html.write_html(run, found)]
        print(remote.upload(local, written, args.run_dir)[-1])


def cmd_compare(args: argparse.Namespace) -> None:
    from analysis.compare import compare_runs

    with remote.local_copy(args.run_a) as a, remote.local_copy(args.run_b) as b:
        open_run(a), open_run(b)
        table, text = compare_runs(a, b, args.metric, tuple(args.ignore))
    if args.out:
        table.to_csv(args.out)
    print(text)


def cmd_wandb_report(args: argparse.Namespace) -> None:
    from analysis.wandb_report import build_report

    with remote.local_copy(args.run_dir) as local:
        open_run(local)
        print(build_report(local, args.project, args.entity))


def add_commands(sub) -> None:
    r = sub.add_parser("report", help="everything a finished run gets: results tables, report, claims.md, report.html")
    r.add_argument("run_dir", help="a study's run folder or its storage URI (s3://..., gs://...)")
    r.set_defaults(func=cmd_report)
    c = sub.add_parser("claims", help="check the paper's claims on one or more runs (one per study)")
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
    m.add_argument("--metric", default=None, help="default: the test counterpart of the study's selection metric")
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
    try:
        args.func(args)
    except FileNotFoundError as exc:
        raise SystemExit(f"error: {exc}") from None


if __name__ == "__main__":
    main(sys.argv[1:])
