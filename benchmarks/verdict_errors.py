"""Verdict error rates by seeded simulation: the procedure of a ``--seeds auto`` run, before and after.

    python benchmarks/verdict_errors.py            # 20,000 replications a case, a few minutes on one core

Every case runs the real intervals, rule and stopping (``analysis.verdicts.sequential``) at the real minimum,
cap and looks (3 to 20 seeds, one look a seed). "before" reads them at the levels of the procedure this
replaced: the 95% interval for equivalence and for "not lower" and "same" both ways, alpha split over a claim's
"lower" and "higher" comparisons only, a best-on-validation arm tested as if fixed in advance. Rates are per
claim; the margin is 1 and sd is in margins.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np

from analysis.verdicts import sequential
from analysis.verdicts.rule import CONTRADICTED, EQUIVALENT, SIGN, SUPPORTED
from trainables.common.paper import HIGHER, LOWER, NOT_LOWER, SAME

SCHEDULE = sequential.LookSchedule(first=3, cap=20)
ARMS = 18  # q1's paper design: the arms its best-on-validation claim chooses among


def before(expects: tuple[str, ...], expect: str) -> sequential.Levels:
    """The levels of the procedure this replaced, for one comparison of a claim of ``expects``."""
    directional = 2 * max(1, sum(e in SIGN for e in expects))
    return sequential.Levels(2, directional, directional) if expect in SIGN else sequential.Levels(2, 2, 2)


def after(expects: tuple[str, ...], candidates: int = 1) -> sequential.Levels:
    return sequential.Levels.of(len(expects), candidates)


def run(d: np.ndarray, expect: str, levels: sequential.Levels) -> tuple[np.ndarray, np.ndarray]:
    """(verdict where it stopped, seeds read) of each row of ``d``."""
    n, mean, sd = sequential.moments(d, SCHEDULE.cap)
    verdict, _ = sequential.decide(n, mean, sd, expect, 1.0, SCHEDULE.cap, levels)
    at = sequential.stop(verdict, SCHEDULE.first)
    return verdict[np.arange(len(verdict)), at], n[at]


def chosen(val: np.ndarray, test: np.ndarray, expect: str, levels: sequential.Levels) -> tuple[np.ndarray, np.ndarray]:
    """The best-on-validation procedure: at each look the arm with the lowest mean validation score on the seeds
    so far is chosen and its test differences against the baseline read. ``val``, ``test``: (rep, arm, seed).
    (verdict where it stopped, seeds read) of each replication."""
    n, mean, sd = sequential.moments(test, SCHEDULE.cap)
    _, val_mean, _ = sequential.moments(val, SCHEDULE.cap)
    pick = val_mean.argmin(axis=1)[:, None, :]
    mean, sd = (np.take_along_axis(x, pick, axis=1)[:, 0] for x in (mean, sd))
    verdict, _ = sequential.decide(n, mean, sd, expect, 1.0, SCHEDULE.cap, levels)
    at = sequential.stop(verdict, SCHEDULE.first)
    return verdict[np.arange(len(verdict)), at], n[at]


def skewed(kind: str, rng: np.random.Generator, shape: tuple[int, ...]) -> np.ndarray:
    """Differences of mean 0 and sd 1: Gaussian, centred lognormal, 10% of seeds blown up, t with 3 df."""
    if kind == "gaussian":
        return rng.standard_normal(shape)
    if kind == "lognormal":
        x = np.exp(rng.standard_normal(shape))
        return (x - np.exp(0.5)) / np.sqrt((np.e - 1) * np.e)
    if kind == "blow-ups":
        x = rng.standard_normal(shape) + 5.0 * (rng.random(shape) < 0.1)
        return (x - 0.5) / np.sqrt(1 + 25 * 0.09)
    return rng.standard_t(3, shape) / np.sqrt(3)


def confirmed(val: np.ndarray, test: np.ndarray, expect: str, choose_on: int) -> tuple[np.ndarray, np.ndarray]:
    """Choose, then confirm: the arm with the lowest mean validation score on the first ``choose_on`` seeds,
    its test differences on the seeds after them read as one comparison fixed in advance (its own looks from
    3 fresh seeds to the seeds left). (verdict where it stopped, seeds run in all) of each replication."""
    pick = val[:, :, :choose_on].mean(axis=2).argmin(axis=1)
    fresh = test[np.arange(len(test)), pick, choose_on:]
    cap = SCHEDULE.cap - choose_on
    n, mean, sd = sequential.moments(fresh, cap)
    verdict, _ = sequential.decide(n, mean, sd, expect, 1.0, cap, sequential.Levels.of())
    at = sequential.stop(verdict, sequential.FIRST_LOOK)
    return verdict[np.arange(len(verdict)), at], choose_on + n[at]


def arms(rho: float, reps: int, seed: int, gain: float = 0.0) -> tuple[np.ndarray, np.ndarray]:
    """(validation, test) scores of 18 arms against the baseline, (rep, arm, seed), sd 4 margins: every arm
    ``gain`` margins better, its validation score correlated ``rho`` with its test difference."""
    rng = np.random.default_rng(seed)
    test = rng.standard_normal((reps, ARMS, SCHEDULE.cap))
    val = rho * test + np.sqrt(1 - rho ** 2) * rng.standard_normal(test.shape)
    return val, 4.0 * test - gain


def selection(rho: float, reps: int, seed: int, levels: sequential.Levels, gain: float = 0.0) -> float:
    """False (gain 0) or true "supported" of "the best of 18 arms is lower than the baseline" (``arms``)."""
    return float((chosen(*arms(rho, reps, seed, gain), LOWER, levels)[0] == SUPPORTED).mean())


def choosing(reps: int) -> list[tuple[str, float, float, float, float]]:
    """The two ways of holding the error of a chosen arm side by side: Bonferroni over the 18 arms, the choice
    made again at every look (the procedure), against choosing on the first 3 seeds and confirming on the
    rest. (case, supported, mean seeds) for each."""
    out = []
    for gain in (0.0, 2.0, 4.0, 8.0):
        for rho in (0.5, 0.9):
            val, test = arms(rho, reps, 7, gain)
            bonferroni = chosen(val, test, LOWER, after((LOWER,), ARMS))
            confirm = confirmed(val, test, LOWER, sequential.FIRST_LOOK)
            out.append((f"every arm {gain:g} margins better, correlation {rho}",
                        *(x for v, seeds in (bonferroni, confirm) for x in ((v == SUPPORTED).mean(), seeds.mean()))))
    return out


def rows(reps: int) -> list[tuple[str, float, float]]:
    """(case, before, after)."""
    rng = np.random.default_rng(37)
    out = []
    one = (HIGHER,)
    for sd in (0.5, 1.0, 2.0):
        d = sd * rng.standard_normal((reps, SCHEDULE.cap))
        for name, verdict in (("false supported", SUPPORTED), ("false contradicted", CONTRADICTED)):
            out.append((f"higher, true 0, sd {sd}: {name}",
                        *((run(d, HIGHER, lv)[0] == verdict).mean() for lv in (before(one, HIGHER), after(one)))))
        at = 1.0 + d
        out.append((f"higher, true = margin, sd {sd}: false equivalent",
                    *((run(at, HIGHER, lv)[0] == EQUIVALENT).mean() for lv in (before(one, HIGHER), after(one)))))
        far = 2.0 + d
        out.append((f"higher, true 2 margins, sd {sd}: supported by the cap (power)",
                    *((run(far, HIGHER, lv)[0] == SUPPORTED).mean() for lv in (before(one, HIGHER), after(one)))))
    for kind in ("gaussian", "lognormal", "blow-ups", "t3"):
        d = 2.0 * skewed(kind, rng, (reps, SCHEDULE.cap))
        out.append((f"higher, true 0, sd 2, {kind}: false contradicted",
                    *((run(d, HIGHER, lv)[0] == CONTRADICTED).mean() for lv in (before(one, HIGHER), after(one)))))
    for expects, truths in (((NOT_LOWER, NOT_LOWER, SAME), (-1.0, -1.0, 1.0)),
                            ((NOT_LOWER, NOT_LOWER, HIGHER), (-1.0, -1.0, 0.0))):
        hit = {"before": np.zeros(reps, bool), "after": np.zeros(reps, bool)}
        for expect, truth in zip(expects, truths):
            d = truth + rng.standard_normal((reps, SCHEDULE.cap))
            hit["before"] |= run(d, expect, before(expects, expect))[0] == CONTRADICTED
            hit["after"] |= run(d, expect, after(expects))[0] == CONTRADICTED
        out.append((f"claim of {', '.join(expects)} at their edges: false contradicted",
                     hit["before"].mean(), hit["after"].mean()))
    for rho in (0.0, 0.5, 0.9):
        out.append((f"best of 18 arms on validation, all as good as the baseline, correlation {rho}: false supported",
                    selection(rho, reps, 5, before(one, LOWER)), selection(rho, reps, 5, after(one, ARMS))))
    out.append(("best of 18 arms, every arm 2 margins better, correlation 0.5: supported (power)",
                selection(0.5, reps, 6, before(one, LOWER), 2.0), selection(0.5, reps, 6, after(one, ARMS), 2.0)))
    return out


def seeds_saved(reps: int) -> list[tuple[str, float, float]]:
    """Mean seeds to a settled "equivalent" for a true difference of 0 ("higher" claimed), and the share settled."""
    rng = np.random.default_rng(38)
    out = []
    for sd in (0.25, 0.5, 0.75):
        d = sd * rng.standard_normal((reps, SCHEDULE.cap))
        old, new = run(d, HIGHER, before((HIGHER,), HIGHER)), run(d, HIGHER, after((HIGHER,)))
        out.append((f"true 0, sd {sd}: mean seeds read", float(old[1].mean()), float(new[1].mean())))
        out.append((f"true 0, sd {sd}: equivalent by the cap", float((old[0] == EQUIVALENT).mean()),
                    float((new[0] == EQUIVALENT).mean())))
    return out


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--reps", type=int, default=20_000, help="replications a case (default: 20000)")
    args = p.parse_args(argv)
    print("| case | before | after |\n|---|---|---|")
    for case, old, new in rows(args.reps):
        print(f"| {case} | {100 * old:.1f}% | {100 * new:.1f}% |")
    print("\n| best of 18 arms against the baseline | Bonferroni over the arms: supported | seeds | choose on 3 "
          "seeds, confirm on the rest: supported | seeds |\n|---|---|---|---|---|")
    for case, *values in choosing(args.reps):
        print(f"| {case} | {100 * values[0]:.1f}% | {values[1]:.1f} | {100 * values[2]:.1f}% | {values[3]:.1f} |")
    print("\n| equivalence (TOST) | before | after |\n|---|---|---|")
    for case, old, new in seeds_saved(args.reps):
        print(f"| {case} | {old:.2f} | {new:.2f} |" if "seeds" in case else f"| {case} | {100 * old:.1f}% | "
              f"{100 * new:.1f}% |")


if __name__ == "__main__":
    main()
