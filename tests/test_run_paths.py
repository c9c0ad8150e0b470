"""Every README command that takes a run accepts the NAME folder, its ``latest`` and the RUN_ID folder.

Locally ``latest`` is a symbolic link; on object storage (here fsspec's in-process ``memory://``) it is a
text file holding the run id. The analysis commands run in this process on both.
"""

from __future__ import annotations

import pyarrow.fs as pafs
import pytest
from fakerun import q1_run

from analysis.__main__ import main as analysis_main
from analysis.runs.read import read_run
from trainables.common import runs, storage

RUN_ID = "2026-01-02_00-00-00"
OLDER = "2026-01-01_00-00-00"
FORMS = ("name", "latest", "run_id")


def name_folder(root) -> str:
    """A NAME folder with two runs, ``latest`` naming the newer (the older is 5 points worse)."""
    q1_run(root / "q1" / OLDER, seeds=2, shift=5.0)
    q1_run(root / "q1" / RUN_ID, seeds=3)
    runs.set_latest(str(root / "q1"), RUN_ID)
    return str(root / "q1")


def on_memory(root, tag: str) -> str:
    """The same NAME folder on ``memory://``, ``latest`` a text file as on object storage."""
    pytest.importorskip("fsspec")
    local = name_folder(root / "local")
    uri = f"memory://{tag}/q1"
    fs, inner = storage.resolve(uri)
    for run_id in (OLDER, RUN_ID):
        pafs.copy_files(f"{local}/{run_id}", f"{inner}/{run_id}", source_filesystem=pafs.LocalFileSystem(),
                        destination_filesystem=fs)
    runs.set_latest(uri, RUN_ID)
    assert storage.read_text(f"{uri}/latest") == RUN_ID + "\n"
    return uri


def form(name_dir: str, which: str) -> str:
    return {"name": name_dir, "latest": storage.join(name_dir, runs.LATEST),
            "run_id": storage.join(name_dir, RUN_ID)}[which]


@pytest.mark.parametrize("which", FORMS)
def test_one_resolver_finds_the_newest_run_locally_and_on_object_storage(tmp_path, which):
    local = name_folder(tmp_path / "a")
    uri = on_memory(tmp_path / "b", f"resolve-{which}-{tmp_path.name}")
    assert runs.resolve(form(local, which)).endswith(RUN_ID) and runs.resolve(form(uri, which)) == f"{uri}/{RUN_ID}"
    assert read_run(form(local, which)).path.name == RUN_ID
    assert read_run(form(local, which) + "/").path.name == RUN_ID  # as a shell completes a folder


def test_a_folder_without_a_run_is_one_line(tmp_path):
    (tmp_path / "q1").mkdir()
    (tmp_path / "q1" / runs.LATEST).write_text("gone\n")  # names a run that is not there
    for path in (tmp_path / "q1", tmp_path / "q1" / runs.LATEST, tmp_path / "nothing"):
        with pytest.raises(FileNotFoundError, match="no study.json and no runs under it"):
            runs.resolve(path)


@pytest.mark.parametrize("where", ["local", "memory"])
@pytest.mark.parametrize("which", FORMS)
def test_report_builds_the_newest_runs_report(tmp_path, capsys, which, where):
    name_dir = name_folder(tmp_path) if where == "local" else on_memory(tmp_path, f"report-{which}-{tmp_path.name}")
    analysis_main(["report", form(name_dir, which)])
    run_dir = storage.join(name_dir, RUN_ID)
    assert f"Report: {run_dir}/report.html" in capsys.readouterr().out
    for run_id, written in ((RUN_ID, True), (OLDER, False)):
        assert (storage.read_text(storage.join(name_dir, run_id, "report.md")) is not None) == written
    assert "GRU > LSTM > RNN" in storage.read_text(f"{run_dir}/claims.md")


@pytest.mark.parametrize("where", ["local", "memory"])
def test_claims_compare_and_wandb_report_take_every_form(tmp_path, capsys, where):
    name_dir = name_folder(tmp_path) if where == "local" else on_memory(tmp_path, f"cmds-{tmp_path.name}")
    paths = [form(name_dir, which) for which in FORMS]
    analysis_main(["claims", *paths])
    printed = capsys.readouterr().out
    assert printed.count("[   supported] GRU > LSTM > RNN") == 3 and printed.count(RUN_ID) == 3
    for a, b in ((paths[0], paths[1]), (paths[1], paths[2])):
        analysis_main(["compare", a, b])
        assert "B − A +0" in capsys.readouterr().out  # the same (newest) run on both sides, never the older
    for path in paths:
        with pytest.raises(SystemExit, match=f"{RUN_ID} logged nothing to W&B"):  # found the newest run, then refused
            analysis_main(["wandb-report", path, "--project", "p"])


def test_the_report_aliases_are_the_report(tmp_path, capsys):
    name_dir = name_folder(tmp_path)
    for command, which in (("tables", "name"), ("html", "latest")):
        analysis_main([command, form(name_dir, which)])
        assert f"Report: {form(name_dir, 'run_id')}/report.html" in capsys.readouterr().out
