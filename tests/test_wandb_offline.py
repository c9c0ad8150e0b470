"""W&B logging from a study with no network and no account: offline runs in the run folder, read back.

Each trial's W&B run is read back from its ``.wandb`` file (analysis/wandb_report/records.py): its group (the
study run's own), config, every epoch's metrics and its summary; the study run's W&B Report is built
offline (``--dry-run``) and checked against those runs.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

pytest.importorskip("wandb")

from tests.helpers import logged_when_written
from trainables.common.tracking import REPORT_JOB, TRIAL_JOB

SECRET = "local-0123456789abcdef0123456789abcdef01234567"


@pytest.fixture
def offline(monkeypatch, tmp_path):
    monkeypatch.setenv("WANDB_MODE", "offline")
    monkeypatch.setenv("WANDB_API_KEY", SECRET)  # must never reach a file
    monkeypatch.setenv("WANDB_SILENT", "true")
    monkeypatch.delenv("WANDB_DIR", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))  # no stored login or settings of the machine


def files_under(path: Path) -> list[Path]:
    return [p for p in path.rglob("*") if p.is_file()]


def test_wandb_flag_logs_trials_offline(ray_cluster, tmp_path, offline, capsys):
    from ray import tune

    from studies import adapter, flags
    from studies.q1 import STUDY
    from trainables.common import tracking

    def tiny_trainable(config):  # defined here so Ray ships it by value (workers cannot import tests/)
        for epoch in range(1, 3):
            tune.report({"epoch": epoch, "val/loss": config["x"] / epoch})

    args = flags.parser(STUDY).parse_args(
        ["--wandb", "--wandb-project", "proj", "--storage-path", str(tmp_path), "--name", "wb"])
    run_dir = str(tmp_path / "wb" / "run-1")
    callbacks, info = tracking.callbacks(args, run_dir, adapter.wandb_callback_type)
    assert info == {"project": "proj", "entity": None, "group": "wb/run-1", "mode": "offline"}
    assert "wandb sync" in capsys.readouterr().out
    tuner = tune.Tuner(tiny_trainable, param_space={"x": tune.grid_search([1.0, 2.0])},
                       run_config=tune.RunConfig(name="run-1", storage_path=str(tmp_path / "wb"), callbacks=callbacks))
    assert not tuner.fit().errors
    logged = logged_when_written(run_dir, 2)
    assert len(logged) == 2  # one W&B run per trial, in the run folder
    for run in sorted(logged, key=lambda r: r.config["x"]):
        x = run.config["x"]
        assert (run.group, run.job_type, run.project) == ("wb/run-1", TRIAL_JOB, "proj")
        assert [(r["epoch"], r["val/loss"]) for r in run.history] == [(1, x), (2, x / 2)]
        assert run.summary["val/loss"] == x / 2
    assert sorted(r.config["x"] for r in logged) == [1.0, 2.0]
    for p in files_under(tmp_path / "wb"):
        assert SECRET.encode() not in p.read_bytes(), f"API key written to {p}"


def test_without_flag_no_callback():
    from studies import flags
    from studies.q1 import STUDY
    from trainables.common import tracking

    args = flags.parser(STUDY).parse_args([])
    assert tracking.callbacks(args, "/tmp/x") == ([], None)


def test_wandb_report_offline_names_the_dry_run_and_wandb_sync(tmp_path, offline):
    from analysis.wandb_report.publish import build_report
    from tests.fakerun import q1_run
    from trainables.common import provenance

    run = q1_run(tmp_path / "q1" / "run-1")
    with pytest.raises(SystemExit, match="logged nothing to W&B.*run the study with --wandb$"):
        build_report(run, "proj")
    provenance.update(run, wandb={"project": "proj", "entity": None, "group": "q1/run-1", "mode": "offline"})
    with pytest.raises(SystemExit, match=r"^error: publishing a W&B Report needs a network.*--dry-run SPEC\.json.*"
                                         r"wandb sync .*offline-run-\*$") as exc:
        build_report(run, "proj")
    assert "\n" not in str(exc.value)
    with pytest.raises(SystemExit, match="--dry-run needs --entity and --project"):
        build_report(run, "proj", dry_run=tmp_path / "spec.json")


def test_mode_without_key_is_offline(monkeypatch, tmp_path):
    from trainables.common import tracking

    monkeypatch.delenv("WANDB_MODE", raising=False)
    monkeypatch.delenv("WANDB_API_KEY", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("WANDB_CONFIG_DIR", str(tmp_path / "cfg"))
    monkeypatch.setattr(tracking, "has_api_key", lambda: False)
    assert tracking.choose_mode()[0] == "offline"
    monkeypatch.setattr(tracking, "has_api_key", lambda: True)
    monkeypatch.setattr(tracking, "reachable", lambda *a, **k: False)
    mode, reason = tracking.choose_mode()
    assert mode == "offline" and "cannot reach" in reason


@pytest.mark.slow
def test_q1_smoke_study_with_wandb_offline(ray_cluster, tmp_path, offline):
    from analysis.__main__ import main as analysis_main
    from analysis.runs.read import read_run
    from analysis.wandb_report.publish import missing_keys, selected
    from studies import q1

    run_dir = Path(q1.main(["--smoke-test", "--wandb", "--storage-path", str(tmp_path), "--name", "smoke"]))
    group = f"smoke/{run_dir.name}"
    assert json.loads((run_dir / "provenance.json").read_text())["wandb"]["group"] == group
    logged = logged_when_written(run_dir, 4)
    run = read_run(run_dir)
    trials = {r.run_id: r for r in logged if r.job_type == TRIAL_JOB}
    assert set(trials) == set(run.trials["trial_id"])  # one W&B run a trial
    assert [r.job_type for r in logged if r not in trials.values()] == [REPORT_JOB]  # and the final plots, tables
    assert {r.group for r in logged} == {group}
    for trial in run.trials.to_dict("records"):
        wb = trials[trial["trial_id"]]
        config = {k.removeprefix("config/"): v for k, v in trial.items() if k.startswith("config/")}
        assert {k: wb.config[k] for k in config if k != "features"} == {k: v for k, v in config.items()
                                                                         if k != "features"}
        history = run.history[run.history["trial_id"] == trial["trial_id"]]
        assert [r["epoch"] for r in wb.history] == list(history["epoch"])  # every epoch
        for row, expected in zip(wb.history, history.to_dict("records")):
            for name in run.task.schema.epoch:
                if name in expected:
                    assert row[name] == pytest.approx(expected[name]), name
        assert wb.summary[run.test_metric()] == pytest.approx(trial[run.test_metric()])  # the final record
    for name in ("trials.parquet", "history.parquet", "claims.md", "report.html", "provenance.json"):
        assert (run_dir / name).exists()

    spec_path = tmp_path / "spec.json"
    analysis_main(["wandb-report", str(run_dir.parent), "--project", "rnn-studies", "--entity", "demo",
                   "--dry-run", str(spec_path)])
    spec = json.loads(spec_path.read_text())
    assert missing_keys(spec, logged) == []  # every panel plots keys the trials logged
    other = another_run_of_the_same_name(tmp_path / "other")
    assert other.group.startswith("smoke/") and other.group != group
    for runs in selected(spec, logged + [other]):
        assert runs and other not in runs and {r.group for r in runs} == {group}
    for p in files_under(run_dir):
        assert SECRET.encode() not in p.read_bytes(), f"API key written to {p}"


def another_run_of_the_same_name(folder: Path):
    """A trial's W&B run as another run of the study named "smoke" logs it: same keys, its own group."""
    import wandb

    run = wandb.init(project="rnn-studies", group="smoke/2000-01-01_00-00-00", job_type=TRIAL_JOB,
                     dir=str(folder), config={"cell": "gru"})
    run.log({"epoch": 1, "val/mape": 1.0})
    run.finish()
    (other,) = logged_when_written(folder, 1)
    return other


def test_api_key_found_in_netrc_or_env(monkeypatch, tmp_path):
    from trainables.common.tracking import has_api_key

    monkeypatch.delenv("WANDB_API_KEY", raising=False)
    monkeypatch.setenv("NETRC", str(tmp_path / "missing"))
    assert not has_api_key()
    rc = tmp_path / "netrc"
    rc.write_text("machine api.wandb.ai\n  login user\n  password abc123\n")
    rc.chmod(0o600)
    monkeypatch.setenv("NETRC", str(rc))
    assert has_api_key()
