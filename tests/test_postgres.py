"""An Optuna study kept in PostgreSQL (``--optuna-storage``), on a server the test starts itself."""

from __future__ import annotations

import optuna
import pytest

from tests.pgserver import postgres_url  # noqa: F401 (the fixture)
from tests.studyrun import run_study, trial_states
from trainables.common import runs
from trainables.common.layout import PROVENANCE_FILE

ARGS = ["--search", "optuna", "--num-samples", "2", "--max-concurrent", "2", "--epochs", "2",
        "--hidden-size", "8", "--num-layers", "1", "--window", "10"]


@pytest.mark.slow
def test_q1_optuna_study_in_postgresql(tmp_path, postgres_url):  # noqa: F811
    log = tmp_path / "study.log"
    args = [*ARGS, "--optuna-storage", postgres_url, "--storage-path", str(tmp_path), "--name", "pg"]
    assert run_study("studies/q1.py", args, log) == 0, log.read_text()[-3000:]

    first = runs.latest_id(str(tmp_path / "pg"))
    study = optuna.load_study(study_name=f"pg/{first}", storage=postgres_url)  # one Optuna study per run
    run_dir = tmp_path / "pg" / first
    states, _ = trial_states(run_dir)
    assert len(study.trials) == 2 and all(t.state.name == "COMPLETE" for t in study.trials)
    assert {t.user_attrs["tune_trial_id"] for t in study.trials} == set(states)
    assert all(sorted(t.intermediate_values) == [1, 2] for t in study.trials)
    assert not (run_dir / "optuna.db").exists()
    assert "postgresql+psycopg2://test@127.0.0.1" in (run_dir / PROVENANCE_FILE).read_text()

    # The same command again is a new run: its own folder and its own Optuna study, the first untouched.
    assert run_study("studies/q1.py", args, log) == 0, log.read_text()[-3000:]
    second = runs.latest_id(str(tmp_path / "pg"))
    assert second != first
    assert len(optuna.load_study(study_name=f"pg/{second}", storage=postgres_url).trials) == 2
    assert len(optuna.load_study(study_name=f"pg/{first}", storage=postgres_url).trials) == 2
