"""The cluster-launcher configs pass Ray's own validation and the project's static checks (offline, no cloud
account): an image on every cloud node type, the autoscaler version pinned, the locked versions installed, no
value left as shipped without one line naming it."""

from __future__ import annotations

import copy
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from ray.autoscaler._private.util import prepare_config, validate_config

from studies import placement
from tests.test_lock import makefile_var

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10: pytest brings tomli there
    import tomli as tomllib

ROOT = Path(__file__).resolve().parents[1]
CLUSTER = ROOT / "cluster"
# AWS's Deep Learning Base AMI with the NVIDIA driver (Ubuntu 22.04), its newest release, read by EC2 at launch.
DLAMI = "resolve:ssm:/aws/service/deeplearning/ami/x86_64/base-oss-nvidia-driver-gpu-ubuntu-22.04/latest/ami-id"


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
    synced = config["file_mounts"]["~/rnn-studies"]
    # The whole project (local.yaml, excluding what is not source) or `make cluster-files`'s copy (gpu.yaml).
    assert ".venv" in config["rsync_exclude"] if synced == "." else synced == "build/cluster"


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


YAMLS = sorted(p.name for p in CLUSTER.glob("*.yaml"))
LOCK = (ROOT / "requirements" / "lock.txt").read_text()


def locked(name: str) -> str:
    match = re.search(rf"^{name}==(\S+)$", LOCK, re.MULTILINE)
    assert match, f"requirements/lock.txt pins no {name}"
    return match.group(1)


def commands_of(config: dict) -> list[str]:
    keys = ("initialization_commands", "setup_commands", "head_setup_commands", "worker_setup_commands",
            "head_start_ray_commands", "worker_start_ray_commands")
    return [c for k in keys for c in config.get(k) or []]


def test_there_are_cluster_yamls_to_check():
    assert YAMLS == ["gpu.yaml", "local.yaml"]


@pytest.mark.parametrize("name", YAMLS)
def test_every_node_type_of_a_cloud_cluster_names_its_image(name):
    config = prepared(load(name))
    if config["provider"]["type"] != "aws":
        pytest.skip("machines you own bring their own system")
    images = {t: n["node_config"].get("ImageId") for t, n in config["available_node_types"].items()}
    # Without one Ray takes its default Deep Learning AMI (Ubuntu 18.04, CUDA 11.2), too old for the GPU image.
    assert all(images.values()), images
    assert set(images.values()) == {DLAMI}, images


@pytest.mark.parametrize("name", YAMLS)
def test_the_autoscaler_version_is_pinned_to_v1(name):
    heads = [c for c in load(name)["head_start_ray_commands"] if "ray start --head" in c]
    assert len(heads) == 1 and "RAY_enable_autoscaler_v2=0 ray start --head" in heads[0], heads
    assert "--autoscaling-config=~/ray_bootstrap_config.yaml" in heads[0]


@pytest.mark.parametrize("name", YAMLS)
def test_nodes_install_the_locked_ray_python_and_torch(name):
    config = load(name)
    torch = locked("torch")
    assert torch == makefile_var("TORCH")
    pins = re.findall(r"torch==(\S+)", " ".join(commands_of(config)))
    assert pins and set(pins) == {torch}, pins
    python = re.search(r"autogenerated by pip-compile with Python (\d+)\.(\d+)", LOCK).groups()
    for image in (config.get("docker") or {}).values():
        if isinstance(image, str) and image.startswith("rayproject/"):
            assert image.startswith(f"rayproject/ray:{locked('ray')}-py{''.join(python)}-"), image


@pytest.mark.parametrize("name", YAMLS)
def test_a_yaml_left_as_shipped_is_refused_in_one_line_naming_what_to_edit(name):
    raw = load(name)
    line = placement.placeholders(raw)
    if name == "gpu.yaml":
        assert line is not None and "my-rnn-studies" in line and "\n" not in line
    edited = [p.read_text() for p in (CLUSTER / name, *sorted((CLUSTER / "iam").glob("*.json")))]
    edited = [text.replace("my-rnn-studies", "lab-runs").replace("ACCOUNT", "123456789012") for text in edited]
    assert placement.placeholders({"files": edited}) is None  # docs/cluster.md's edits leave none


def test_the_gpu_worker_setup_fails_loudly_without_cuda():
    """The last worker setup step, run here, where torch has no CUDA: a non-zero exit and a message."""
    check = load("gpu.yaml")["worker_setup_commands"][-1]
    assert "torch.cuda.is_available()" in check
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
           "CUDA_VISIBLE_DEVICES": ""}
    done = subprocess.run(["bash", "-c", check], check=False, capture_output=True, text=True, env=env, timeout=120)
    assert done.returncode == 1 and "CUDA is not available in this container" in done.stderr, done


def test_the_nodes_get_the_projects_sources_and_nothing_else(tmp_path):
    copy = tmp_path / "cluster-files"
    subprocess.run(["make", "-s", "cluster-files", f"CLUSTER_FILES={copy}"], cwd=ROOT, check=True, timeout=120)
    assert sorted(p.name for p in copy.iterdir()) == ["README.md", "analysis", "pyproject.toml", "requirements",
                                                      "studies", "trainables"]
    assert not list(copy.rglob("__pycache__")) and (copy / "requirements" / "lock.txt").is_file()
    packages = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"]["find"]
    assert {p.rstrip("*") for p in packages["include"]} <= {p.name for p in copy.iterdir()}
