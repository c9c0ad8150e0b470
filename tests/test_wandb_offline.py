"""W&B logging from a study with no network and no account: offline runs in the run folder."""

from __future__ import annotations

from pathlib import Path

import pytest

pytest.importorskip("wandb")

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

    from studies import flags
    from studies.q1 import STUDY
    from trainables.common import tracking

    def tiny_trainable(config):  # defined here so Ray ships it by value (workers cannot import tests/)
        for epoch in range(1, 3):
            tune.report({"epoch": epoch, "val/loss": config["x"] / epoch})

    args = flags.parser(STUDY).parse_args(
        ["--wandb", "--wandb-project", "proj", "--storage-path", str(tmp_path), "--name", "wb"])
    run_dir = str(tmp_path / "wb")
    callbacks, info = tracking.callbacks(args, run_dir)
    assert info == {"project": "proj", "group": "wb", "mode": "offline"}
    assert "wandb sync" in capsys.readouterr().out
    tuner = tune.Tuner(tiny_trainable, param_space={"x": tune.grid_search([1.0, 2.0])},
                       run_config=tune.RunConfig(name="wb", storage_path=str(tmp_path), callbacks=callbacks))
    assert not tuner.fit().errors
    runs = sorted(Path(run_dir, "wandb").glob("offline-run-*"))
    assert len(runs) == 2  # one W&B run per trial, in the run folder
    assert all(list(r.glob("*.wandb")) for r in runs)
    logged = b" ".join(p.read_bytes() for r in runs for p in r.glob("*.wandb"))
    assert b"val/loss" in logged  # every trial's reported metric is in its W&B run
    for p in files_under(tmp_path / "wb"):
        assert SECRET.encode() not in p.read_bytes(), f"API key written to {p}"


def test_without_flag_no_callback():
    from studies import flags
    from studies.q1 import STUDY
    from trainables.common import tracking

    args = flags.parser(STUDY).parse_args([])
    assert tracking.callbacks(args, "/tmp/x") == ([], None)


def test_wandb_report_offline_points_to_static_report(tmp_path, offline):
    from analysis.wandb_report import build_report

    with pytest.raises(SystemExit, match="(?s)needs a network.*python -m analysis html"):
        build_report(tmp_path, "proj")


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
    from studies import q1

    run = Path(q1.main(["--smoke-test", "--wandb", "--storage-path", str(tmp_path), "--name", "smoke"]))
    runs = sorted(p.name for p in (run / "wandb").glob("offline-run-*"))
    assert len(runs) == 4  # one a trial, and the final plots, tables and claims
    for name in ("trials.parquet", "history.parquet", "claims.md", "report.html", "provenance.json"):
        assert (run / name).exists()
    for p in files_under(run):
        assert SECRET.encode() not in p.read_bytes(), f"API key written to {p}"


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
