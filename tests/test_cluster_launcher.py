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
is stopped mid-study and brought back by the head's autoscaler. Slow: a
fresh venv and install on each host, then three studies (8-15 minutes on 2 cores).
"""

from __future__ import annotations

import json
import re
import shlex
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest
import yaml

from analysis.runs import gpu_sharing
from tests.sshhost import SLIRP_ADDRESS, SSHHost, free_port, kill_group, link, why_unavailable
from tests.studyrun import result_rows, trial_states
from trainables.common import metrics as M

pytest.importorskip("aiohttp", reason="`ray dashboard` and `ray job submit` need the cluster extra")
pytestmark = [pytest.mark.slow, pytest.mark.timeout(1800)]

ROOT = Path(__file__).resolve().parents[1]
RAY = str(Path(sys.executable).with_name("ray"))
DOCS = ROOT / "docs" / "cluster.md"
RECIPE_MARK = "<!-- local recipe -->"
STORAGE_RE = re.compile(r"(export STUDY_STORAGE_PATH=)([^'\"\s]+)")
HEAD_ADDRESS, WORKER_ADDRESS = "10.77.0.1", "10.77.0.2"  # the test's own network between the two sandboxes
WORKER_GPUS = 2
GPU_STUDY = "q1-gpu"
EPOCHS, CHECKPOINT_EVERY = 12, 2
# Six trials of half a GPU and half a CPU: four at once on the worker (2 CPUs, 2 GPUs), two per GPU.
GPU_ARGS = ["--gpus-per-trial", "0.5", "--max-failures", "2", "--design", "reference", "--seeds", "2",
            "--hidden-size", "8", "--epochs", str(EPOCHS), "--patience", "0",
            "--checkpoint-every", str(CHECKPOINT_EVERY),
            "--name", GPU_STUDY]
GPU_TRIALS = 6
GPU_NOTE = "note: Ray gave trials GPUs"
# What a finished study leaves in its run folder (README: Reports).
RUN_FILES = ("report.md", "claims.md", "provenance.json", "trials.csv", "tables/comparisons.csv")
STALE = "stale-results"  # the results folder of an earlier `ray up`, under the head's work folder
# What may still run in the sandbox after `ray down`: its init, sshd and SSH connections winding down.
PLUMBING = re.compile(r"^(\S*/)?(sshd|ssh)(:|\s|$)")
LOG_MONITOR = re.compile(r"/ray/_private/log_monitor\.py ")


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
    """cluster/local.yaml aimed at the sandboxes, the worker with two logical GPUs; the commands stay the YAML's."""
    config = yaml.safe_load((ROOT / "cluster" / "local.yaml").read_text())
    storage_path(config)
    config["provider"].update(head_ip=HEAD_ADDRESS, worker_ips=[WORKER_ADDRESS])
    config.update(min_workers=1, max_workers=1)
    config["auth"] = {"ssh_user": "root", "ssh_private_key": str(host.key)}
    config["setup_commands"] = [STORAGE_RE.sub(rf"\g<1>{storage}", c) for c in config["setup_commands"]]
    start = config["worker_start_ray_commands"]
    assert start[-1].startswith("ray start --address="), start
    start[-1] += f" --num-gpus={WORKER_GPUS}"
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
    """The launcher's, sshd's and the host's Ray logs, kept with pytest's tmp dirs."""
    dest.mkdir(exist_ok=True)
    for name in ("launcher.log", "sshd.log", "init.log", "slirp4netns.log", "local.yaml", "gpu-study.log"):
        if (host.work / name).exists():
            shutil.copy(host.work / name, dest / name)
    for session in (host.work / "tmp" / "ray").glob("session_2*"):
        shutil.copytree(session / "logs", dest / f"ray-logs-{session.name}", dirs_exist_ok=True,
                        ignore=lambda d, names: [n for n in names if (Path(d) / n).is_dir()
                                                 or (Path(d) / n).stat().st_size > 5_000_000])


@pytest.fixture
def hosts(tmp_path):
    """(head, worker), started and linked; removed with everything in them at the end."""
    reason = why_unavailable()
    if reason:
        pytest.skip(f"no SSH hosts can be started for the launcher: {reason}")
    head = SSHHost("rnn-head", HEAD_ADDRESS)
    worker = SSHHost("rnn-worker", WORKER_ADDRESS, key=head.key)  # the YAML's one key logs in everywhere
    try:
        head.start()
        worker.start()
        link(head, worker)
        yield head, worker
    finally:
        started = time.monotonic()
        left = {h.hostname: h.stop() for h in (worker, head)}
        for h in (head, worker):
            keep_logs(h, tmp_path / h.hostname)
            h.remove()
        print(f"sandboxes removed in {time.monotonic() - started:.0f}s")
        assert not any(left.values()), f"processes outlived the sandboxes: {left}"
        assert not head.work.exists() and not worker.work.exists(), "the key and the hosts' files were not removed"


def wait_for_worker(head: SSHHost, timeout: float = 1200) -> None:
    """Until the worker, which the head's autoscaler sets up after `ray up`, has joined with its GPUs."""
    deadline = time.monotonic() + timeout
    out = ""
    while time.monotonic() < deadline:
        rc, out = head.ssh(f"~/rnn-studies-venv/bin/ray status --address {HEAD_ADDRESS}:6379", timeout=60)
        if rc == 0 and f"/{WORKER_GPUS}.0 GPU" in out:
            return
        time.sleep(5)
    monitor = sorted((head.work / "tmp" / "ray").glob("session_2*/logs/monitor.*"))
    raise TimeoutError(f"the worker never joined: {out[-2000:]}\n" + "\n".join(m.read_text()[-3000:] for m in monitor))


def wait_for_checkpoint_on(runs: Path, address: str, study, timeout: float = 600) -> str:
    """A trial reporting from the node at ``address``, early on, with a checkpoint in storage; its id."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and study.poll() is None:
        for result in runs.glob("*/train_stock_*/result.json"):
            rows = result_rows(result.parent)
            if rows and rows[-1]["node_ip"] == address and rows[-1]["epoch"] <= EPOCHS // 2 \
                    and list(result.parent.glob("checkpoint_*")):
                return rows[-1]["trial_id"]
        time.sleep(0.5)
    raise TimeoutError(f"no trial checkpointed on {address} (study exit code {study.poll()})")


def gpu_study_with_worker_lost(head: SSHHost, config: Path, storage: Path, log: Path) -> None:
    """`ray submit` of a study with half a GPU a trial; the worker's Ray stopped mid-study and brought back."""
    wait_for_worker(head)
    out_log = head.work / "gpu-study.log"
    study = head.popen([RAY, "submit", str(config), "studies/q1.py", "--", *GPU_ARGS], ROOT, out_log)
    try:
        victim = wait_for_checkpoint_on(storage / GPU_STUDY, WORKER_ADDRESS, study)
        # The worker's Ray goes away with its trials; the head's autoscaler restarts it (no heartbeat for 30 s).
        rc, out = head.ssh("~/rnn-studies-venv/bin/ray stop --force", to=WORKER_ADDRESS, timeout=120)
        assert rc == 0, out
        rc = study.wait(timeout=1500)
    finally:
        kill_group(study)
    out = out_log.read_text(errors="replace")
    log.open("a").write(out)
    assert rc == 0, f"the GPU study failed (rc {rc}):\n{out[-6000:]}"
    assert out.count(GPU_NOTE) == 1, out[-6000:]
    check_gpu_run(storage / GPU_STUDY / "latest", victim)


def check_gpu_run(run: Path, victim: str) -> None:
    """Every trial once, finished, on the worker, two at most a GPU; the lost ones resumed from checkpoints."""
    trials = pd.read_csv(run / "trials.csv", dtype={"gpu_ids": str, "trial_id": str})
    assert len(trials) == GPU_TRIALS and trials["trial_id"].is_unique, trials
    assert set(trials["status"]) == {"finished"} and set(trials["node"]) == {WORKER_ADDRESS}, trials
    assert set(trials["gpu_ids"]) <= {"0", "1"} and set(trials["device"]) == {"cpu"}, trials

    states, _ = trial_states(run)
    assert len(states) == GPU_TRIALS and {s["status"] for s in states.values()} == {"TERMINATED"}, states
    assert states[victim]["num_failures"] >= 1, states[victim]
    rows = [row for state in states.values() for row in result_rows(state["dir"])]
    for trial_id, state in states.items():
        mine = [r for r in rows if r["trial_id"] == trial_id]
        assert mine[-1]["epoch"] == EPOCHS and mine[-1][M.COMPLETED] == 1, mine[-1]
        if state["num_failures"]:
            # Its last attempt began after a checkpoint (every 2 epochs), or at the start.
            first = next(r for r in mine if r["pid"] == mine[-1]["pid"])["epoch"]
            assert (first - 1) % CHECKPOINT_EVERY == 0 and (first > 1 or trial_id != victim), [r["epoch"] for r in mine]

    runs = gpu_sharing.attempts(rows)
    print("GPU placement:\n" + gpu_sharing.table(runs))
    assert {(a.node, a.hostname) for a in runs} == {(WORKER_ADDRESS, "rnn-worker")}, "GPU trials ran off the worker"
    assert all(len(a.gpu_ids) == 1 for a in runs), runs
    shared = gpu_sharing.sharing(runs)
    assert max(shared.values()) == 2, f"most trials on one GPU at once, per GPU id: {shared}"


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
                gpu_study_with_worker_lost(head, config, storage, log)
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


def assert_no_ray_left(host: SSHHost, timeout: float = 30, but: re.Pattern | None = None) -> None:
    """Nothing but the sandbox's init, sshd and SSH sessions (and what ``but`` matches) runs on ``host``
    within ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        left = [(pid, cmd) for pid, cmd in host.processes() if pid != host.init_pid and not PLUMBING.match(cmd)
                and not (but and but.search(cmd))]
        if not left or time.monotonic() > deadline:
            break
        time.sleep(1)
    assert not left, f"still running on {host.hostname} after `ray down`: {left}"
