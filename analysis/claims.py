"""The paper's conclusions as claims with verdicts and the numbers behind them.

A claim is one or more paired comparisons (``analysis.stats``); within a
claim the p-values are Holm-corrected. The sample is the seeds: trials are
matched on seed and the other settings that vary (the blocks, e.g. the
cells when optimizers are compared), the matched values are averaged over
the blocks within each seed, and each seed gives one difference, so n is
the number of seeds. A comparison supports the claim when its 95% interval
lies on the claimed side of zero and its Holm-adjusted paired t-test p is
below 0.05, contradicts it when both point the other way, and is
inconclusive otherwise (the interval spans zero, fewer than two seeds, or
identical differences from fewer than three). A claim is supported when all
its comparisons are, contradicted when any is, inconclusive otherwise, and
"not run" when the columns it needs are absent. Only completed trials count
(``analysis.run``). Per-study claims live in ``claims_qN.py``.
"""

from __future__ import annotations

import importlib
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from analysis import stats
from analysis.run import Run, read_run, unfinished_note
from analysis.tasks import STUDIES
from trainables.common.layout import CLAIMS_MD, CONFIG_PREFIX

SUPPORTED, CONTRADICTED, INCONCLUSIVE, NOT_RUN = "supported", "contradicted", "inconclusive", "not run"
C = CONFIG_PREFIX
SEED = C + "seed"


@dataclass
class Comparison:
    label: str  # what is compared, e.g. "gru − lstm, test/mape"
    expect: int  # claimed sign of a − b: -1 (a lower) or +1 (a higher); 0: a ≈ b within ``margin``
    result: stats.Paired
    margin: float = 0.0
    p_holm: float = float("nan")

    @property
    def verdict(self) -> str:
        r = self.result
        if r.n < 2 or math.isnan(r.ci_low):
            return INCONCLUSIVE
        if self.expect == 0:  # equivalence: the whole interval within ±margin, or wholly outside it
            if -self.margin <= r.ci_low and r.ci_high <= self.margin:
                return SUPPORTED
            if r.ci_low > self.margin or r.ci_high < -self.margin:
                return CONTRADICTED
            return INCONCLUSIVE
        significant = not math.isnan(self.p_holm) and self.p_holm < stats.ALPHA
        if significant and r.sign() == self.expect:
            return SUPPORTED
        if significant and r.sign() == -self.expect:
            return CONTRADICTED
        return INCONCLUSIVE

    def evidence(self) -> str:
        r = self.result
        if r.n == 0:
            return f"{self.label}: no matched pairs"
        text = f"{self.label}: {r.mean_a:.4g} vs {r.mean_b:.4g}, difference {r.diff:+.4g}"
        if r.n < 2:
            return text + f" (n={r.n} seed: too few seeds for an interval)"
        if math.isnan(r.ci_low):
            return text + f" (n={r.n} seeds, identical differences: too few seeds to tell)"
        text += f" [95% CI {r.ci_low:+.4g}, {r.ci_high:+.4g}], n={r.n} seeds"
        if self.expect == 0:
            return text + f", margin ±{self.margin:g}"
        return text + (f", paired t p={r.p_t:.3g} (Holm {self.p_holm:.3g}), Wilcoxon p={r.p_wilcoxon:.3g},"
                       f" d_z={r.effect:+.2f}")


@dataclass
class Claim:
    study: str
    key: str
    text: str
    comparisons: list[Comparison] = field(default_factory=list)
    note: str = ""
    missing: str = ""  # why the claim could not be checked; non-empty means "not run"

    @property
    def verdict(self) -> str:
        if self.missing or not self.comparisons:
            return NOT_RUN
        verdicts = [c.verdict for c in self.comparisons]
        if all(v == SUPPORTED for v in verdicts):
            return SUPPORTED
        if CONTRADICTED in verdicts:
            return CONTRADICTED
        return INCONCLUSIVE


def finalize(claim: Claim) -> Claim:
    """Holm-correct the claim's comparisons (one family per claim)."""
    tested = [c for c in claim.comparisons if c.expect != 0]
    for comp, p in zip(tested, stats.holm(c.result.p_t for c in tested)):
        comp.p_holm = p
    return claim


def compare(rows: pd.DataFrame, factor: str, a, b, metric: str, expect: int, label: str | None = None,
            keys: list[str] | None = None, margin: float = 0.0) -> Comparison | None:
    """``metric`` at ``factor == a`` against ``factor == b``: matched on seed and the other varying settings
    (or on ``keys``), averaged over those settings within each seed, one pair a seed."""
    if factor not in rows or metric not in rows:
        return None
    if keys is None:
        keys = [c for c in rows.columns if c.startswith(C) and c != factor and rows[c].nunique(dropna=False) > 1]
        keys = sorted(set(keys) | ({SEED} & set(rows.columns)))
    left, right = stats.pair_frames(rows, factor, a, b, metric, keys, unit=SEED)
    name = label or f"{a} − {b}"
    return Comparison(f"{name}, {metric}", expect, stats.paired(left, right), margin)


def compare_columns(rows: pd.DataFrame, metric_a: str, metric_b: str, expect: int, label: str,
                    margin: float = 0.0) -> Comparison | None:
    """Two metrics of the same trials (a model against a baseline on the same split), one pair a seed."""
    if metric_a not in rows or metric_b not in rows:
        return None
    means = stats.unit_means(rows, [metric_a, metric_b], SEED)
    return Comparison(label, expect, stats.paired(means[metric_a], means[metric_b]), margin)


def paired_by_seed(seeds, a, b) -> stats.Paired:
    """Matched values made outside ``compare`` (e.g. each pair at equal training time), one pair a seed.

    Pairs of one seed (several batch sizes, cells, ...) are averaged first, so n is the number of seeds.
    """
    frame = pd.DataFrame({SEED: list(seeds), "a": list(a), "b": list(b)}, dtype=object)
    frame[["a", "b"]] = frame[["a", "b"]].astype(float)
    means = stats.unit_means(frame, ["a", "b"], SEED)
    return stats.paired(means["a"], means["b"])


def build(study: str, key: str, text: str, comparisons: list, needs: str, note: str = "") -> Claim:
    """A claim from comparisons; any that could not be formed make it "not run" with ``needs`` as the reason."""
    if not comparisons or any(c is None for c in comparisons) or all(c.result.n == 0 for c in comparisons):
        return Claim(study, key, text, note=note, missing=f"needs {needs}")
    return finalize(Claim(study, key, text, list(comparisons), note))


def at(rows: pd.DataFrame, **settings) -> pd.DataFrame:
    """Rows whose config matches ``settings`` (settings whose column is absent are ignored)."""
    keep = pd.Series(True, index=rows.index)
    for k, v in settings.items():
        if C + k in rows:
            keep &= rows[C + k] == v
    return rows[keep]


def study_module(study: str):
    return importlib.import_module(f"analysis.claims_{study}")


def evaluate_study(study: str, results: Any | None) -> list[Claim]:
    """``study``'s claims on ``results`` (``.trials``, ``.history``); all "not run" without results."""
    module = study_module(study)
    if results is None:
        return [Claim(study, key, text, missing=f"no {study} run given") for key, text in module.CLAIMS.items()]
    return module.evaluate(results)


def evaluate_runs(run_dirs: list[str | Path]) -> list[Claim]:
    """Every study's claims: checked on the given runs, "not run" for studies without one."""
    runs: dict[str, Run] = {}
    for run_dir in run_dirs:
        run = read_run(run_dir)
        runs.setdefault(run.study, run)
    return [claim for study in STUDIES for claim in evaluate_study(study, runs.get(study))]


def to_markdown(claims: list[Claim], title: str = "Claims of the paper, checked", note: str = "") -> str:
    lines = [f"# {title}\n", RULE + "\n"] + ([note + "\n"] if note else [])
    lines += ["| study | claim | verdict |", "|---|---|---|"]
    lines += [f"| {c.study} | {c.text} | **{c.verdict}** |" for c in claims]
    for c in claims:
        lines += ["", f"## {c.study}: {c.text}", "", f"Verdict: **{c.verdict}**" + (f" ({c.missing})" if c.missing else "")]
        if c.note:
            lines += ["", c.note]
        if c.comparisons:
            lines += [""] + [f"- {comp.evidence()} → {comp.verdict}" for comp in c.comparisons]
    return "\n".join(lines) + "\n"


def summary_lines(claims: list[Claim]) -> list[str]:
    return [f"  [{c.verdict:>12}] {c.study}: {c.text}" for c in claims]


RULE = ("Each comparison is paired by seed (same seed, same data split). Trials are matched on seed and on the "
        "other settings that vary, and the matched values are averaged over those settings within each seed, so "
        "n is the number of seeds. Per comparison: mean difference a − b with a 95% t-interval, paired t-test "
        "(Holm-corrected within the claim), Wilcoxon signed-rank test and effect size d_z. Supported: interval on "
        "the claimed side of zero and Holm p < 0.05; contradicted: both on the other side; inconclusive: the "
        "interval spans zero, there are fewer than two seeds, or the differences are identical over fewer than "
        "three seeds. Only completed trials count.")


def write_claims(run: Run) -> tuple[Path, list[Claim]]:
    """claims.md in the run folder: the claims of the run's own study."""
    claims = evaluate_study(run.study, run)
    path = run.path / CLAIMS_MD
    path.write_text(to_markdown(claims, note=unfinished_note(run)))
    return path, claims
