"""The end of every study: ``finish_run(run_dir)`` writes everything a reviewer reads.

One call, made by each study once its Tuner has finished (and usable again
on a restored run through ``python -m analysis report RUN_DIR``):

1. the results format: trials and history tables (Parquet + CSV);
2. the study's own tables and plots (``analysis.<study>.write_report``);
3. claims.md and tables/comparisons.csv: the report's claims with verdicts;
4. provenance.json completed with the fingerprint of the data the study loaded;
5. report.html, self-contained;
6. with ``--wandb``, the plots, tables and claims logged to the study's W&B group;

and prints the claims' verdicts.
"""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import Any

import pandas as pd

from analysis import claims as claims_mod
from analysis import export, html
from studies import provenance
from analysis.claims import Claim

COMPARISONS_FILE = "comparisons"


def comparisons_table(claims: list[Claim]) -> pd.DataFrame:
    """Every comparison behind the claims, one row each: the statistics in numbers."""
    rows = []
    for c in claims:
        for comp in c.comparisons:
            r = comp.result
            rows.append({"study": c.study, "claim": c.text, "comparison": comp.label, "n": r.n, "mean_a": r.mean_a,
                         "mean_b": r.mean_b, "diff": r.diff, "ci_low": r.ci_low, "ci_high": r.ci_high,
                         "p_t": r.p_t, "p_holm": comp.p_holm, "p_wilcoxon": r.p_wilcoxon, "d_z": r.effect,
                         "verdict": comp.verdict})
    return pd.DataFrame(rows)


def study_report(run_dir: Path, study: str) -> list[Path]:
    try:
        module = importlib.import_module(f"analysis.{study}")
    except ModuleNotFoundError as exc:
        if exc.name != f"analysis.{study}":
            raise
        return []
    return list(module.write_report(run_dir)) if hasattr(module, "write_report") else []


def write_comparisons(run_dir: Path, claims: list[Claim]) -> list[Path]:
    table = comparisons_table(claims)
    if table.empty:
        return []
    out = run_dir / "tables" / f"{COMPARISONS_FILE}.csv"
    out.parent.mkdir(parents=True, exist_ok=True)
    table.to_csv(out, index=False)
    return [out]


def finish_run(run_dir: str | Path, data: Any = None, quiet: bool = False) -> list[Path]:
    """Write the run's tables, report, claims, provenance and HTML; print the verdicts. ``data``: the loaded input."""
    if "://" in str(run_dir):
        print(f"Results are in {run_dir}; copy them locally and run: python -m analysis report RUN_DIR")
        return []
    run_dir = Path(run_dir)
    study = export.read_json(run_dir / "study.json").get("study", "")
    written = export.write_results(run_dir)
    written += study_report(run_dir, study)
    claims_path, claims = claims_mod.write_claims(run_dir)
    written += [claims_path] + write_comparisons(run_dir, claims)
    if data is not None:
        provenance.update(run_dir, data_loaded_sha256=provenance.fingerprint(data))
    written.append(html.write_html(run_dir, claims))
    info = provenance.read(run_dir).get("wandb")
    if info:
        from analysis import wandb_report

        folder = wandb_report.log_final(run_dir, info)
        if info.get("mode") == "offline":
            print(f"W&B: final plots and tables saved offline; upload with: wandb sync {folder}")
    if not quiet:
        print(f"Claims ({run_dir / claims_mod.CLAIMS_FILE}):")
        print("\n".join(claims_mod.summary_lines([c for c in claims if c.study == study] or claims)))
        print(f"Report: {run_dir / html.HTML_FILE}")
    return written
