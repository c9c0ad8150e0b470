"""report.html: one self-contained page with a run's claims, tables, plots and provenance.

Plots are embedded as base64 data URIs and the style is inline, so the file
opens offline, can be mailed or attached, and needs nothing else.
"""

from __future__ import annotations

import base64
import json
from html import escape
from pathlib import Path

import pandas as pd

from analysis.claims import Claim
from analysis.export import read_json
from analysis.run import Run, unfinished_note
from trainables.common.layout import PLOTS_DIR, PROVENANCE_FILE, REPORT_HTML, TABLES_DIR

HTML_FILE = REPORT_HTML
MAX_TRIAL_ROWS = 500
STYLE = """
body { font-family: system-ui, sans-serif; margin: 2em auto; max-width: 1200px; color: #222; }
table { border-collapse: collapse; margin: 0.5em 0 1.5em; font-size: 0.85em; }
th, td { border: 1px solid #ccc; padding: 3px 8px; text-align: right; }
th { background: #f2f2f2; }
td:first-child, th:first-child, #claims td { text-align: left; }
.supported { background: #d8f5d0; } .contradicted { background: #f9d3d0; }
.inconclusive { background: #fdf2c9; } .not-run { background: #e6e6e6; }
img { max-width: 100%; border: 1px solid #ddd; margin: 0.5em 0; }
pre { background: #f6f6f6; padding: 1em; overflow-x: auto; font-size: 0.8em; }
.evidence { font-size: 0.85em; color: #444; }
"""


def image_tag(path: Path) -> str:
    data = base64.b64encode(path.read_bytes()).decode("ascii")
    return f'<figure><img alt="{escape(path.stem)}" src="data:image/png;base64,{data}"><figcaption>{escape(path.stem)}</figcaption></figure>'


def claims_html(claims: list[Claim]) -> str:
    rows = "".join(
        f'<tr class="{c.verdict.replace(" ", "-")}"><td>{escape(c.study)}</td><td>{escape(c.text)}</td>'
        f"<td><b>{escape(c.verdict)}</b></td></tr>" for c in claims)
    parts = [f"<table id='claims'><tr><th>study</th><th>claim</th><th>verdict</th></tr>{rows}</table>"]
    for c in claims:
        items = "".join(f"<li>{escape(comp.evidence())} → {escape(comp.verdict)}</li>" for comp in c.comparisons)
        detail = escape(c.missing or c.note)
        parts.append(f"<details><summary>{escape(c.study)}: {escape(c.text)} — {escape(c.verdict)}</summary>"
                     f"<p class='evidence'>{detail}</p><ul class='evidence'>{items}</ul></details>")
    return "\n".join(parts)


def table_title(csv: Path) -> str:
    md = csv.with_suffix(".md")
    if md.exists():
        first = md.read_text().splitlines()[0]
        return first.lstrip("# ").strip()
    return csv.stem


def tables_html(run_dir: Path) -> str:
    parts = []
    for csv in sorted((run_dir / TABLES_DIR).glob("*.csv")):
        frame = pd.read_csv(csv, index_col=0)
        parts.append(f"<h3>{escape(table_title(csv))}</h3>" + frame.to_html(na_rep="", classes="result", border=0))
    return "\n".join(parts) or "<p>No tables.</p>"


def trials_html(run: Run) -> str:
    """Every completed trial's row of the results format, and the trials left out."""
    trials = run.trials.drop(columns=["trial_dir"], errors="ignore")
    shown = trials.head(MAX_TRIAL_ROWS)
    note = f" (first {MAX_TRIAL_ROWS} of {len(trials)})" if len(trials) > MAX_TRIAL_ROWS else f" ({len(trials)} trials)"
    parts = [f"<details><summary>All completed trials{note}</summary>"
             + shown.to_html(index=False, float_format=lambda v: f"{v:.4g}", na_rep="", border=0) + "</details>"]
    if not run.unfinished.empty:
        left = run.unfinished[["trial_id", "status", "epochs_run"]]
        parts.append(f"<p id='unfinished'>{escape(unfinished_note(run))}</p>" + left.to_html(index=False, border=0))
    return "\n".join(parts)


def write_html(run: Run, claims: list[Claim]) -> Path:
    run_dir = run.path
    provenance = read_json(run_dir / PROVENANCE_FILE)
    title = f"{run.study} study report: {run_dir.name}"
    plots = "\n".join(image_tag(p) for p in sorted((run_dir / PLOTS_DIR).glob("*.png"))) or "<p>No plots.</p>"
    body = [
        f"<h1>{escape(title)}</h1>",
        "<h2>Claims</h2>", claims_html(claims),
        "<h2>Tables</h2>", tables_html(run_dir), trials_html(run),
        "<h2>Plots</h2>", plots,
        "<h2>Provenance</h2>", f"<pre id='provenance'>{escape(json.dumps(provenance, indent=2, default=str))}</pre>",
        "<h2>Study</h2>", f"<pre>{escape(json.dumps(run.info, indent=2, default=str))}</pre>",
    ]
    page = (f"<!DOCTYPE html>\n<html lang='en'><head><meta charset='utf-8'><title>{escape(title)}</title>"
            f"<style>{STYLE}</style></head><body>\n" + "\n".join(body) + "\n</body></html>\n")
    path = run_dir / HTML_FILE
    path.write_text(page, encoding="utf-8")
    return path
