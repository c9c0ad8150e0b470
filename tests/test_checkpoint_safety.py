"""What resuming leans on: checkpoints written whole and loaded without running pickled code, --set and the
storage path parsed before Ray starts, mixed precision a no-op on the CPU."""

from __future__ import annotations

import pytest
import torch

from studies import flags, launch, q1
from trainables.common import checkpoint, runtime


def test_set_parses_json_values_and_rejects_bad_items(capsys):
    parser = flags.parser(q1.STUDY)
    args = parser.parse_args(["--set", "checkpoint_every=1", "--set", "cell=gru", "--set", "amp=true"])
    assert flags.overrides(args) == {"amp": True, "checkpoint_every": 1, "cell": "gru"}
    with pytest.raises(SystemExit):
        flags.overrides(parser.parse_args(["--set", "no-equals-sign"]))
    with pytest.raises(SystemExit):  # an unknown field fails before Ray starts, naming it
        launch.prepare(q1.STUDY, ["--set", "chekpoint_every=1", "--storage-path", "/tmp/never-written"])
    assert "unknown config field 'chekpoint_every'" in capsys.readouterr().err


def test_storage_path_default_comes_from_the_environment(monkeypatch):
    monkeypatch.setenv(flags.STORAGE_ENV, "s3://bucket/runs")
    assert flags.parser(q1.STUDY).parse_args([]).storage_path == "s3://bucket/runs"


def test_mixed_precision_is_a_no_op_on_cpu():
    mp = runtime.MixedPrecision(torch.device("cpu"), requested=True)
    assert not mp.enabled
    model = torch.nn.Linear(3, 1)
    opt = torch.optim.SGD(model.parameters(), lr=0.5)
    with mp.autocast():
        out = model(torch.ones(2, 3))
    assert out.dtype == torch.float32
    before = model.weight.detach().clone()
    mp.step(out.pow(2).mean(), opt)
    assert not torch.equal(before, model.weight)


def test_crash_mid_write_keeps_the_previous_checkpoint(tmp_path, monkeypatch):
    checkpoint.save_state(tmp_path, {"epoch": 1})

    def torn_write(obj, fh):
        fh.write(b"partial")
        raise OSError("disk full")

    monkeypatch.setattr(torch, "save", torn_write)
    with pytest.raises(OSError):
        checkpoint.save_state(tmp_path, {"epoch": 2})
    assert checkpoint.load_state(tmp_path)["epoch"] == 1
    assert [p.name for p in tmp_path.iterdir()] == [checkpoint.STATE_FILE]


class Payload:  # stands for arbitrary code a pickle could run
    pass


def test_checkpoints_load_without_running_pickled_code(tmp_path):
    torch.save({"epoch": 1, "evil": Payload()}, tmp_path / checkpoint.STATE_FILE)
    with pytest.raises(Exception, match="weights_only|Unsupported global"):
        checkpoint.load_state(tmp_path)
