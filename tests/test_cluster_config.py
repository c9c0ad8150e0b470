"""The cluster-launcher configs pass Ray's own validation (offline, no cloud account)."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
import yaml
from ray.autoscaler._private.util import prepare_config, validate_config

CLUSTER = Path(__file__).resolve().parents[1] / "cluster"


def load(name: str) -> dict:
    return yaml.safe_load((CLUSTER / name).read_text())


def prepared(raw: dict) -> dict:
    config = prepare_config(copy.deepcopy(raw))
    validate_config(config)
    return config


def test_gpu_yaml_is_a_valid_aws_cluster():
    config = prepared(load("gpu.yaml"))
    assert config["provider"]["type"] == "aws"
    types = config["available_node_types"]
    head = types[config["head_node_type"]]
    assert head["resources"].get("CPU") == 0, "trials must not land on the head"
    gpu = {k: v for k, v in types.items() if "gpu" in k}
    assert gpu and all("min_workers" in v and "max_workers" in v for v in gpu.values())
    assert any(v["node_config"].get("InstanceMarketOptions", {}).get("MarketType") == "spot" for v in gpu.values())
    assert sum(v["min_workers"] for v in types.values()) <= config["max_workers"]
    assert config["idle_timeout_minutes"] > 0


def test_gpu_yaml_image_matches_installed_ray():
    import ray

    docker = load("gpu.yaml")["docker"]
    for image in (docker["head_image"], docker["worker_image"]):
        assert image.startswith(f"rayproject/ray:{ray.__version__}-"), image


@pytest.mark.parametrize("name", ["gpu.yaml", "local.yaml"])
def test_project_is_synced_installed_and_stores_results_remotely(name):
    config = prepared(load(name))
    assert "~/rnn-studies" in config["file_mounts"]
    commands = " ".join(config["setup_commands"] + config["head_setup_commands"] + config["worker_setup_commands"])
    assert "rnn-studies[cluster]" in commands
    assert "STUDY_STORAGE_PATH=" in commands and "RAY_ADDRESS=auto" in commands
    assert ".venv" in config["rsync_exclude"]


def runs_trials(node_type: dict) -> bool:
    return node_type.get("resources", {}).get("CPU", 1) != 0  # the head advertises 0 CPUs


def without_profile(types: dict) -> list[str]:
    """Node types that run trials but have no instance profile to write the bucket with."""
    return [name for name, t in types.items() if runs_trials(t) and "IamInstanceProfile" not in t["node_config"]]


def test_every_node_type_that_runs_trials_may_write_the_bucket():
    config = prepared(load("gpu.yaml"))
    types = config["available_node_types"]
    assert without_profile(types) == []
    profiles = {str(t["node_config"]["IamInstanceProfile"]) for t in types.values() if runs_trials(t)}
    assert len(profiles) == 1  # one profile, edited in one place
    raw = load("gpu.yaml")  # the check can fail: a worker type without one is named
    del raw["available_node_types"]["gpu_ondemand"]["node_config"]["IamInstanceProfile"]
    assert without_profile(prepared(raw)["available_node_types"]) == ["gpu_ondemand"]


def test_gpu_yaml_results_go_to_object_storage():
    commands = " ".join(load("gpu.yaml")["setup_commands"])
    assert "STUDY_STORAGE_PATH=s3://" in commands


def test_local_yaml_is_a_valid_local_cluster():
    config = prepared(load("local.yaml"))
    assert config["provider"]["type"] == "local"
    assert config["provider"]["head_ip"] and len(config["provider"]["worker_ips"]) == 2


@pytest.mark.parametrize("name", ["gpu.yaml", "local.yaml"])
def test_validation_rejects_a_broken_config(name):
    """The check can fail: an unknown key (a typo) is refused."""
    import jsonschema

    raw = load(name)
    raw["idle_timout_minutes"] = 5
    with pytest.raises(jsonschema.ValidationError):
        prepared(raw)
