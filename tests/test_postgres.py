"""An Optuna study kept in PostgreSQL (``--optuna-storage``), on a server the test starts itself."""

from __future__ import annotations

import optuna
import pytest

from tests.pgserver import postgres_url  # noqa: F401 (the fixture)
from tests.studyrun import run_study, trial_states

ARGS = ["--search", "optuna", "--num-samples", "2", "--max-concurrent", "2", "--epochs", "2",
        "--hidden-size", "8", "--num-layers", "1", "--window", "10"]


@pytest.mark.slow
def test_q1_optuna_study_in_postgresql(tmp_path, postgres_url):  # noqa: F811
    log = tmp_path / "study.log"
    args = [*ARGS, "--optuna-storage", postgres_url, "--storage-path", str(tmp_path), "--name", "pg"]
    assert run_study("studies/q1.py", args, log) == 0, log.read_text()[-3000:]

    study = optuna.load_study(study_name="pg", storage=postgres_url)
    states, _ = trial_states(tmp_path / "pg")
    assert len(study.trials) == 2 and all(t.state.name == "COMPLETE" for t in study.trials)
    assert {t.user_attrs["tune_trial_id"] for t in study.trials} == set(states)
    assert all(sorted(t.intermediate_values) == [1, 2] for t in study.trials)
    assert not (tmp_path / "pg" / "optuna.db").exists()
    provenance = (tmp_path / "pg" / "provenance.json").read_text()
    assert "postgresql+psycopg2://test@127.0.0.1" in provenance

    # The same name again, without --resume: refused before Ray starts, the study untouched.
    assert run_study("studies/q1.py", args, log) == 2
    assert "already has trials: add --resume" in log.read_text().splitlines()[-1]
    assert len(optuna.load_study(study_name="pg", storage=postgres_url).trials) == 2
