"""report.html: the report's entries as one self-contained page (plots embedded; opens offline).

Rendered from the same entries as report.md, so the two never differ; the
run's provenance and study record close the page.
"""

from __future__ import annotations

import base64
import json
import re
from html import escape
from pathlib import Path

import pandas as pd

from analysis.report.entries import Entry
from analysis.report.tables import shown
from analysis.runs.read import Run
from analysis.runs.trial_tables import read_json
from analysis.verdicts.claims import CONTRADICTED, EQUIVALENT, INCONCLUSIVE, NOT_RUN, SUPPORTED
from trainables.common.layout import PROVENANCE_FILE, REPORT_HTML

STYLE = """
body { font-family: system-ui, sans-serif; margin: 2em auto; max-width: 1200px; color: #222; line-height: 1.4; }
table { border-collapse: collapse; margin: 0.5em 0 1.5em; font-size: 0.85em; }
th, td { border: 1px solid #ccc; padding: 3px 8px; text-align: right; vertical-align: top; }
th { background: #f2f2f2; }
td:first-child, th:first-child, #summary td { text-align: left; }
.supported { background: #d8f5d0; } .contradicted { background: #f9d3d0; } .equivalent { background: #d6e8fb; }
.inconclusive { background: #fdf2c9; } .not-run { background: #e6e6e6; }
img { max-width: 100%; border: 1px solid #ddd; margin: 0.5em 0; }
pre { background: #f6f6f6; padding: 1em; overflow-x: auto; font-size: 0.8em; }
"""
VERDICTS = (SUPPORTED, CONTRADICTED, EQUIVALENT, INCONCLUSIVE, NOT_RUN)
BOLD = re.compile(r"\*\*(.+?)\*\*")


def inline_html(text: str) -> str:
    """A line of the little Markdown the entries use, escaped: ``**bold**`` becomes bold."""
    return BOLD.sub(r"<b>\1</b>", escape(text))


def text_html(text: str) -> str:
    """The little Markdown the entries use: paragraphs, ``` entries, **bold**, list items."""
    out = []
    for i, part in enumerate(text.split("```")):
        if i % 2:
            out.append(f"<pre>{escape(part.strip(chr(10)))}</pre>")
            continue
        for para in (p for p in part.split("\n\n") if p.strip()):
            body = inline_html(para.strip())
            lines = body.split("\n")
            if all(line.startswith("- ") for line in lines):
                out.append("<ul>" + "".join(f"<li>{line[2:]}</li>" for line in lines) + "</ul>")
            elif body.startswith("### "):
                out.append(f"<h4>{body[4:]}</h4>")
            else:
                out.append(f"<p>{'<br>'.join(lines)}</p>")
    return "\n".join(out)


def image_tag(path: Path) -> str:
    data = base64.b64encode(path.read_bytes()).decode("ascii")
    return (f'<figure><img alt="{escape(path.stem)}" src="data:image/png;base64,{data}">'
            f"<figcaption>{escape(path.stem)}</figcaption></figure>")


def block_html(block: Entry) -> str:
    level = min(block.level + 1, 6)
    parts = [f"<h{level}>{escape(block.title)}</h{level}>"] if block.title else []
    parts += [text_html(block.text)] if block.text else []
    if block.table is not None:
        parts.append(table_html(block.table, block.stem))
    parts += [image_tag(p) for p in block.images if p.exists()]
    return "\n".join(parts)


def table_html(table: pd.DataFrame, stem: str | None) -> str:
    """One header row and a row a line, as in report.md; a verdict cell is bold and coloured."""
    header, rows = shown(table)

    def cell(text: str) -> str:
        if text in VERDICTS:
            return f'<td class="{text.replace(" ", "-")}"><b>{text}</b></td>'
        return f"<td>{inline_html(text)}</td>"

    head = "<tr>" + "".join(f"<th>{inline_html(h)}</th>" for h in header) + "</tr>"
    body = "\n".join("<tr>" + "".join(map(cell, row)) + "</tr>" for row in rows)
    ident = f' id="{escape(stem)}"' if stem else ""
    return f"<table{ident}>\n<thead>{head}</thead>\n<tbody>\n{body}\n</tbody>\n</table>"


def write(run: Run, title: str, entries: list[Entry]) -> Path:
    provenance = read_json(run.path / PROVENANCE_FILE)
    body = [f"<h1>{escape(title)}</h1>", *(block_html(b) for b in entries),
            "<h2>Provenance</h2>",
            f"<pre id='provenance'>{escape(json.dumps(provenance, indent=2, default=str))}</pre>",
            "<h2>Study</h2>", f"<pre>{escape(json.dumps(run.info, indent=2, default=str))}</pre>"]
    page = (f"<!DOCTYPE html>\n<html lang='en'><head><meta charset='utf-8'><title>{escape(title)}</title>"
            f"<style>{STYLE}</style></head><body>\n" + "\n".join(body) + "\n</body></html>\n")
    path = run.path / REPORT_HTML
    path.write_text(page, encoding="utf-8")
    return path
