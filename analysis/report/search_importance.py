"""What the Optuna study of a ``--search optuna`` run says: which searched parameters mattered.

The run's study is read from its database (``optuna.db`` in the run folder
unless provenance.json names another) with ``optuna.load_study``, the same
way optuna-dashboard reads it::

    optuna-dashboard sqlite:///results/q1/optuna.db

Importance is fANOVA's (``FanovaImportanceEvaluator``, seeded): the share of
the objective's variance over the COMPLETE trials that each parameter
explains. PRUNED trials (stopped early by ASHA) have no final value and are
left out, so the table needs at least two completed trials.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from trainables.common import provenance
from trainables.common.layout import OPTUNA_DB

IMPORTANCE_STEM = "param_importance"


def load_study(run_dir: str | Path, storage: str | None = None, study_name: str | None = None):
    """The run's Optuna study; None when the run has none (a grid or smoke-test run)."""
    import optuna

    run_dir = Path(run_dir)
    info = provenance.read(run_dir)
    study_name = study_name or info.get("optuna_study") or run_dir.name
    if storage is None:
        recorded = info.get("optuna_storage")
        if recorded and "***" not in recorded and not recorded.startswith("sqlite"):
            storage = recorded
        elif (run_dir / OPTUNA_DB).is_file():
            storage = f"sqlite:///{run_dir / OPTUNA_DB}"
        else:
            return None
    try:
        return optuna.load_study(study_name=study_name, storage=storage)
    except KeyError:  # no study of that name in the database
        return None


def param_importance(study, seed: int = 0) -> pd.DataFrame:
    """One row a searched parameter, most important first: importance (sums to 1) and the
    best COMPLETE trial's value of it. Empty below two completed trials."""
    import optuna
    from optuna.importance import FanovaImportanceEvaluator

    complete = study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.COMPLETE,))
    columns = ["importance", "best_value"]
    if len(complete) < 2 or not complete[0].params:
        return pd.DataFrame(columns=columns).rename_axis("parameter")
    scores = optuna.importance.get_param_importances(study, evaluator=FanovaImportanceEvaluator(seed=seed))
    best = study.best_trial.params
    table = pd.DataFrame({"importance": pd.Series(scores, dtype=float),
                          "best_value": pd.Series({k: best.get(k) for k in scores}, dtype=object)})
    return table.rename_axis("parameter").sort_values("importance", ascending=False)


def entries(run_dir: str | Path) -> list:
    """The report's part on an Optuna run's parameter importance; nothing for other runs."""
    from analysis.report.entries import Entry

    study = load_study(run_dir)
    if study is None:
        return []
    table = param_importance(study)
    states = pd.Series([t.state.name for t in study.get_trials(deepcopy=False)]).value_counts()
    note = (f"Optuna study `{study.study_name}`: " + ", ".join(f"{n} {s}" for s, n in states.items())
            + ". fANOVA importance over the COMPLETE trials (PRUNED ones, stopped by ASHA, have no final value).")
    if table.empty:
        note += " Fewer than two completed trials: no importance."
    shown = table.assign(importance=table["importance"].astype(float).round(3))
    return [Entry("Parameter importance", note, shown, IMPORTANCE_STEM)]
