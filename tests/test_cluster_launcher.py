"""The cluster launcher for real: `ray up`, `ray submit`, `ray exec`, the Jobs API
through `ray dashboard`, and `ray down`, with cluster/local.yaml's own commands.

The head is root@127.0.0.1 behind an sshd this test starts in a sandbox
(tests/sshhost.py). The launcher config is cluster/local.yaml with only the
addresses, the SSH user and key, the workers (none) and the results folder
changed; the commands are docs/cluster.md's local recipe, run as written, so
the docs cannot drift from what works. Slow: a fresh venv and install on the
head, then two smoke studies (2-4 minutes on 2 cores).

No worker: on this one machine it would share the head's network (the same
node address, and Ray's fixed agent port taken), so it would not behave as
another machine, and its own install would double the set-up time;
tests/test_cluster_multinode.py covers two nodes started by hand.
"""

from __future__ import annotations

import json
import re
import shlex
import shutil
import sys
import time
from pathlib import Path

import pytest
import yaml

from tests.sshhost import SLIRP_ADDRESS, SSHHost, free_port, kill_group, port_in_use, why_unavailable

pytest.importorskip("aiohttp", reason="`ray dashboard` and `ray job submit` need the cluster extra")
pytestmark = [pytest.mark.slow, pytest.mark.timeout(1800)]

ROOT = Path(__file__).resolve().parents[1]
RAY = str(Path(sys.executable).with_name("ray"))
DOCS = ROOT / "docs" / "cluster.md"
RECIPE_MARK = "<!-- local recipe -->"
STORAGE_RE = re.compile(r"(export STUDY_STORAGE_PATH=)([^'\"\s]+)")
# Ports `ray start --head` takes by default: they matter when the head shares this machine's network.
HEAD_PORTS = (6379, 8265, 10001, 52365)
# What a finished study leaves in its run folder (README: Reports).
RUN_FILES = ("report.md", "claims.md", "provenance.json", "trials.csv", "tables/comparisons.csv")
# What may still run in the sandbox after `ray down`: its init, sshd and SSH connections winding down.
PLUMBING = re.compile(r"^(\S*/)?(sshd|ssh)(:|\s|$)")


def recipe() -> list[str]:
    """The command lines of docs/cluster.md's local recipe, comments dropped."""
    text = DOCS.read_text()
    assert RECIPE_MARK in text, f"{DOCS} lost its {RECIPE_MARK} block"
    block = text.split(RECIPE_MARK, 1)[1].split("```bash\n", 1)[1].split("```", 1)[0]
    lines = [line.split("  #", 1)[0].strip() for line in block.splitlines()]
    return [line for line in lines if line]


def storage_path(config: dict) -> str:
    paths = [m.group(2) for c in config["setup_commands"] for m in STORAGE_RE.finditer(c)]
    assert len(paths) == 1, f"expected one STUDY_STORAGE_PATH export in setup_commands, got {paths}"
    return paths[0]


def derived_config(host: SSHHost, storage: Path) -> Path:
    """cluster/local.yaml aimed at the sandbox; every command stays the YAML's own."""
    config = yaml.safe_load((ROOT / "cluster" / "local.yaml").read_text())
    storage_path(config)
    config["provider"].update(head_ip="127.0.0.1", worker_ips=[])
    config.update(min_workers=0, max_workers=0)
    config["auth"] = {"ssh_user": "root", "ssh_private_key": str(host.key)}
    config["setup_commands"] = [STORAGE_RE.sub(rf"\g<1>{storage}", c) for c in config["setup_commands"]]
    path = host.work / "local.yaml"
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    return path


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


def keep_logs(host: SSHHost, dest: Path) -> None:
    """The launcher's, sshd's and the head's Ray logs, kept with pytest's tmp dirs."""
    for name in ("launcher.log", "sshd.log", "init.log", "slirp4netns.log", "local.yaml"):
        if (host.work / name).exists():
            shutil.copy(host.work / name, dest / name)
    for session in (host.work / "tmp" / "ray").glob("session_2*"):
        shutil.copytree(session / "logs", dest / "ray-logs", dirs_exist_ok=True,
                        ignore=lambda d, names: [n for n in names if (Path(d) / n).is_dir()
                                                 or (Path(d) / n).stat().st_size > 5_000_000])


@pytest.fixture
def host(tmp_path):
    reason = why_unavailable()
    if reason:
        pytest.skip(f"no SSH server can be started for the launcher: {reason}")
    h = SSHHost()
    if not h.private_network:
        taken = [p for p in HEAD_PORTS if port_in_use(p)]
        if taken:
            h.remove()
            pytest.fail(f"ports {taken} are in use and the head (cluster/local.yaml's `ray start`) needs them; "
                        "install slirp4netns to give it a network of its own")
    try:
        h.start()
        yield h
    finally:
        started = time.monotonic()
        left = h.stop()
        keep_logs(h, tmp_path)
        h.remove()
        print(f"sandbox removed in {time.monotonic() - started:.0f}s")
        assert not left, f"processes outlived the sandbox: {left}"
        assert not h.work.exists(), "the key and the head's files were not removed"


def test_local_yaml_up_submit_job_submit_down(host, tmp_path):
    log = host.work / "launcher.log"
    storage = host.work / "storage"  # outside the sandbox's private /tmp: both sides see it
    config = derived_config(host, storage)
    venv_python = host.home / "rnn-studies-venv" / "bin" / "python"
    rc, out = host.ssh("echo HOME=$HOME")
    assert rc == 0 and f"HOME={host.home}" in out, out
    # A head that an earlier `ray up` set up with another results folder:
    # the value the YAML has now must win.
    stale = host.work / "stale-results"
    host.head_file(host.home / ".bashrc").write_text(f"export STUDY_STORAGE_PATH={stale}\n")

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
                # The head's own dashboard holds 8265 on the same loopback: forward another port.
                local_port = free_port()
                dashboard = host.popen([RAY, "dashboard", "--port", str(local_port), *args[1:]], ROOT, log)
                deadline = time.monotonic() + 60
                while not host.port_open(local_port):
                    assert dashboard.poll() is None and time.monotonic() < deadline, log.read_text()[-3000:]
                    time.sleep(0.5)
                continue
            env = {k: v.replace("127.0.0.1:8265", f"127.0.0.1:{local_port}") for k, v in env.items()}

            rc, out = host.run([RAY, *args], ROOT, log, timeout=900, env=host.client_env(**env))
            timings[verb] = round(time.monotonic() - started)
            assert rc == 0, f"`{line}` failed (rc {rc}):\n{out[-6000:]}\n{host.logs()}"

            if verb == "up" and host.private_network:
                # The dashboard runs whatever job it is sent: only the SSH tunnel may reach it.
                assert host.port_open(8265) and not host.port_open(8265, SLIRP_ADDRESS), \
                    "the head's dashboard listens beyond its loopback"
            elif verb in ("submit", "job submit"):
                assert_run_folder(storage / run_name(args) / "latest", venv_python)
                assert not stale.exists(), "results went to the folder of an earlier `ray up`"
                # It joined the cluster (RAY_ADDRESS=auto), not a Ray of its own on the head.
                sessions = list((host.work / "tmp" / "ray").glob("session_2*"))
                assert len(sessions) == 1, sessions
                assert not host.head_file(host.home / "results").exists(), "results went to the default folder"
            elif verb == "exec":
                for name in ("report.md", "claims.md", "tables"):
                    assert name in out, out[-3000:]
            elif verb == "down":
                kill_group(dashboard)
                dashboard = None
                # `ray stop` on the head took every Ray process with it.
                deadline = time.monotonic() + 30
                while True:
                    left = [(pid, cmd) for pid, cmd in host.processes()
                            if pid != host.init_pid and not PLUMBING.match(cmd)]
                    if not left or time.monotonic() > deadline:
                        break
                    time.sleep(1)
                assert not left, f"still running after `ray down`: {left}"
    finally:
        if dashboard is not None:
            kill_group(dashboard)
        print("seconds per step:", timings)
