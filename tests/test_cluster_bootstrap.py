"""`ray up`'s AWS bootstrap of cluster/gpu.yaml, under moto (no AWS account, nothing leaves this machine).

docs/cluster.md's IAM commands run first, as written, against moto's IAM (each `aws iam` line as the boto3 call
it names); then the config goes through what `ray up` does with it before the head starts: Ray's
``prepare_config``, the provider's resources filled in from EC2's instance types, and ``bootstrap_aws``.
"""

from __future__ import annotations

import fnmatch
import json
import shlex
from pathlib import Path

import pytest
import yaml

pytest.importorskip("boto3", reason="the AWS bootstrap needs boto3 (the cluster's launcher installs it)")
moto = pytest.importorskip("moto", reason="the dev extra's moto stands in for AWS")

from ray.autoscaler._private.aws.config import bootstrap_aws
from ray.autoscaler._private.aws.node_provider import AWSNodeProvider
from ray.autoscaler._private.util import prepare_config

from studies import placement

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs" / "cluster.md"
IAM_MARK = "<!-- iam recipe -->"
BUCKET = "lab-rnn-runs"  # the test's EDIT values
REGION = "us-west-2"


def iam_recipe() -> list[list[str]]:
    """The words of docs/cluster.md's IAM commands, in order."""
    text = DOCS.read_text()
    assert IAM_MARK in text, f"{DOCS} lost its {IAM_MARK} block"
    block = text.split(IAM_MARK, 1)[1].split("```bash\n", 1)[1].split("```", 1)[0]
    lines = [line.split("  #", 1)[0].strip() for line in block.replace("\\\n", " ").splitlines()]
    return [shlex.split(line) for line in lines if line]


def edited(text: str) -> str:
    """A file as the docs' edit step leaves it."""
    return text.replace("my-rnn-studies", BUCKET)


def aws_call(client, words: list[str]):
    """``aws iam create-role --role-name x ...`` as ``client.create_role(RoleName="x", ...)``; ``file://`` values
    read from the edited file."""
    assert words[:2] == ["aws", "iam"], words
    method = words[2].replace("-", "_")
    args, flags = {}, words[3:]
    for flag, value in zip(flags[::2], flags[1::2]):
        assert flag.startswith("--"), words
        if flag in ("--query", "--output"):  # the CLI's own printing
            continue
        if value.startswith("file://"):
            value = edited((ROOT / value[len("file://"):]).read_text())
        args["".join(part.capitalize() for part in flag[2:].split("-"))] = value
    return getattr(client, method)(**args)


@pytest.fixture
def aws(monkeypatch, tmp_path):
    for key, value in {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
                       "AWS_SESSION_TOKEN": "testing", "AWS_DEFAULT_REGION": REGION,
                       "MOTO_IAM_LOAD_MANAGED_POLICIES": "true"}.items():  # AWS's own policies, AmazonEC2FullAccess
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("HOME", str(tmp_path))  # the key pair the bootstrap creates lands in ~/.ssh
    with moto.mock_aws():
        yield


def allows(policy: dict, action: str, resource: str) -> bool:
    for statement in policy["Statement"]:
        actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
        resources = statement["Resource"] if isinstance(statement["Resource"], list) else [statement["Resource"]]
        if statement["Effect"] == "Allow" and action in actions and any(fnmatch.fnmatch(resource, r)
                                                                        for r in resources):
            return True
    return False


def role_policies(iam, role: str) -> tuple[list[dict], list[str]]:
    inline = [iam.get_role_policy(RoleName=role, PolicyName=name)["PolicyDocument"]
              for name in iam.list_role_policies(RoleName=role)["PolicyNames"]]
    attached = [p["PolicyArn"] for p in iam.list_attached_role_policies(RoleName=role)["AttachedPolicies"]]
    return [p if isinstance(p, dict) else json.loads(p) for p in inline], attached


def test_the_documented_iam_lets_the_head_start_workers_with_their_profile(aws):
    import boto3

    iam = boto3.client("iam")
    for words in iam_recipe():
        aws_call(iam, words)
    account = boto3.client("sts").get_caller_identity()["Account"]

    config = yaml.safe_load(edited((ROOT / "cluster" / "gpu.yaml").read_text()))
    assert placement.placeholders(config) is None
    filled = AWSNodeProvider.fillout_available_node_types_resources(prepare_config(config))
    booted = bootstrap_aws(filled)
    types = booted["available_node_types"]

    # The AMI: the GPU one on every node type, not Ray's default Ubuntu 18.04 image.
    assert {t["node_config"]["ImageId"] for t in types.values()} == {
        "resolve:ssm:/aws/service/deeplearning/ami/x86_64/base-oss-nvidia-driver-gpu-ubuntu-22.04/latest/ami-id"}
    # The GPUs, CPUs and accelerator of a g5.xlarge, from EC2's instance types; the head keeps its 0 CPUs.
    gpu = types["gpu_spot"]["resources"]
    assert (gpu["GPU"], gpu["CPU"], gpu["accelerator_type:A10G"]) == (1, 4, 1)
    assert types["head"]["resources"] == {"CPU": 0}
    assert placement.grown_slots(booted, 1.0, 0.5) == 8  # four workers, two trials of half a GPU each

    # The head's profile is the documented one (Ray made none of its own), and so are the workers'.
    head_profile = types["head"]["node_config"]["IamInstanceProfile"]
    assert head_profile == {"Name": "rnn-studies-head"} and "IamInstanceProfile" not in booted["head_node"]
    assert {json.dumps(t["node_config"]["IamInstanceProfile"]) for n, t in types.items() if n != "head"} == {
        json.dumps({"Name": "rnn-studies-worker"})}
    roles = {name: iam.get_instance_profile(InstanceProfileName=name)["InstanceProfile"]["Roles"]
             for name in ("rnn-studies-head", "rnn-studies-worker")}
    assert {name: [r["RoleName"] for r in rs] for name, rs in roles.items()} == {
        "rnn-studies-head": ["rnn-studies-head"], "rnn-studies-worker": ["rnn-studies-worker"]}
    worker_role = roles["rnn-studies-worker"][0]["Arn"]
    assert worker_role == f"arn:aws:iam::{account}:role/rnn-studies-worker"

    # The head may pass the workers' role (EC2 refuses to start them otherwise), start instances, write results.
    inline, attached = role_policies(iam, "rnn-studies-head")
    assert any(allows(p, "iam:PassRole", worker_role) for p in inline)
    assert not any(allows(p, "iam:PassRole", f"arn:aws:iam::{account}:role/admin") for p in inline)
    assert attached == ["arn:aws:iam::aws:policy/AmazonEC2FullAccess"]
    for role in ("rnn-studies-head", "rnn-studies-worker"):
        policies = role_policies(iam, role)[0]
        assert any(allows(p, "s3:PutObject", f"arn:aws:s3:::{BUCKET}/results/q1/x") for p in policies), role
    assert not any(allows(p, "s3:PutObject", "arn:aws:s3:::someone-else/x") for p in inline)

    # Ray's own pieces: a key pair, a subnet and a security group for every node type.
    assert Path(booted["auth"]["ssh_private_key"]).is_file()
    assert all(t["node_config"]["SubnetIds"] and t["node_config"]["SecurityGroupIds"] for t in types.values())


def test_the_aws_calls_are_read_as_the_cli_means_them():
    class Client:
        def create_role(self, **kw):
            return kw

    got = aws_call(Client(), ["aws", "iam", "create-role", "--role-name", "r", "--assume-role-policy-document",
                              "file://cluster/iam/ec2-trust.json", "--output", "text"])
    assert got["RoleName"] == "r" and json.loads(got["AssumeRolePolicyDocument"])["Statement"][0]["Action"] == \
        "sts:AssumeRole" and set(got) == {"RoleName", "AssumeRolePolicyDocument"}
