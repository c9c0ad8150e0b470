"""The end of every study: ``finish_run(run_dir)`` writes everything a reviewer reads.

One call, made by each study once its Tuner has finished (and usable again
on a restored run through ``python -m analysis report RUN_DIR``, local or a
storage URI):

1. the results format: trials and history tables (Parquet + CSV);
2. the study's own tables and plots (``analysis.<study>.write_report``), and
   the table of completed trials with the epoch their test weights came from;
3. claims.md and tables/comparisons.csv: the paper's claims with verdicts;
4. provenance.json completed with the fingerprint of the data the study loaded;
5. report.html, self-contained;
6. with ``--wandb``, the plots, tables and claims logged to the study's W&B group;

and prints the claims' verdicts. Trials that did not complete are left out of
2-5 and named in report.md, claims.md and report.html.
"""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import Any

import pandas as pd

from analysis import claims as claims_mod
from analysis import export, html, optuna_report, remote
from analysis.claims import Claim
from analysis.run import Run, read_run, unfinished_note
from analysis.tables import write_table
from trainables.common import metrics as M
from trainables.common import provenance, storage
from trainables.common.layout import CLAIMS_MD, CONFIG_PREFIX, PROVENANCE_FILE, REPORT_HTML, REPORT_MD, TABLES_DIR

COMPARISONS_FILE = "comparisons"
TRIALS_TABLE = "trials"


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


def study_report(run: Run) -> list[Path]:
    try:
        module = importlib.import_module(f"analysis.{run.study}")
    except ModuleNotFoundError as exc:
        if exc.name != f"analysis.{run.study}":
            raise
        return []
    return list(module.write_report(run.path, run)) if hasattr(module, "write_report") else []


def trials_table(run: Run) -> pd.DataFrame:
    """Completed trials, best first: the settings that vary, epochs run, best epoch, selection and test metric."""
    t = run.ranked()
    settings = [c for c in t.columns if c.startswith(CONFIG_PREFIX) and t[c].astype(str).nunique() > 1]
    metrics = list(dict.fromkeys([run.best_metric, run.test_metric(), "wall_time_s"]))
    shown = t[["trial_id"] + settings + ["epochs_run", M.BEST_EPOCH] + [m for m in metrics if m in t]]
    shown = shown.rename(columns=lambda c: c.removeprefix(CONFIG_PREFIX)).set_index("trial_id")
    return shown.round(4)


def write_trials(run: Run) -> list[Path]:
    """tables/trials.{md,csv}, and report.md's section on the trials: which completed, which did not."""
    note = (f"Best epoch: the epoch whose weights the test metrics were scored with (best {run.metric}); "
            f"{run.best_metric} is that epoch's value.")
    written = write_table(trials_table(run), run.path / TABLES_DIR / TRIALS_TABLE, "Completed trials", note)
    report = run.path / REPORT_MD
    section = written[0].read_text() + "\n" + (f"**Left out:** {unfinished_note(run)}\n" if not run.unfinished.empty
                                                else "Every trial completed.\n")
    report.write_text((report.read_text() + "\n" if report.exists() else "") + section)
    return [report] + written


def write_comparisons(run_dir: Path, claims: list[Claim]) -> list[Path]:
    table = comparisons_table(claims)
    if table.empty:
        return []
    out = run_dir / TABLES_DIR / f"{COMPARISONS_FILE}.csv"
    out.parent.mkdir(parents=True, exist_ok=True)
    table.to_csv(out, index=False)
    return [out]


def write_all(run_dir: Path, data: Any = None) -> tuple[list[Path], list[Claim]]:
    """Every output of a local run folder; (paths written, claims)."""
    written = export.write_results(run_dir)
    run = read_run(run_dir)
    written += study_report(run) + write_trials(run) + optuna_report.write_param_importance(run_dir)
    claims_path, claims = claims_mod.write_claims(run)
    written += [claims_path] + write_comparisons(run_dir, claims)
    if data is not None:
        provenance.update(run_dir, data_loaded_sha256=provenance.fingerprint(data))
        written.append(run_dir / PROVENANCE_FILE)
    written.append(html.write_html(run, claims))
    info = provenance.read(run_dir).get("wandb")
    if info:
        from analysis import wandb_report

        folder = wandb_report.log_final(run_dir, info)
        written.append(Path(folder))
        if info.get("mode") == "offline":
            print(f"W&B: final plots and tables saved offline; upload with: wandb sync {folder}")
    return list(dict.fromkeys(written)), claims


def finish_run(run_dir: str | Path, data: Any = None, quiet: bool = False) -> list[Path] | list[str]:
    """Write the run's tables, report, claims, provenance and HTML; print the verdicts. ``data``: the loaded input.

    ``run_dir`` may be a storage URI: the run is analysed from a local copy and
    the outputs are written back beside its trials (their URIs are returned).
    """
    with remote.local_copy(run_dir) as local:
        written, claims = write_all(local, data)
        shown = remote.upload(local, written, run_dir) if storage.is_uri(run_dir) else written
    if not quiet:
        print(f"Claims ({storage.join(run_dir, CLAIMS_MD)}):")
        print("\n".join(claims_mod.summary_lines(claims)))
        print(f"Report: {storage.join(run_dir, REPORT_HTML)}")
    return shown
