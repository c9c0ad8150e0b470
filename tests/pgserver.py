"""A throwaway PostgreSQL server for tests: initdb in a temp folder, started on a free port, removed after.

PostgreSQL refuses to run as root, so as root the server runs as the
``postgres`` user (the Debian package creates it) or else ``nobody``.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

TOOLS = ("initdb", "pg_ctl", "createdb")


def server_bin() -> Path | None:
    """The folder with initdb, pg_ctl and createdb (Debian keeps them off PATH), or None."""
    found = [Path(p).parent for p in sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), reverse=True)]
    on_path = shutil.which("initdb")
    found += [Path(on_path).parent] if on_path else []
    return next((d for d in found if all((d / tool).exists() for tool in TOOLS)), None)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _runner(folder: Path) -> list[str]:
    """The command prefix that runs the server's tools as a user PostgreSQL accepts."""
    if os.geteuid() != 0:
        return []
    for name in ("postgres", "nobody"):
        try:
            user = pwd.getpwnam(name)
        except KeyError:
            continue
        os.chown(folder, user.pw_uid, user.pw_gid)
        return ["runuser", "-u", name, "--"]
    pytest.fail("running as root and neither a postgres nor a nobody user exists to run PostgreSQL")


@pytest.fixture(scope="module")
def postgres_url() -> Iterator[str]:
    """SQLAlchemy URL of an empty database ``studies`` on a fresh local server."""
    bindir = server_bin()
    if bindir is None:
        pytest.skip("PostgreSQL server binaries (initdb, pg_ctl, createdb) not installed: "
                    "apt-get install -y postgresql")
    try:
        import psycopg2  # noqa: F401
    except ImportError:
        pytest.fail("psycopg2 is missing (SQLAlchemy's PostgreSQL driver): pip install -e '.[dev]'")
    # Not under pytest's tmp_path: its parents are private to root, and the server runs as another user.
    folder = Path(tempfile.mkdtemp(prefix="pgtest-"))
    as_user, port = _runner(folder), free_port()
    data, log = folder / "data", folder / "server.log"

    def tool(name: str, *args: str) -> None:
        done = subprocess.run([*as_user, str(bindir / name), *args], capture_output=True, text=True, timeout=120,
                              check=False)
        if done.returncode != 0:
            tail = log.read_text()[-2000:] if log.exists() else ""
            pytest.fail(f"{name} failed: {done.stderr.strip()} {tail}")

    try:
        tool("initdb", "-D", str(data), "-U", "test", "--auth=trust", "--no-sync")
        tool("pg_ctl", "-D", str(data), "-l", str(log), "-w", "-t", "60", "start",
             "-o", f"-h 127.0.0.1 -p {port} -k {folder} -F")
        tool("createdb", "-h", "127.0.0.1", "-p", str(port), "-U", "test", "studies")
        yield f"postgresql+psycopg2://test@127.0.0.1:{port}/studies"
    finally:
        if (data / "postmaster.pid").exists():
            subprocess.run([*as_user, str(bindir / "pg_ctl"), "-D", str(data), "-m", "immediate", "-w", "stop"],
                           capture_output=True, timeout=120, check=False)
        shutil.rmtree(folder, ignore_errors=True)
