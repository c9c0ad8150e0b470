"""Throwaway SSH hosts on this machine, for running Ray's cluster launcher for real.

`ray up` with the `local` provider SSHes to the head, syncs the project,
runs the YAML's setup and start commands there, and the head's autoscaler
does the same on each worker; `ray down` runs `ray stop` on the head. On a
shared machine `ray stop` would kill every Ray process on it, and the YAML's
setup writes to the SSH user's ~/.bashrc; so each host is a sandbox:

- its own PID, mount and UTS namespaces (`unshare`): `ray stop` sees only the
  processes in it, killing the sandbox's init kills everything in it, and it
  has a hostname of its own;
- its own /tmp (Ray's session dirs, the launcher's cluster state, SSH
  control sockets) and its own home for root (the passwd entry, seen only
  inside), so the real home and /tmp/ray are never touched; the home, where
  the venv goes, is a tmpfs, which goes away with the sandbox (deleting a
  venv's files from disk can take minutes);
- its own network namespace, reaching the package index through slirp4netns
  (user-mode NAT, outbound only), so Ray's fixed ports (6379, 8265, 52365,
  ...) clash with no other Ray on this machine and nothing outside can reach
  its unauthenticated dashboard; ``link`` joins two sandboxes with a veth
  pair, the test's own network, on which each has ``address``;
- its own sshd on port 22 of its network, with a host key and one authorized
  key: made for it, or the head's, so the launcher and the head's autoscaler
  log in to every host with the YAML's one key.
"""

from __future__ import annotations

import os
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from tests.studyrun import kill_group

SSHD = "/usr/sbin/sshd"
TOOLS = ("ssh", "ssh-keygen", "rsync", "unshare", "nsenter", "setpriv", "mount", "ip", "slirp4netns")
SLIRP_DNS = "10.0.2.3"  # slirp4netns's resolver inside the namespace
SLIRP_ADDRESS = "10.0.2.100"  # the sandbox's own address on that network
LAN_DEVICE = "lan0"  # each sandbox's end of the veth pair that ``link`` makes
LAN_PREFIX = 24
# Ray takes a node's address from the route to this one (a UDP connect: no packet leaves), so ``link`` routes
# it over the test's network: each node then advertises its address there, as on a LAN, not the NAT's.
RAY_ROUTE_PROBE = "8.8.8.8"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def why_unavailable() -> str | None:
    """Why an SSH host cannot be started here at all, or None."""
    if sys.platform != "linux":
        return "needs Linux (namespaces)"
    if os.geteuid() != 0:
        return "needs root (a PID/mount namespace and an sshd of its own)"
    if not os.access(SSHD, os.X_OK):
        return f"no {SSHD}: apt-get install openssh-server (.ci/run does)"
    missing = [t for t in TOOLS if shutil.which(t) is None]
    if missing:
        return f"missing {', '.join(missing)}: apt-get install openssh-client rsync util-linux iproute2 slirp4netns"
    if not os.path.exists("/dev/net/tun"):
        return "no /dev/net/tun, which slirp4netns needs for each host's network of its own"
    probe = subprocess.run(["unshare", "--pid", "--mount", "--uts", "--net", "--fork", "--mount-proc", "true"],
                           check=False, capture_output=True, text=True)
    if probe.returncode != 0:
        return f"cannot create PID, mount, UTS and network namespaces here: {probe.stderr.strip()}"
    return None


# PID 1 of the sandbox: makes its mounts, runs sshd, reaps every orphan (Ray
# daemonizes its processes), and ends when sshd does or on SIGTERM; the kernel
# then kills whatever is left in the namespace.
INIT = r"""
import os, signal, socket, subprocess, sys
work, config, hostname = sys.argv[1], sys.argv[2], sys.argv[3]
socket.sethostname(hostname)
subprocess.run(["mount", "-t", "tmpfs", "-o", "mode=0700", "tmpfs", work + "/home"], check=True)
subprocess.run(["cp", "-a", work + "/skel/.", work + "/home"], check=True)
mounts = [("tmp", "/tmp"), ("passwd", "/etc/passwd"), ("hosts", "/etc/hosts"), ("resolv.conf", "/etc/resolv.conf")]
subprocess.run(["ip", "link", "set", "lo", "up"], check=True)
# Folders under /tmp the sandbox still needs (a project or venv checked out there,
# as a CI clone may be): parked outside /tmp, then bound back over the private one.
keep = [p for p in sys.argv[4:] if p.startswith("/tmp/")]
for i, path in enumerate(keep):
    os.makedirs(f"{work}/keep/{i}", exist_ok=True)
    subprocess.run(["mount", "--bind", path, f"{work}/keep/{i}"], check=True)
for source, target in mounts:
    subprocess.run(["mount", "--bind", work + "/" + source, target], check=True)
for i, path in enumerate(keep):
    os.makedirs(path, exist_ok=True)
    subprocess.run(["mount", "--bind", f"{work}/keep/{i}", path], check=True)
os.makedirs("/run/sshd", mode=0o755, exist_ok=True)  # sshd's privilege-separation dir
log = open(work + "/sshd.log", "ab")
sshd = subprocess.Popen(["/usr/sbin/sshd", "-D", "-e", "-f", config], stdout=log, stderr=log)
signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
while True:
    pid, _ = os.wait()
    if pid == sshd.pid:
        sys.exit(1)
"""


class SSHHost:
    """root@``address`` (and root@127.0.0.1 inside) over SSH, in a sandbox named ``hostname``. ``run``
    executes a client command in the same sandbox (the launcher's own state and SSH sockets stay there).
    ``key``: the private key whose public half it authorizes (another host's); by default one made for it."""

    def __init__(self, hostname: str = "rnn-head", address: str = "", key: Path | None = None) -> None:
        # Outside /tmp: the sandbox gets its own /tmp, and both sides must see these files.
        self.work = Path(tempfile.mkdtemp(prefix=f"{hostname}-", dir="/var/tmp"))
        self.home = self.work / "home"  # root's home on the host; see ``head_file``
        self.client_home = self.work / "client"  # HOME of the launcher's side
        for d in (self.home, self.work / "skel", self.client_home, self.work / "tmp"):
            d.mkdir(mode=0o700)
        os.chmod(self.work / "tmp", 0o1777)
        self.hostname, self.address = hostname, address
        self.key = key or self.work / "id_ed25519"
        self._procs: list[subprocess.Popen] = []
        self.init_pid = 0
        self.pid_ns = ""

    # -- set-up --------------------------------------------------------------

    def start(self, timeout: float = 60) -> None:
        w = self.work
        for key in [w / "ssh_host_ed25519_key"] + ([] if self.key.exists() else [self.key]):
            subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "rnn-studies launcher test",
                            "-f", str(key)], check=True)
        shutil.copy(self.key.with_suffix(".pub"), w / "authorized_keys")
        # Every address of its own network namespace: loopback, and the test's network once ``link``ed.
        (w / "sshd_config").write_text(
            f"Port 22\nListenAddress 0.0.0.0\nHostKey {w}/ssh_host_ed25519_key\n"
            f"AuthorizedKeysFile {w}/authorized_keys\nPermitRootLogin prohibit-password\nAllowUsers root\n"
            "PasswordAuthentication no\nKbdInteractiveAuthentication no\nUsePAM no\n"
            # The key's folder is not under the home sshd would check.
            "StrictModes no\nPidFile none\n"
            # The launcher opens many sessions at once over one control connection.
            "MaxSessions 64\nMaxStartups 64\n")
        (w / "hosts").write_text(f"127.0.0.1 localhost\n{self.address or '127.0.1.1'} {self.hostname}\n")
        (w / "resolv.conf").write_text(f"nameserver {SLIRP_DNS}\n")
        passwd = [(f"root:x:0:0:root:{self.home}:/bin/bash" if line.startswith("root:") else line)
                  for line in Path("/etc/passwd").read_text().splitlines()]
        (w / "passwd").write_text("\n".join(passwd) + "\n")
        self._write_head_profile()

        unshare = ["unshare", "--pid", "--mount", "--uts", "--net", "--fork", "--mount-proc", "--kill-child"]
        keep = sorted({str(Path(__file__).resolve().parents[1]), str(Path(sys.prefix).resolve())})
        init = self._spawn([*unshare, sys.executable, "-c", INIT, str(w), str(w / "sshd_config"), self.hostname,
                            *keep], w / "init.log")
        deadline = time.monotonic() + timeout
        while not self.init_pid:
            if init.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"sandbox did not start: {self.logs()}")
            children = Path(f"/proc/{init.pid}/task/{init.pid}/children").read_text().split()
            if children:
                self.init_pid = int(children[0])
                self.pid_ns = os.readlink(f"/proc/{self.init_pid}/ns/pid")
            time.sleep(0.1)
        self._spawn(["slirp4netns", "--configure", "--mtu=65520", "--disable-host-loopback",
                     str(self.init_pid), "tap0"], w / "slirp4netns.log")
        while time.monotonic() < deadline:
            if init.poll() is not None:
                raise RuntimeError(f"sandbox exited: {self.logs()}")
            if self._network_up() and self.ssh("true", timeout=10)[0] == 0:
                return
            time.sleep(0.5)
        raise TimeoutError(f"no SSH login after {timeout}s: {self.logs()}")

    def _write_head_profile(self) -> None:
        """The head's login environment: this machine's, as a real one would have it.

        A Python (3.10+, with venv) on PATH, which the YAML expects of every
        machine: the one running this test. And this machine's pip settings
        (index mirrors, local wheels, constraints), which live in root's real
        home and environment; without them the head's `pip install torch`
        would fetch another build than the one this machine installs.
        """
        lines = [f'PATH="{Path(sys.base_prefix) / "bin"}:$PATH"']
        lines += [f"export {k}={shlex.quote(v)}" for k, v in sorted(os.environ.items()) if k.startswith("PIP_")]
        skel = self.work / "skel"  # copied into the head's home when the sandbox starts
        (skel / ".profile").write_text("\n".join(lines) + "\n")
        for rel in (".config/pip/pip.conf", ".pip/pip.conf"):
            source = Path.home() / rel
            if source.is_file():
                (skel / rel).parent.mkdir(parents=True, exist_ok=True)
                shutil.copy(source, skel / rel)

    def _spawn(self, args: list[str], log: Path) -> subprocess.Popen:
        # If the test process dies, so does this one (and, by unshare's
        # --kill-child, the sandbox with everything in it).
        proc = subprocess.Popen(["setpriv", "--pdeathsig", "KILL", *args], stdin=subprocess.DEVNULL,
                                stdout=log.open("ab"), stderr=subprocess.STDOUT, start_new_session=True)
        self._procs.append(proc)
        return proc

    def _network_up(self) -> bool:
        return "tap0" in self.ip("-o", "-4", "addr")

    def ip(self, *args: str) -> str:
        """``ip ARGS`` in the sandbox's network namespace; its output."""
        return subprocess.run(["nsenter", "--target", str(self.init_pid), "--net", "ip", *args],
                              check=True, capture_output=True, text=True).stdout

    def head_file(self, path: Path) -> Path:
        """``path`` as the sandbox sees it (the head's home is mounted only there)."""
        return Path(f"/proc/{self.init_pid}/root") / Path(path).relative_to("/")

    def ssh(self, command: str, timeout: float = 30, to: str = "127.0.0.1") -> tuple[int, str]:
        """``command`` on the host at ``to`` (this one by default), logged in from this one as the launcher does."""
        done = subprocess.run(
            ["nsenter", "--target", str(self.init_pid), "--pid", "--mount", "--net", "--",
             "ssh", "-i", str(self.key), "-o", "BatchMode=yes", "-o", "StrictHostKeyChecking=no",
             "-o", "UserKnownHostsFile=/dev/null", "-o", "LogLevel=ERROR", f"root@{to}", command],
            check=False, capture_output=True, text=True, timeout=timeout, env=self.client_env())
        return done.returncode, done.stdout + done.stderr

    def port_open(self, port: int, address: str = "127.0.0.1") -> bool:
        """Whether something listens on ``address``:``port`` in the sandbox's network."""
        return subprocess.run(["nsenter", "--target", str(self.init_pid), "--net", "--",
                               "bash", "-c", f"exec 3<>/dev/tcp/{address}/{port}"],
                              check=False, capture_output=True).returncode == 0

    def logs(self) -> str:
        return "\n".join(p.read_text(errors="replace")[-3000:]
                         for p in (self.work / "init.log", self.work / "sshd.log") if p.exists())

    # -- running things in the sandbox ----------------------------------------

    def client_env(self, **extra: str) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items()
               if not k.startswith(("RAY_", "STUDY_")) and k not in ("PYTHONPATH", "VIRTUAL_ENV")}
        env.update(HOME=str(self.client_home), PATH=f"{Path(sys.executable).parent}:{env.get('PATH', '')}",
                   RAY_USAGE_STATS_ENABLED="0", **extra)
        return env

    def popen(self, args: list[str], cwd: Path, log: Path, env: dict[str, str] | None = None) -> subprocess.Popen:
        """A command in the sandbox, in its own process group (see ``kill_group``)."""
        return subprocess.Popen(
            ["nsenter", "--target", str(self.init_pid), "--pid", "--mount", "--net", f"--wd={cwd}", "--", *args],
            env=env or self.client_env(), stdin=subprocess.DEVNULL, stdout=log.open("ab"),
            stderr=subprocess.STDOUT, start_new_session=True)

    def run(self, args: list[str], cwd: Path, log: Path, timeout: float,
            env: dict[str, str] | None = None) -> tuple[int, str]:
        """Exit status and this command's output (also appended to ``log``)."""
        start = log.stat().st_size if log.exists() else 0
        proc = self.popen(args, cwd, log, env)
        try:
            rc = proc.wait(timeout)
        except subprocess.TimeoutExpired:
            rc = -1
        finally:
            kill_group(proc)
        with log.open("rb") as f:
            f.seek(start)
            out = f.read().decode(errors="replace")
        if rc == -1:
            out += f"\n[timed out after {timeout}s]"
        return rc, out

    def processes(self) -> list[tuple[int, str]]:
        """(pid, command line) of every process in the sandbox, seen from here."""
        out = []
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            try:
                if os.readlink(entry / "ns" / "pid") != self.pid_ns:
                    continue
                cmd = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace").strip()
                cmd = cmd or f"[{(entry / 'comm').read_text().strip()}]"  # a zombie
            except OSError:  # gone meanwhile
                continue
            out.append((int(entry.name), cmd))
        return out

    def stop(self, timeout: float = 30) -> list[tuple[int, str]]:
        """Kill the sandbox (sshd, and whatever runs in it). Returns the processes
        still there after ``timeout`` (none, unless something escaped)."""
        if self.init_pid:
            try:
                os.kill(self.init_pid, signal.SIGKILL)  # PID 1 of the namespace: takes all of it
            except ProcessLookupError:
                pass
        for proc in self._procs:  # unshare (gone with its child) and slirp4netns
            kill_group(proc)
        left = self.processes() if self.pid_ns else []
        deadline = time.monotonic() + timeout
        while left and time.monotonic() < deadline:
            time.sleep(0.2)
            left = self.processes()
        return left

    def remove(self) -> None:
        """The keys, the host's home and venv, its /tmp: everything the sandbox had."""
        shutil.rmtree(self.work, ignore_errors=True)


def link(*hosts: SSHHost) -> None:
    """Join two started sandboxes' networks with a veth pair: each gets its ``address`` on it."""
    a, b = hosts
    a.ip("link", "add", LAN_DEVICE, "type", "veth", "peer", "name", LAN_DEVICE, "netns", str(b.init_pid))
    for host in hosts:
        host.ip("addr", "add", f"{host.address}/{LAN_PREFIX}", "dev", LAN_DEVICE)
        host.ip("link", "set", LAN_DEVICE, "up")
        host.ip("route", "add", f"{RAY_ROUTE_PROBE}/32", "dev", LAN_DEVICE)
