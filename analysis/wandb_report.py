"""Weights & Biases: the run's final plots and tables, and a W&B Report built from them.

``log_final`` adds one run (job type "report") to the study's W&B group with
the plots, tables and claims, online or offline like the trials.
``build_report`` (``python -m analysis wandb-report``) needs a network and an
API key; without them it says so and points to the static HTML report.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd

from analysis.run import read_run
from trainables.common import metrics as M
from trainables.common.layout import CLAIMS_MD, PLOTS_DIR, TABLES_DIR
from trainables.common.tracking import choose_mode


def report_tables(run_dir: Path) -> dict[str, pd.DataFrame]:
    return {p.stem: pd.read_csv(p) for p in sorted((run_dir / TABLES_DIR).glob("*.csv"))}


def log_final(run_dir: str | Path, info: dict[str, Any]) -> str:
    """Log plots/*.png, tables/*.csv and claims.md as one extra run of the study's group; its folder."""
    import wandb

    run_dir = Path(run_dir)
    claims = run_dir / CLAIMS_MD
    run = wandb.init(project=info["project"], group=info["group"], name=f"{info['group']}-report",
                     job_type="report", mode=info.get("mode", "offline"), dir=str(run_dir))
    try:
        images = {f"{PLOTS_DIR}/{p.stem}": wandb.Image(str(p)) for p in sorted((run_dir / PLOTS_DIR).glob("*.png"))}
        tables = {f"{TABLES_DIR}/{k}": wandb.Table(dataframe=v.astype(str)) for k, v in report_tables(run_dir).items()}
        run.log({**images, **tables})
        if claims.exists():
            run.summary["claims"] = claims.read_text()
        return str(Path(run.dir).parent)
    finally:
        run.finish()


def build_report(run_dir: str | Path, project: str, entity: str | None = None) -> str:
    """Save a W&B Report with the claims, tables, curves and plots of ``run_dir``; its URL."""
    mode, reason = choose_mode()
    if mode != "online":
        raise SystemExit(
            f"error: a W&B Report needs a network and an API key ({reason}).\n"
            f"The same content is in the static report: python -m analysis html {run_dir}")
    import wandb_workspaces.reports.v2 as wr

    run = read_run(run_dir)
    run_dir, group = run.path, run.path.name
    blocks: list[Any] = [wr.H1(f"{group}: results"), wr.P("Claims of the paper, checked on this run.")]
    claims = run_dir / CLAIMS_MD
    if claims.exists():
        blocks.append(wr.MarkdownBlock(text=claims.read_text()))
    for md in sorted((run_dir / TABLES_DIR).glob("*.md")):
        blocks.append(wr.MarkdownBlock(text=md.read_text()))
    runset = wr.Runset(project=project, entity=entity or "", name=group, filters=f"Group = '{group}'")
    curves = dict.fromkeys([M.TRAIN_LOSS, M.VAL_LOSS, run.metric])  # the task's selection metric too
    panels = [wr.LinePlot(title=m, x=M.EPOCH, y=[m]) for m in curves]
    plots = sorted((run_dir / PLOTS_DIR).glob("*.png"))
    panels.append(wr.MediaBrowser(title="plots", media_keys=[f"{PLOTS_DIR}/{p.stem}" for p in plots]))
    blocks.append(wr.PanelGrid(runsets=[runset], panels=panels))
    kwargs = {"entity": entity} if entity else {}
    report = wr.Report(project=project, title=f"{group} study report", blocks=blocks, **kwargs)
    report.save()
    return report.url
