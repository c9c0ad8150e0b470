"""The end of every study: ``finish_run(run_dir)`` writes everything a reviewer reads.

One call, made when a study's trials are done (and again through ``python -m
analysis report RUN_DIR``, local or a storage URI):

1. the results format: trials and history tables (Parquet + CSV);
2. one report, built once as entries and rendered to report.md, report.html and
   tables/*.md|csv: first a summary that answers (each claim's verdict in
   words with its effect and interval, the margins declared before the data,
   one picture of every comparison), then the task's tables and figures, the
   claims' evidence and the completed trials;
3. claims.md and tables/comparisons.csv: the claims' evidence on their own;
4. with ``--wandb``, the plots, tables and claims logged to the study's W&B group;

and prints the verdicts. Trials that did not complete are left out and named.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import pandas as pd

from analysis.report import html, parts, plots, search_importance
from analysis.report.entries import Entry, declared_tables, trials_block
from analysis.report.tables import write_table
from analysis.runs import remote, trial_tables
from analysis.runs.read import Run, read_run, unfinished_note
from analysis.verdicts import claims as claims_mod
from analysis.verdicts import effort
from analysis.verdicts import method as verdict_method
from analysis.verdicts.claims import ClaimResult
from trainables.common import provenance, runs, storage
from trainables.common.layout import CLAIMS_MD, COMPARISONS, PLOTS_DIR, REPORT_HTML, REPORT_MD, SUMMARY, TABLES_DIR
from trainables.common.layout import CONFIG_PREFIX as C


def comparisons_table(results: list[ClaimResult]) -> pd.DataFrame:
    """Every comparison behind the claims, one row each: the statistics in numbers."""
    rows = []
    for c in results:
        for comp in c.comparisons:
            r = comp.result
            rows.append({"claim": c.claim.key, "comparison": comp.label, "metric": comp.metric, "n": r.n,
                         "mean_a": r.mean_a, "mean_b": r.mean_b, "diff": r.diff, "ci_low": r.ci_low,
                         "ci_high": r.ci_high, "margin": comp.margin, "p_t": r.p_t, "p_holm": comp.p_holm,
                         "p_wilcoxon": r.p_wilcoxon, "d_z": r.effect, "verdict": comp.verdict,
                         "seeds_needed": comp.seeds_needed, "looked": comp.stop_words()})
    return pd.DataFrame(rows)


def design_line(run: Run, results: list[ClaimResult]) -> str:
    """What ran: the design or search, the trials, and a training budget when trials had one."""
    info = run.info
    if info.get("search") in ("grid", "smoke"):
        what = f"the {info.get('design', 'paper')} design" if info.get("search") == "grid" else "a smoke test"
        spent = effort.spent(run, results)
        line = f"{what.capitalize()}. {spent}" if spent else (
            f"{what.capitalize()}, {info.get('trials', '?')} trials planned over {info.get('seeds', 1)} seed(s), "
            "paired by seed.")
    else:
        what = {"optuna": "An Optuna (TPE + ASHA)", "random": "A random"}.get(info.get("search"), "A")
        line = f"{what} search of {info.get('trials', '?')} trials."
    budgets = run.trials.get(C + "budget_s", pd.Series(dtype=float)).dropna()
    if len(budgets) and (budgets > 0).any():
        line += (f" Every trial trained for a budget of {budgets.min():g}" +
                 (f" to {budgets.max():g}" if budgets.max() > budgets.min() else "") +
                 " seconds (validation and checkpoints off the clock), so they compare at equal compute.")
    return line


def summary(run: Run, results: list[ClaimResult]) -> list[Entry]:
    """What the run answers, first: verdicts in words, the margins, every comparison in one picture."""
    rows = [{"claim": c.claim.text + ("" if c.claim.paper else " (not in the paper)"), "verdict": c.verdict,
             "in words": claims_mod.sentence(c).split(": ", 1)[-1]} for c in results]
    table = pd.DataFrame(rows).set_index("claim") if rows else None
    margins = sorted({f"{c.claim.key}: {c.margin_text}" for c in results})
    text = (f"{design_line(run, results)} {verdict_method.method(results)}\n\n"
            "Margins (the smallest difference that matters, "
            f"declared before any data): {'; '.join(margins)}.")
    left = unfinished_note(run)
    out = [Entry("Summary", text + (f"\n\n**Left out:** {left}" if left else ""), table, SUMMARY)]
    forest = [(f"{c.claim.key}: {comp.label}", comp.result.diff, comp.result.ci_low, comp.result.ci_high,
               comp.margin, comp.verdict) for c in results for comp in c.comparisons
              if not math.isnan(comp.result.diff)]
    if forest:
        image = plots.forest(forest, run.path / PLOTS_DIR / f"{COMPARISONS}.png")
        out.append(Entry("Every comparison at once", "Each difference a − b with its interval (95%; with seeds "
                         "looked at one by one, the repeated one that decided it), in units of its claim's margin: "
                         "inside the band is no difference that matters, left or right of it one that does.",
                         images=[image], level=3))
    return out


def evidence(results: list[ClaimResult]) -> Entry:
    """Each claim with its note and every comparison's numbers (claims.md and the report's last part)."""
    texts = []
    for c in results:
        head = f"### {c.claim.text}\n\nVerdict: **{c.verdict}**" + (f" ({c.missing})" if c.missing else "")
        lines = [head, f"Margin: {c.margin_text}."] + ([c.claim.note] if c.claim.note else [])
        lines += [f"- {comp.evidence()} → {comp.verdict}" + (f" (about {comp.seeds_needed} seeds would settle it)"
                                                            if comp.seeds_needed else "") for comp in c.comparisons]
        texts.append("\n\n".join(lines))
    return Entry("Claims: the evidence", "\n\n".join(texts))


def build(run: Run, results: list[ClaimResult]) -> list[Entry]:
    entries = summary(run, results) + declared_tables(run) + parts.entries(run, run.task.parts)
    entries += search_importance.entries(run.path) + [evidence(results)]
    if not run.trials.empty:
        entries.append(trials_block(run))
    return entries


def markdown(title: str, entries: list[Entry], run_dir: Path) -> str:
    from analysis.report.tables import to_markdown

    lines = [f"# {title}\n"]
    for b in entries:
        lines.append(f"{'#' * b.level} {b.title}\n" if b.title else "")
        lines += [b.text + "\n"] if b.text else []
        lines += [to_markdown(b.table) + "\n"] if b.table is not None else []
        lines += [f"![{p.stem}]({p.relative_to(run_dir).as_posix()})\n" for p in b.images]
    return "\n".join(p for p in lines if p)


def write_all(run_dir: Path) -> tuple[list[Path], list[ClaimResult]]:
    """Every output of a local run folder; (paths written, claim results)."""
    written = trial_tables.write_results(run_dir)
    run = read_run(run_dir)
    results = claims_mod.evaluate(run)
    entries = build(run, results)
    for b in entries:
        if b.table is not None and b.stem:
            written += write_table(b.table, run_dir / TABLES_DIR / b.stem, b.title, b.text.split("\n")[0])
    table = comparisons_table(results)
    if not table.empty:
        (run_dir / TABLES_DIR).mkdir(exist_ok=True)
        table.to_csv(run_dir / TABLES_DIR / f"{COMPARISONS}.csv", index=False)
        written.append(run_dir / TABLES_DIR / f"{COMPARISONS}.csv")
    title = f"{run.study} study report: {run.info.get('name', run.path.parent.name)} / {run.path.name}"
    (run_dir / REPORT_MD).write_text(markdown(title, entries, run_dir))
    (run_dir / CLAIMS_MD).write_text(markdown(f"{title}: claims", summary_text(run, results) + [evidence(results)],
                                              run_dir))
    written += [run_dir / REPORT_MD, run_dir / CLAIMS_MD, html.write(run, title, entries)]
    written += [p for b in entries for p in b.images]
    written += log_wandb(run_dir)
    return list(dict.fromkeys(written)), results


def summary_text(run: Run, results: list[ClaimResult]) -> list[Entry]:
    left = unfinished_note(run)
    text = "\n".join(f"- {claims_mod.sentence(c)}" for c in results) + "\n\n" + verdict_method.method(results)
    return [Entry("Verdicts", text + (f"\n\n**Left out:** {left}" if left else ""))]


def log_wandb(run_dir: Path) -> list[Path]:
    info = provenance.read(run_dir).get("wandb")
    if not info:
        return []
    from analysis.wandb_report import publish

    folder = publish.log_final(run_dir, info)
    if info.get("mode") == "offline":
        print(f"W&B: final plots and tables saved offline; upload with: wandb sync {folder}")
    return [Path(folder)]


def finish_run(run_dir: str | Path, quiet: bool = False) -> list[Any]:
    """Write the run's tables, report, claims and HTML; print the verdicts (not when ``quiet``).

    ``run_dir`` may be a storage URI: the run is analysed from a local copy and
    the outputs are written back beside its trials (their URIs are returned).
    """
    run_dir = runs.resolve(run_dir)
    with remote.local_copy(run_dir) as local:
        written, results = write_all(Path(local))
        cost = effort.spent(read_run(local), results)
        shown = remote.upload(local, written, run_dir) if storage.is_uri(run_dir) else written
    if not quiet:
        print("Claims:")
        print("\n".join(summary_lines(results)))
        if cost:
            print(cost)
        print(f"Report: {storage.join(str(run_dir), REPORT_HTML)}")
    return shown


def summary_lines(results: list[ClaimResult]) -> list[str]:
    out = []
    for c in results:
        need = f" (about {c.seeds_needed} seeds would settle it)" if c.seeds_needed else ""
        need = f" ({c.seeds_words()})" if c.seeds_words() else need
        out.append(f"  [{c.verdict:>12}] {c.claim.text}{need}")
    return out
