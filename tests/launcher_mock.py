"""A node provider and a process runner standing in for a cloud and for SSH, so Ray's own launcher code
(``get_or_create_head_node``, ``NodeUpdater``, the SSH and Docker command runners) generates every command it
would run on the nodes, here, without running any. Ray's test suite has such mocks; its wheel does not ship them.
"""

from __future__ import annotations

import shlex
import subprocess
from typing import Any

from ray.autoscaler.node_provider import NodeProvider
from ray.autoscaler.tags import TAG_RAY_NODE_KIND


class Provider(NodeProvider):
    """Nodes that exist once created, at the addresses given in order (10.0.0.1 first)."""

    def __init__(self, cluster_name: str) -> None:
        super().__init__({}, cluster_name)  # no provider config: the updater then leaves CloudWatch alone
        self.nodes: dict[str, dict[str, Any]] = {}

    def create_node(self, node_config, tags, count):
        for _ in range(count):
            node_id = f"i-{len(self.nodes):04d}"
            self.nodes[node_id] = {"tags": dict(tags), "node_config": node_config,
                                   "ip": f"10.0.0.{len(self.nodes) + 1}"}

    def non_terminated_nodes(self, tag_filters):
        return [n for n, node in self.nodes.items()
                if all(node["tags"].get(k) == v for k, v in tag_filters.items())]

    def is_running(self, node_id):
        return node_id in self.nodes

    def is_terminated(self, node_id):
        return node_id not in self.nodes

    def node_tags(self, node_id):
        return dict(self.nodes[node_id]["tags"])

    def set_node_tags(self, node_id, tags):
        self.nodes[node_id]["tags"].update(tags)

    def internal_ip(self, node_id):
        return self.nodes[node_id]["ip"]

    def external_ip(self, node_id):
        return self.nodes[node_id]["ip"]

    def terminate_node(self, node_id):
        self.nodes.pop(node_id, None)

    def head(self) -> str:
        return next(n for n, node in self.nodes.items() if node["tags"].get(TAG_RAY_NODE_KIND) == "head")


class ProcessRunner:
    """``subprocess`` as Ray's command runners use it: every command recorded, none run; the few whose
    output the launcher reads answered from ``answers`` (a piece of the command -> its output)."""

    DEVNULL = subprocess.DEVNULL

    def __init__(self, answers: dict[str, bytes]) -> None:
        self.answers = answers
        self.calls: list[list[str]] = []

    def check_call(self, cmd, **kwargs) -> int:
        self.calls.append(list(cmd))
        return 0

    def check_output(self, cmd, **kwargs) -> bytes:
        self.calls.append(list(cmd))
        joined = " ".join(cmd)
        return next((out for piece, out in self.answers.items() if piece in joined), b"")


LOGIN = "source ~/.bashrc; export OMP_NUM_THREADS=1 PYTHONWARNINGS=ignore && ("
"""How Ray's command runners wrap every command in a login shell (``command_runner._with_interactive``)."""


def unwrap(login: str) -> str:
    """The command inside ``bash --login -c -i``'s wrapper."""
    login = login.strip()
    assert login.startswith(LOGIN) and login.endswith(")"), login
    return login[len(LOGIN):-1].strip()


def remote(cmd: list[str]) -> str | None:
    """The command an SSH call runs on the node's host (``ssh ... user@ip bash --login -c -i '...'``), or
    None for a call that is not SSH (rsync)."""
    return unwrap(shlex.split(cmd[-1])[0]) if cmd[0] == "ssh" else None


def in_container(host: str) -> str | None:
    """The command a host's ``docker exec ... /bin/bash -c 'bash --login -c -i ...'`` runs in the container,
    or None for any other host command."""
    words = shlex.split(host)
    if words[:2] != ["docker", "exec"] or words[-3:-1] != ["/bin/bash", "-c"]:
        return None
    return unwrap(shlex.split(words[-1])[-1])
