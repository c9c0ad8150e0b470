"""The .wandb format as analysis/wandb_report/records.py reads it, checked on files the installed wandb writes."""

from __future__ import annotations

import pytest

pytest.importorskip("wandb")

from analysis.wandb_report.records import RecordError, read_logged
from tests.helpers import logged_when_written

BIG = "x" * 70_000  # one record over two 32 KiB blocks: its first, middle and last pieces


@pytest.fixture
def offline(monkeypatch, tmp_path):
    monkeypatch.setenv("WANDB_MODE", "offline")
    monkeypatch.setenv("WANDB_SILENT", "true")
    monkeypatch.delenv("WANDB_DIR", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))


@pytest.fixture
def written(offline, tmp_path):
    """An offline W&B run written by the installed wandb: config, three steps (one with a long text), a summary."""
    import wandb

    run = wandb.init(project="proj", group="q1/2026-01-02_03-04-05", job_type="trial", dir=str(tmp_path),
                     config={"lr": 0.01, "cell": "gru", "features": ["close"]})
    for epoch in (1, 2, 3):
        run.log({"epoch": epoch, "val/loss": 1.0 / epoch, **({"note": BIG} if epoch == 2 else {})})
    run.summary["test/mape"] = 1.25
    run.finish()
    return tmp_path


def test_an_offline_run_reads_back_as_written(written):
    (run,) = logged_when_written(written, 1)
    assert run.exited
    assert (run.group, run.job_type, run.project) == ("q1/2026-01-02_03-04-05", "trial", "proj")
    assert {k: run.config[k] for k in ("lr", "cell", "features")} == {"lr": 0.01, "cell": "gru", "features": ["close"]}
    rows = [{k: v for k, v in row.items() if not k.startswith("_")} for row in run.history]
    assert rows == [{"epoch": 1, "val/loss": 1.0}, {"epoch": 2, "val/loss": 0.5, "note": BIG},
                    {"epoch": 3, "val/loss": 1.0 / 3}]
    assert run.summary["test/mape"] == 1.25 and run.summary["val/loss"] == 1.0 / 3
    assert run.numeric("val/loss") and not run.numeric("note") and not run.numeric("absent")


def test_a_damaged_file_is_an_error_naming_it(written):
    logged_when_written(written, 1)
    (folder,) = [p for p in (written / "wandb").glob("offline-run-*")]
    (path,) = folder.glob("run-*.wandb")
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))
    with pytest.raises(RecordError, match="checksum mismatch at byte"):
        read_logged(folder)
    path.write_bytes(b"not a W&B file")
    with pytest.raises(RecordError, match="not a .wandb file"):
        read_logged(folder)


def test_an_unknown_chunk_type_is_an_error_naming_it(written):
    """A chunk whose checksum holds but whose type is none of full, first, middle, last: not guessed at."""
    import struct
    import zlib

    logged_when_written(written, 1)
    (folder,) = [p for p in (written / "wandb").glob("offline-run-*")]
    (path,) = folder.glob("run-*.wandb")
    data = bytearray(path.read_bytes())
    _, length, _ = struct.unpack_from("<IHB", data, 7)  # the first chunk, after the 7-byte file header
    body = bytes(data[14:14 + length])
    struct.pack_into("<IHB", data, 7, zlib.crc32(body, zlib.crc32(bytes([9]))) & 0xFFFFFFFF, length, 9)
    path.write_bytes(bytes(data))
    with pytest.raises(RecordError, match="unknown chunk type 9 at byte 7"):
        read_logged(folder)
