"""The cluster launcher for real: `ray up`, `ray submit`, `ray exec`, the Jobs API
through `ray dashboard`, and `ray down`, with cluster/local.yaml's own commands,
on a head and a worker that holds two GPUs.

The head and the worker are two SSH hosts, each a sandbox with its own
network, address and hostname, joined by a veth pair (tests/sshhost.py). The
launcher runs on the head. Its config is cluster/local.yaml with only the
addresses, the SSH user and key, one worker and the results folder changed,
and the worker's `ray start` given `--num-gpus 2`: Ray hands out GPU ids
whether or not CUDA is there. The commands are docs/cluster.md's local
recipe, run as written, so the docs cannot drift from what works; before its
`ray down`, a q1 study with half a GPU a trial runs on the worker, whose Ray
is stopped mid-study and brought back by the head's autoscaler. The results
folder is one both hosts see (a shared file system); tests/test_cluster_launcher_s3.py
runs the same cluster with an S3 bucket instead. Slow: a fresh venv and install on
each host, then three studies (8-15 minutes on 2 cores).
"""

from __future__ import annotations

import json
import re
import shlex
import subprocess
import time
from pathlib import Path

import pytest
from launcher import (
    GPU_STUDY,
    HEAD_ADDRESS,
    LOG_MONITOR,
    RAY,
    ROOT,
    WORKER_ADDRESS,
    assert_no_ray_left,
    check_gpu_run,
    derived_config,
    early_on_worker,
    gpu_study_with_worker_lost,
)

from tests.sshhost import SLIRP_ADDRESS, SSHHost, free_port, kill_group
from tests.studyrun import result_rows

pytest.importorskip("aiohttp", reason="`ray dashboard` and `ray job submit` need the cluster extra")
pytestmark = [pytest.mark.slow, pytest.mark.timeout(1800)]

DOCS = ROOT / "docs" / "cluster.md"
RECIPE_MARK = "<!-- local recipe -->"
# What a finished study leaves in its run folder (README: Reports).
RUN_FILES = ("report.md", "claims.md", "provenance.json", "trials.csv", "tables/comparisons.csv")
STALE = "stale-results"  # the results folder of an earlier `ray up`, under the head's work folder


def recipe() -> list[str]:
    """The command lines of docs/cluster.md's local recipe, comments dropped."""
    text = DOCS.read_text()
    assert RECIPE_MARK in text, f"{DOCS} lost its {RECIPE_MARK} block"
    block = text.split(RECIPE_MARK, 1)[1].split("```bash\n", 1)[1].split("```", 1)[0]
    lines = [line.split("  #", 1)[0].strip() for line in block.splitlines()]
    return [line for line in lines if line]


def parse(line: str) -> tuple[dict[str, str], list[str], bool]:
    """(VAR=value prefixes, words, runs in the background) of a recipe line."""
    background = line.endswith("&")
    words = shlex.split(line.rstrip("&"))
    env = {}
    while words and re.match(r"^[A-Z_]+=", words[0]):
        key, _, value = words.pop(0).partition("=")
        env[key] = value
    return env, words, background


def run_name(words: list[str]) -> str:
    return words[words.index("--name") + 1] if "--name" in words else "q1"


def assert_run_folder(run: Path, python: Path) -> None:
    missing = [f for f in RUN_FILES if not (run / f).exists()]
    assert not missing, f"{run} lacks {missing}; has {sorted(p.name for p in run.parent.glob('*/*'))}"
    assert list((run / "tables").glob("*.md")), "no tables"
    # The head's venv ran it: the YAML's activation reached the command.
    assert json.loads((run / "provenance.json").read_text())["command"][0] == str(python)


def early_trial_with_checkpoint(runs: Path) -> str | None:
    """A trial reporting from the worker, early on, with a checkpoint in the shared folder; its id."""
    for result in runs.glob("*/train_stock_*/result.json"):
        found = early_on_worker(result_rows(result.parent))
        if found and list(result.parent.glob("checkpoint_*")):
            return found
    return None


def test_local_yaml_up_submit_job_submit_down(hosts, tmp_path):
    head, worker = hosts
    log = head.work / "launcher.log"
    storage = head.work / "storage"  # outside the sandboxes' private /tmp: every host sees it
    config = derived_config(head, storage)
    for h in hosts:
        rc, out = h.ssh("echo HOME=$HOME; hostname")
        assert rc == 0 and f"HOME={h.home}\n{h.hostname}" in out, out
    rc, out = head.ssh("hostname", to=WORKER_ADDRESS)
    assert rc == 0 and worker.hostname in out, out
    # A head that an earlier `ray up` set up with another results folder:
    # the value the YAML has now must win.
    head.head_file(head.home / ".bashrc").write_text(f"export STUDY_STORAGE_PATH={head.work / STALE}\n")

    lines = recipe()
    verbs = [parse(line)[1][1:3] for line in lines]
    assert [v[0] for v in verbs] == ["up", "submit", "exec", "dashboard", "job", "down"], lines
    dashboard = None
    local_port = 0
    timings: dict[str, int] = {}
    try:
        for line in lines:
            env, words, background = parse(line)
            assert words[0] == "ray", f"not a ray command: {line}"
            args = [str(config) if w == "cluster/local.yaml" else w for w in words[1:]]
            verb = " ".join(args[:2]) if args[0] == "job" else args[0]
            started = time.monotonic()

            if verb == "dashboard":
                assert background, line
                dashboard, local_port = open_dashboard(head, args, log)
                continue
            if verb == "down":
                victim = gpu_study_with_worker_lost(
                    head, config, log, lambda: early_trial_with_checkpoint(storage / GPU_STUDY))
                check_gpu_run(storage / GPU_STUDY / "latest", victim)
                timings["gpu study"] = round(time.monotonic() - started)
                started = time.monotonic()
            env = {k: v.replace("127.0.0.1:8265", f"127.0.0.1:{local_port}") for k, v in env.items()}

            rc, out = head.run([RAY, *args], ROOT, log, timeout=900, env=head.client_env(**env))
            timings[verb] = round(time.monotonic() - started)
            assert rc == 0, f"`{line}` failed (rc {rc}):\n{out[-6000:]}\n{head.logs()}"

            check_step(head, verb, args, out, storage)
            if verb == "down":
                kill_group(dashboard)
                dashboard = None
                # `ray stop` on the head took every Ray process with it. `ray down` does not stop the worker's:
                # its raylet leaves once it has lost the head for a minute (Ray's GCS reconnection timeout),
                # its log monitor stays until the next `ray stop` there.
                assert_no_ray_left(head)
                assert_no_ray_left(worker, timeout=180, but=LOG_MONITOR)
                timings["worker's Ray gone"] = round(time.monotonic() - started)
    finally:
        if dashboard is not None:
            kill_group(dashboard)
        print("seconds per step:", timings)


def open_dashboard(head: SSHHost, args: list[str], log: Path) -> tuple[subprocess.Popen, int]:
    """`ray dashboard` in the background, on a free local port (the head's own dashboard holds 8265 on the
    same loopback); the process and its port, once it listens."""
    port = free_port()
    dashboard = head.popen([RAY, "dashboard", "--port", str(port), *args[1:]], ROOT, log)
    deadline = time.monotonic() + 60
    while not head.port_open(port):
        assert dashboard.poll() is None and time.monotonic() < deadline, log.read_text()[-3000:]
        time.sleep(0.5)
    return dashboard, port


def check_step(head: SSHHost, verb: str, args: list[str], out: str, storage: Path) -> None:
    """What a recipe line must have done on the head (``out``: its output)."""
    if verb == "up":
        # The dashboard runs whatever job it is sent: only the SSH tunnel may reach it.
        assert head.port_open(8265), "no dashboard on the head"
        assert not any(head.port_open(8265, a) for a in (SLIRP_ADDRESS, HEAD_ADDRESS)), \
            "the head's dashboard listens beyond its loopback"
    elif verb in ("submit", "job submit"):
        assert_run_folder(storage / run_name(args) / "latest", head.home / "rnn-studies-venv" / "bin" / "python")
        assert not (head.work / STALE).exists(), "results went to the folder of an earlier `ray up`"
        # It joined the cluster (RAY_ADDRESS=auto), not a Ray of its own on the head.
        sessions = list((head.work / "tmp" / "ray").glob("session_2*"))
        assert len(sessions) == 1, sessions
        assert not head.head_file(head.home / "results").exists(), "results went to the default folder"
    elif verb == "exec":
        for name in ("report.md", "claims.md", "tables"):
            assert name in out, out[-3000:]


