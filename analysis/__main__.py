"""``python -m analysis SUBCOMMAND RUN_DIR``: tables and plots from a finished run (a folder or a storage URI)."""

from __future__ import annotations

import argparse
import sys
from contextlib import ExitStack
from pathlib import Path

from analysis.runs import remote
from analysis.runs.read import read_run


def cmd_report(args: argparse.Namespace) -> None:
    from analysis.report.build import finish_run

    for path in finish_run(args.run_dir, quiet=False):
        print(path)


def cmd_claims(args: argparse.Namespace) -> None:
    """Each run's claims in a section of its own: two runs of one study are two sections, never one."""
    from analysis.report.build import summary_lines
    from analysis.verdicts import claims

    texts, lines = [], []
    with ExitStack() as stack:
        for given in args.run_dirs:
            run = read_run(stack.enter_context(remote.local_copy(given)))
            found = claims.evaluate(run)
            title = f"{run.study}: {run.path}"
            lines += [title] + summary_lines(found)
            texts.append(f"# {title}\n\n" + "\n".join(f"- {claims.sentence(c)}" for c in found) + "\n\n"
                         + "\n".join(f"  - {comp.evidence()} → {comp.verdict}"
                                     for c in found for comp in c.comparisons))
    text = "\n\n".join(texts) + "\n"
    if args.out:
        Path(args.out).write_text(text)
    print(text if args.full else "\n".join(lines))


def cmd_compare(args: argparse.Namespace) -> None:
    from analysis.runs.two_runs import compare_runs

    with remote.local_copy(args.run_a) as a, remote.local_copy(args.run_b) as b:
        table, text = compare_runs(a, b, args.metric, tuple(args.ignore))
    if args.out:
        table.to_csv(args.out)
    print(text)


def cmd_wandb_report(args: argparse.Namespace) -> None:
    from analysis.wandb_report.publish import build_report

    with remote.local_copy(args.run_dir) as local:
        print(build_report(local, args.project, args.entity, args.dry_run))


def add_commands(sub) -> None:
    for name in ("report", "tables", "html"):  # one builder writes every output; the old names stay
        r = sub.add_parser(name, help="everything a finished run gets: results tables, report.md, report.html, "
                                      "claims.md" if name == "report" else "same as report (kept for scripts)")
        r.add_argument("run_dir", help="a run folder, a name folder (its newest run), or a storage URI (s3://...)")
        r.set_defaults(func=cmd_report)
    c = sub.add_parser("claims", help="check the paper's claims on one or more runs, each on its own")
    c.add_argument("run_dirs", nargs="+", help="run folders (or name folders: their newest runs)")
    c.add_argument("--out", help="also write the Markdown here")
    c.add_argument("--full", action="store_true", help="print the evidence, not only the verdicts")
    c.set_defaults(func=cmd_claims)
    m = sub.add_parser("compare", help="line up the same configurations of two runs: metric and time differences")
    m.add_argument("run_a")
    m.add_argument("run_b")
    m.add_argument("--metric", default=None, help="default: the test counterpart of the study's selection metric")
    m.add_argument("--ignore", action="append", default=[], help="config field not to match on (repeatable)")
    m.add_argument("--out", help="write the lined-up table as CSV here")
    m.set_defaults(func=cmd_compare)
    w = sub.add_parser("wandb-report", help="publish the W&B Report of RUN_DIR (needs a network and an API key), "
                                            "or with --dry-run build and check it offline")
    w.add_argument("run_dir")
    w.add_argument("--project", default=None, help="W&B project holding the run's trials (default: WANDB_PROJECT, "
                                                   "else the project the study logged to)")
    w.add_argument("--entity", default=None, help="W&B entity (default: WANDB_ENTITY, else the one the study "
                                                  "logged to, else your default entity)")
    w.add_argument("--dry-run", metavar="SPEC.json", default=None,
                   help="write the report's spec (what publishing sends) here, checked against the runs logged "
                        "in RUN_DIR, with no network; needs --entity and --project")
    w.set_defaults(func=cmd_wandb_report)


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m analysis", description="Reports from finished study runs.")
    sub = p.add_subparsers(dest="command", required=True)
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
