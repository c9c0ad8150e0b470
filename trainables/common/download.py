"""Downloads of input data: streamed, capped in size and time, checked, and never half-written.

A file is streamed in chunks to a unique temporary name beside its target
(so two studies downloading at once never write the same file) and renamed
into place only when complete and, where a checksum is known, verified. A
server that sends too much or too slowly is cut off with a one-line
``DataError`` instead of filling the disk or hanging the study.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
import time
import urllib.request
from pathlib import Path

from trainables.common.errors import DataError

CHUNK = 1 << 16


def fetch(url: str, target: str | os.PathLike, *, max_bytes: int, deadline_s: float,
          sha256: str | None = None, what: str | None = None, hint: str = "") -> Path:
    """``target``, downloaded from ``url`` unless it is already there.

    ``max_bytes`` caps the download, ``deadline_s`` its total time; ``sha256``,
    when given, must match (a cached copy is checked too). ``what`` names the
    data in errors; ``hint`` is appended to a failed download's error.
    """
    target, what = Path(target), what or url
    if target.is_file():
        _check_sha256(target, sha256, what, f"the cached copy {target}")
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".part")
    tmp = Path(name)
    try:
        with os.fdopen(fd, "wb") as fh:
            _stream(url, fh, max_bytes, deadline_s, what, hint)
        _check_sha256(tmp, sha256, what, f"the file downloaded from {url}")
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)
    return target


def _stream(url: str, fh, max_bytes: int, deadline_s: float, what: str, hint: str) -> None:
    deadline = time.monotonic() + deadline_s
    total = 0
    try:
        # The timeout bounds each wait for the server; the deadline bounds the whole download.
        with urllib.request.urlopen(url, timeout=min(30.0, deadline_s)) as response:
            length = response.headers.get("Content-Length") if getattr(response, "headers", None) else None
            if length and length.isdigit() and int(length) > max_bytes:
                raise DataError(f"{what}: {url} is {int(length)} bytes, more than the limit of {max_bytes}")
            # read1: what has arrived, so a server dripping bytes cannot outlast the deadline.
            read = getattr(response, "read1", response.read)
            while block := read(CHUNK):
                total += len(block)
                if total > max_bytes:
                    raise DataError(f"{what}: {url} sent more than the limit of {max_bytes} bytes")
                if time.monotonic() > deadline:
                    raise DataError(f"{what}: downloading {url} took longer than {deadline_s:g} s")
                fh.write(block)
    except DataError:
        raise
    except (OSError, ValueError) as exc:  # ValueError: a malformed URL
        reason = f"{exc.__class__.__name__}: {exc}".replace("\n", " ")
        raise DataError(f"{what}: cannot download {url} ({reason}){hint}") from None


def _check_sha256(path: Path, expected: str | None, what: str, which: str) -> None:
    if expected is None:
        return
    h = hashlib.sha256()
    with path.open("rb") as fh:
        while block := fh.read(1 << 20):
            h.update(block)
    if h.hexdigest() != expected:
        raise DataError(f"{what}: {which} has sha256 {h.hexdigest()}, expected {expected} "
                        f"(a changed upstream file or a corrupt download; delete it and retry, or pass the data)")
