"""Verdict error rates on real seeds: a finished run's paired differences, centred where each comparison is
wrong by the least, drawn again with replacement, through the procedure of a ``--seeds auto`` run.

    python studies/q1.py --seeds 20 --name q1-20-seeds                # the run (about 25 min on 2 cores)
    python benchmarks/verdict_resampled.py export runs/q1-20-seeds    # its differences into q1_differences.csv
    python benchmarks/verdict_resampled.py                            # the rates, 20,000 replications each

The Gaussian cases of ``verdict_errors.py`` say what the procedure does when seeds are Gaussian; these say
what it does when they are distributed as this project's seeds are: each comparison's 20 differences,
centred at each null it can be wrong about, are the distribution the simulated seeds are drawn from, at the
comparison's own margin, split and looks (3 to 20 seeds).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np
import pandas as pd

from analysis.verdicts import sequential
from analysis.verdicts.rule import CONTRADICTED, EQUIVALENT, SIGN, SUPPORTED
from trainables.common.paper import NOT_LOWER, SAME

DIFFERENCES = Path(__file__).with_name("verdict_resampled") / "q1_differences.csv"
SCHEDULE = sequential.LookSchedule(first=3, cap=20)
COLUMNS = ["claim", "comparison", "expect", "margin", "split", "candidates", "seed", "difference"]


def export(run_path: str, out: Path = DIFFERENCES) -> pd.DataFrame:
    """Every comparison's paired differences (a − b a seed) of the finished run at ``run_path``, with what the
    procedure reads beside them: its claim's split, the arms a best-on-validation choice chose among, the
    margin. Comparisons the run cannot form are left out."""
    from analysis.runs.read import read_run
    from analysis.verdicts import claims, pairing

    run = read_run(run_path)
    trials, reference, rows = claims.compared(run), run.task.paper.reference, []
    for claim in run.task.paper.claims:
        for comp in claim.compares:
            try:
                per_seed, picked = claims.pairs(claim, comp, reference, trials, run.history)
            except pairing.Missing:  # an arm the run did not train: nothing to resample
                continue
            margin = pairing.margin_value(comp.margin or claim.margin, picked, per_seed)
            label = pairing.label(comp, picked)
            for seed, d in (per_seed["a"] - per_seed["b"]).items():
                rows.append([claim.key, label, comp.expect, margin, claims.split(claim),
                             claims.candidates(picked), int(seed), float(d)])
    frame = pd.DataFrame(rows, columns=COLUMNS)
    out.parent.mkdir(parents=True, exist_ok=True)
    frame.to_csv(out, index=False, float_format="%.9g")
    return frame


def nulls(expect: str, margin: float) -> list[tuple[str, float, str, float]]:
    """(where, true difference, wrong verdict, its nominal rate): the truths at which a verdict of the
    comparison is wrong by the least, and the verdict that would be."""
    if expect in SIGN:
        claimed = SIGN[expect] * margin
        return [("0", 0.0, SUPPORTED, 0.025), ("0", 0.0, CONTRADICTED, 0.025),
                ("the margin", claimed, EQUIVALENT, 0.05)]
    if expect == NOT_LOWER:
        return [("−margin", -margin, SUPPORTED, 0.025), ("−margin", -margin, CONTRADICTED, 0.025)]
    if expect == SAME:
        return [("the margin", margin, SUPPORTED, 0.05), ("the margin", margin, CONTRADICTED, 0.025)]
    raise ValueError(f"unknown expectation {expect!r}")


def rates(frame: pd.DataFrame, reps: int, seed: int = 37) -> pd.DataFrame:
    """One row per comparison and null: the share of ``reps`` resampled runs that ended with the wrong verdict,
    against its nominal rate (each seed's difference drawn from the comparison's centred differences)."""
    rng, out = np.random.default_rng(seed), []
    for (claim, label), group in frame.groupby(["claim", "comparison"], sort=False):
        first = group.iloc[0]
        centred = group["difference"].to_numpy() - group["difference"].mean()
        draws = rng.choice(centred, size=(reps, SCHEDULE.cap))
        for where, truth, wrong, nominal in nulls(first["expect"], float(first["margin"])):
            verdict, _ = sequential.procedure(draws + truth, first["expect"], float(first["margin"]), SCHEDULE,
                                              int(first["split"]), int(first["candidates"]))
            out.append({"claim": claim, "comparison": label, "expect": first["expect"], "truth": where,
                        "wrong": wrong, "rate": float((verdict == wrong).mean()), "nominal": nominal,
                        "skew": float(pd.Series(centred).skew())})
    return pd.DataFrame(out)


def control(reps: int, samples: int = 8, seed: int = 1) -> list[float]:
    """The check's own noise: false "supported" of a "lower" comparison at 0 when each comparison's 20 seeds
    are Gaussian draws (sd 1 margin, split 2), resampled the same way; the procedure's rate for Gaussian seeds
    themselves is 1.8% (``verdict_errors.py``)."""
    rng = np.random.default_rng(seed)
    rows = [["control", f"sample {k}", "lower", 1.0, 2, 1, s, x]
            for k in range(samples) for s, x in enumerate(rng.standard_normal(SCHEDULE.cap))]
    table = rates(pd.DataFrame(rows, columns=COLUMNS), reps)
    return table.loc[table["wrong"] == SUPPORTED, "rate"].tolist()


def limit(nominal: float, reps: int) -> float:
    """The nominal rate plus 3 Monte Carlo errors."""
    return nominal + 3 * np.sqrt(nominal * (1 - nominal) / reps)


def main(argv: list[str] | None = None) -> pd.DataFrame | None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("command", nargs="?", choices=["export", "rates"], default="rates",
                   help="export: write a run's differences; rates: the error rates from them (default)")
    p.add_argument("run", nargs="?", help="export: the finished fixed-seed run")
    p.add_argument("--reps", type=int, default=20_000, help="replications a comparison and null (default: 20000)")
    args = p.parse_args(argv)
    if args.command == "export":
        if not args.run:
            p.error("export needs the run's folder")
        frame = export(args.run)
        print(f"wrote {DIFFERENCES}: {frame['comparison'].nunique()} comparisons, {frame['seed'].nunique()} seeds")
        return None
    table = rates(pd.read_csv(DIFFERENCES), args.reps)
    print("| claim | comparison | true difference | wrong verdict | rate | nominal | skew of the seeds |")
    print("|---|---|---|---|---|---|---|")
    for r in table.itertuples():
        print(f"| {r.claim} | {r.comparison} | {r.truth} | {r.wrong} | {100 * r.rate:.2f}% | "
              f"{100 * r.nominal:.1f}% | {r.skew:.2f} |")
    over = table[table["rate"] > limit(table["nominal"], args.reps)]
    print(f"\n{len(over)} of {len(table)} over their limit (nominal + 3 Monte Carlo errors)")
    noise = control(args.reps)
    print(f"control, 8 Gaussian samples of 20 seeds resampled the same way: false supported at 0 from "
          f"{100 * min(noise):.2f}% to {100 * max(noise):.2f}% (Gaussian seeds themselves: 1.8%)")
    return table


if __name__ == "__main__":
    main()
