"""Resume after a killed driver: damaged state files recovered, stale checkpoint references repaired."""

from __future__ import annotations

import json
import pickle
from pathlib import Path

import pytest

from studies import adapter, q1, resume
from tests.studyrun import result_rows, trial_states
from trainables.common.layout import RESUME_BACKUP


def test_intact_tells_whole_files_from_cut_ones():
    data = pickle.dumps({"a": list(range(100))})
    assert resume.intact(data)
    assert not resume.intact(data[:-5])
    assert not resume.intact(b"")
    text = json.dumps({"trial_data": [["x", "y"]]}).encode()
    assert resume.intact(text)
    assert not resume.intact(text[:-3])


def write(folder: Path, name: str, data: bytes) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / name).write_bytes(data)


def test_a_damaged_snapshot_is_replaced_by_its_last_intact_copy(tmp_path):
    good = json.dumps({"trial_data": [], "n": 1}).encode()
    write(tmp_path, "tuner.pkl", pickle.dumps({"tuner": 1}))
    write(tmp_path, "experiment_state-2026.json", good)
    assert resume.backup(str(tmp_path)) == ["tuner.pkl", "experiment_state-2026.json"]
    assert resume.backup(str(tmp_path)) == []  # unchanged files are not copied again
    write(tmp_path, "experiment_state-2026.json", good[:-4])  # a kill during Ray's in-place write
    assert resume.backup(str(tmp_path)) == []  # a damaged file never overwrites the intact copy
    notes = resume.recover(str(tmp_path)).notes
    assert (tmp_path / "experiment_state-2026.json").read_bytes() == good
    assert (tmp_path / "damaged-experiment_state-2026.json").read_bytes() == good[:-4]
    assert any("restored" in n for n in notes)
    assert resume.recover(str(tmp_path)) == resume.Mended([])


def test_a_damaged_file_without_a_copy_is_refused_in_one_line(tmp_path):
    write(tmp_path, "tuner.pkl", pickle.dumps({"tuner": 1})[:-3])
    write(tmp_path, "experiment_state-2026.json", b"{}")
    with pytest.raises(resume.ResumeError, match=r"tuner.pkl is damaged and no intact copy is left") as info:
        resume.recover(str(tmp_path))
    assert "\n" not in str(info.value)


def test_a_damaged_tuner_file_before_any_snapshot_means_starting_over(tmp_path):
    write(tmp_path, "tuner.pkl", pickle.dumps({"tuner": 1})[:-3])
    mended = resume.recover(str(tmp_path))
    assert mended.start_over and mended.notes == ["tuner.pkl was damaged (cut short); kept as damaged-tuner.pkl"]


def test_an_older_sessions_snapshot_is_used_when_the_newest_is_damaged_and_has_no_copy(tmp_path):
    write(tmp_path, "tuner.pkl", pickle.dumps({"tuner": 1}))
    write(tmp_path, "experiment_state-2026-01.json", b'{"trial_data": []}')
    write(tmp_path, "experiment_state-2026-02.json", b'{"trial_da')
    resume.recover(str(tmp_path))
    assert resume.state_files(str(tmp_path))["experiment_state-*.json"] == "experiment_state-2026-01.json"


STUDY_ARGS = ["--smoke-test", "--cell", "gru", "--set", "epochs=6", "--set", "checkpoint_every=2"]


def final_row(run_dir: Path) -> dict:
    (trial_dir,) = run_dir.glob("train_stock_*")
    return result_rows(trial_dir)[-1]


def test_a_snapshot_naming_a_deleted_checkpoint_resumes_from_the_next_one_exactly(ray_cluster, tmp_path):
    """Checkpoint N+1 finished, N deleted (num_to_keep), the snapshot still naming N: the resumed trial
    ends TERMINATED with the same numbers as an uninterrupted run."""
    base = [*STUDY_ARGS, "--storage-path", str(tmp_path)]
    clean = Path(q1.main([*base, "--name", "clean"]))
    # The worker dies as epoch 5 starts: checkpoint_000001 (epoch 4) is on disk, checkpoint_000000 (epoch 2) deleted.
    broken = Path(q1.main([*base, "--name", "broken", "--set", "fail_at_epoch=5"]))
    (trial_dir,) = broken.glob("train_stock_*")
    assert sorted(p.name for p in trial_dir.glob("checkpoint_*")) == ["checkpoint_000001"]
    snapshot = adapter.read_snapshot(str(broken))
    (trial,) = snapshot.trials
    assert trial.status != "TERMINATED" and trial.checkpoint_name == "checkpoint_000001"
    trial.point_at("checkpoint_000000", {"training_iteration": 2})  # the stale snapshot of the window
    snapshot.write()

    q1.main([*base, "--name", "broken", "--set", "fail_at_epoch=5", "--resume"])
    states, _ = trial_states(broken)
    assert [s["status"] for s in states.values()] == ["TERMINATED"]
    epochs = [r["epoch"] for r in result_rows(trial_dir)]
    assert epochs == [1, 2, 3, 4, 5, 6]  # continued from epoch 4, no epoch lost or repeated
    clean_final, resumed_final = final_row(clean), final_row(broken)
    for metric in ("val/mape", "test/mape", "val/loss", "test/loss"):
        assert resumed_final[metric] == clean_final[metric], metric  # exact resume: identical numbers


def test_a_trial_whose_checkpoints_are_all_gone_starts_over(ray_cluster, tmp_path):
    base = [*STUDY_ARGS, "--storage-path", str(tmp_path)]
    clean = Path(q1.main([*base, "--name", "clean"]))
    broken = Path(q1.main([*base, "--name", "broken", "--set", "fail_at_epoch=5"]))
    (trial_dir,) = broken.glob("train_stock_*")
    for ckpt in trial_dir.glob("checkpoint_*"):
        for f in ckpt.iterdir():
            f.unlink()
        ckpt.rmdir()
    q1.main([*base, "--name", "broken", "--set", "fail_at_epoch=5", "--resume"])
    states, _ = trial_states(broken)
    assert [s["status"] for s in states.values()] == ["TERMINATED"]
    assert final_row(broken)["test/mape"] == final_row(clean)["test/mape"]
    assert (broken / RESUME_BACKUP).is_dir()


def test_resume_with_a_damaged_snapshot_recovers_it_from_its_copy(ray_cluster, tmp_path, capfd):
    run = Path(q1.main(["--smoke-test", "--storage-path", str(tmp_path), "--name", "cut"]))
    (state,) = run.glob("experiment_state-*.json")
    state.write_bytes(state.read_bytes()[:-50])  # what a kill during Ray's in-place write leaves
    capfd.readouterr()
    assert Path(q1.main(["--smoke-test", "--storage-path", str(tmp_path), "--name", "cut", "--resume"])) == run
    out = capfd.readouterr().out
    assert f"{state.name} was damaged" in out and "restored from its last intact copy" in out
    assert (run / f"damaged-{state.name}").exists()
    states, _ = trial_states(run)
    assert len(states) == 3 and {s["status"] for s in states.values()} == {"TERMINATED"}


def test_a_driver_killed_before_the_first_snapshot_resumes_every_planned_trial(ray_cluster, tmp_path, capfd):
    """Tune's own restore of a run without a snapshot restarts it with one trial (its resume passes no
    num_samples); the run must start over with all of them instead."""
    run = Path(q1.main(["--smoke-test", "--storage-path", str(tmp_path), "--name", "early"]))
    # What a kill after tuner.pkl and before Tune's first snapshot leaves: the Tuner file and trial folders.
    for pattern in ("experiment_state-*", "search_gen_state-*", "searcher-state-*", f"{RESUME_BACKUP}/*"):
        for path in run.glob(pattern):
            path.unlink()
    assert (run / "tuner.pkl").exists()
    capfd.readouterr()
    assert Path(q1.main(["--smoke-test", "--storage-path", str(tmp_path), "--name", "early", "--resume"])) == run
    assert "nothing saved yet" in capfd.readouterr().out
    states, _ = trial_states(run)
    assert len(states) == 3 and {s["status"] for s in states.values()} == {"TERMINATED"}
