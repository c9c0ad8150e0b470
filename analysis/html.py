"""report.html: the report's blocks as one self-contained page (plots embedded; opens offline).

Rendered from the same blocks as report.md, so the two never differ; the
run's provenance and study record close the page.
"""

from __future__ import annotations

import base64
import json
import re
from html import escape
from pathlib import Path

from analysis.export import read_json
from analysis.run import Run
from analysis.sections import Block
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
VERDICT_CELL = re.compile(r"<td>(supported|contradicted|equivalent|inconclusive|not run)</td>")


def text_html(text: str) -> str:
    """The little Markdown the blocks use: paragraphs, ``` blocks, **bold**, list items."""
    out = []
    for i, part in enumerate(text.split("```")):
        if i % 2:
            out.append(f"<pre>{escape(part.strip(chr(10)))}</pre>")
            continue
        for para in (p for p in part.split("\n\n") if p.strip()):
            body = re.sub(r"\*\*(.+?)\*\*", r"<b>\1</b>", escape(para.strip()))
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


def block_html(block: Block) -> str:
    level = min(block.level + 1, 6)
    parts = [f"<h{level}>{escape(block.title)}</h{level}>"] if block.title else []
    parts += [text_html(block.text)] if block.text else []
    if block.table is not None:
        table = block.table.to_html(na_rep="", border=0, table_id=block.stem or None)
        parts.append(VERDICT_CELL.sub(lambda m: f'<td class="{m.group(1).replace(" ", "-")}"><b>{m.group(1)}</b></td>',
                                      table))
    parts += [image_tag(p) for p in block.images if p.exists()]
    return "\n".join(parts)


def write(run: Run, title: str, blocks: list[Block]) -> Path:
    provenance = read_json(run.path / PROVENANCE_FILE)
    body = [f"<h1>{escape(title)}</h1>", *(block_html(b) for b in blocks),
            "<h2>Provenance</h2>", f"<pre id='provenance'>{escape(json.dumps(provenance, indent=2, default=str))}</pre>",
            "<h2>Study</h2>", f"<pre>{escape(json.dumps(run.info, indent=2, default=str))}</pre>"]
    page = (f"<!DOCTYPE html>\n<html lang='en'><head><meta charset='utf-8'><title>{escape(title)}</title>"
            f"<style>{STYLE}</style></head><body>\n" + "\n".join(body) + "\n</body></html>\n")
    path = run.path / REPORT_HTML
    path.write_text(page, encoding="utf-8")
    return path
