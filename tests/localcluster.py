"""A real two-node Ray cluster on this machine, for tests.

Each node is a `ray start --block` process in its own session, with its own
ports and temp dir, so the test stops exactly the nodes it started (SIGTERM,
then SIGKILL of that session) and never touches other Ray instances here.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

RAY = str(Path(sys.executable).with_name("ray"))
# One token per test process: Ray's clients cache the token they first read.
TOKEN = secrets.token_hex(32)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Ports:
    """Free ports for one cluster's nodes, each once, none inside a node's window of worker ports.

    Ray refuses to start a node one of whose ports falls in its worker-port window, and two
    free ports drawn apart can be the same, so every port a cluster names is drawn here.
    """

    WINDOW = 60

    def __init__(self) -> None:
        self.taken: set[int] = set()
        self.windows: list[range] = [self._window() for _ in range(2)]  # head's, worker's

    def _window(self) -> range:
        while True:
            low = free_port() // 100 * 100  # a window of worker ports near a free one
            window = range(low, low + self.WINDOW + 1)
            if not any(p in window for p in self.taken):
                return window

    def one(self) -> int:
        while True:
            port = free_port()
            if port not in self.taken and not any(port in w for w in self.windows):
                self.taken.add(port)
                return port

    def node(self, index: int) -> list[str]:
        """Every port node ``index`` (0 the head) would otherwise take from Ray's fixed defaults."""
        window = self.windows[index]
        return ["--node-manager-port", str(self.one()), "--object-manager-port", str(self.one()),
                "--dashboard-agent-listen-port", str(self.one()), "--dashboard-agent-grpc-port", str(self.one()),
                "--runtime-env-agent-port", str(self.one()), "--metrics-export-port", str(self.one()),
                "--min-worker-port", str(window.start), "--max-worker-port", str(window.stop - 1)]


class Node:
    def __init__(self, args: list[str], log: Path, auth: dict[str, str]) -> None:
        env = {k: v for k, v in os.environ.items()
               if k not in ("RAY_ADDRESS", "STUDY_STORAGE_PATH", "RAY_AUTH_TOKEN_PATH")}
        env.update(auth)
        self.proc = subprocess.Popen([RAY, "start", "--block", "--node-ip-address", "127.0.0.1", *args],
                                     stdout=log.open("ab"), stderr=subprocess.STDOUT, env=env,
                                     start_new_session=True)

    def stop(self, timeout: float = 10) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)  # `ray start --block` stops its node's processes
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                pass
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)  # whatever of this node is left
        except ProcessLookupError:
            pass
        self.proc.wait()


class LocalCluster:
    """Head (1 CPU) plus a worker node (1 CPU and the custom resource ``worker_node``)."""

    WORKER_RESOURCE = "worker_node"

    def __init__(self, workdir: Path) -> None:
        # Ray 2.60 turns token authentication on for `ray start`; this cluster gets
        # its own token (never the user's ~/.ray/auth_token), which clients in
        # the test process need too: see ``auth``.
        self.auth = {"RAY_AUTH_MODE": "token", "RAY_AUTH_TOKEN": TOKEN}
        # Unix socket paths are limited to ~107 bytes: keep the temp dir short.
        self.temp_dir = Path(tempfile.mkdtemp(prefix="rc-", dir="/tmp"))
        self.log = workdir / "nodes.log"
        self.ports = Ports()
        self.gcs = f"127.0.0.1:{self.ports.one()}"
        self.dashboard = f"http://127.0.0.1:{self.ports.one()}"
        self.head = Node(["--head", "--port", self.gcs.split(":")[1], "--temp-dir", str(self.temp_dir),
                          "--num-cpus", "1", "--num-gpus", "0", "--include-dashboard", "true",
                          "--dashboard-host", "127.0.0.1", "--dashboard-port", self.dashboard.rsplit(":", 1)[1],
                          "--ray-client-server-port", str(self.ports.one()), *self.ports.node(0)], self.log, self.auth)
        self.worker: Node | None = None
        self.temp_dirs = [self.temp_dir]  # the head's, then each worker's (one brought back gets a new one)

    def add_worker(self) -> None:
        # Its own temp dir, as on another machine: nodes sharing one would share
        # (and garbage-collect) each other's unpacked job working dirs.
        self.temp_dirs.append(Path(tempfile.mkdtemp(prefix="rw-", dir="/tmp")))
        self.worker = Node(["--address", self.gcs, "--temp-dir", str(self.temp_dirs[-1]),
                            "--num-cpus", "1", "--num-gpus", "0",
                            "--resources", json.dumps({self.WORKER_RESOURCE: 1}), *self.ports.node(1)], self.log,
                           self.auth)

    def wait_ready(self, nodes: int, timeout: float = 180) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for n in (self.head, self.worker):
                if n is not None and n.proc.poll() is not None:
                    raise RuntimeError(f"a Ray node exited; see {self.log}")
            try:
                if len(self.alive_nodes()) >= nodes:
                    return
            except (OSError, ValueError, KeyError):  # dashboard not up yet
                pass
            time.sleep(1)
        raise TimeoutError(f"{nodes} Ray nodes not up after {timeout}s; see {self.log}")

    @property
    def headers(self) -> dict[str, str]:
        """HTTP headers for this cluster's dashboard. Explicit, because Ray's
        clients read the auth mode once per process, possibly before a test set it."""
        return {"Authorization": f"Bearer {self.auth['RAY_AUTH_TOKEN']}"}

    def state_api(self, resource: str) -> list[dict]:
        request = urllib.request.Request(f"{self.dashboard}/api/v0/{resource}?limit=10000&detail=1",
                                         headers=self.headers)
        with urllib.request.urlopen(request, timeout=30) as r:
            return json.load(r)["data"]["result"]["result"]

    def alive_nodes(self) -> list[dict]:
        return [n for n in self.state_api("nodes") if n["state"] == "ALIVE"]

    def worker_node_id(self) -> str:
        return next(n["node_id"] for n in self.alive_nodes() if self.WORKER_RESOURCE in n["resources_total"])

    def pid_nodes(self) -> dict[int, str]:
        """Node id of every worker process, dead ones included (GCS keeps them)."""
        return {w["pid"]: w["node_id"] for w in self.state_api("workers")}

    def stop(self) -> None:
        for node in (self.worker, self.head):
            if node is not None:
                node.stop()
        for d in self.temp_dirs:
            shutil.rmtree(d, ignore_errors=True)


@contextlib.contextmanager
def two_nodes(tmp_path: Path, monkeypatch) -> Iterator[LocalCluster]:
    """A head and one worker, ready, with this process's Ray clients (Jobs, state API) given its auth token."""
    cluster = LocalCluster(tmp_path)
    for key, value in cluster.auth.items():
        monkeypatch.setenv(key, value)
    monkeypatch.delenv("RAY_AUTH_TOKEN_PATH", raising=False)
    try:
        cluster.add_worker()
        cluster.wait_ready(nodes=2)
        yield cluster
    finally:
        cluster.stop()
