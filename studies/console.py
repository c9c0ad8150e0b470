"""A console a person can read while a study runs: one live progress line, failures, a summary.

Ray and Tune write thousands of lines during a study (a configuration table per
trial, a line per checkpoint, worker logs). ``capture`` sends all of it to a log
file, at the file-descriptor level so that Ray's own processes and native
libraries follow, and hands back a ``Console`` on the real terminal;
``studies.progress.ProgressCallback`` keeps the console's live line from Tune's events.
"""

from __future__ import annotations

import contextlib
import math
import os
import re
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TextIO

DEFAULT_INTERVAL_S = 30.0
_CLEAR = "\r\x1b[K"  # back to the line's start, erase to its end
_ANSI = re.compile(r"\x1b\[[0-9;]*m")
# pyarrow's file system names that differ from their URI schemes.
_SCHEMES = {"gcs": "gs"}


class Console:
    """Permanent lines and one live status line on ``stream``.

    On a terminal the status is redrawn in place; elsewhere (a pipe, CI, ``ray
    submit``) it is printed as a line at most every ``interval`` seconds, or at
    once when the caller says it matters (``force``).
    """

    def __init__(self, stream: TextIO, *, tty: bool | None = None, interval: float = DEFAULT_INTERVAL_S,
                 clock: Callable[[], float] = time.monotonic, width: int | None = None):
        self.stream, self.interval, self._clock, self._width = stream, interval, clock, width
        self.tty = bool(getattr(stream, "isatty", lambda: False)()) if tty is None else tty
        # Tune calls back from its own loop, the study from the main thread.
        self._lock = threading.Lock()
        self._shown = ""  # the live line as drawn (terminal)
        self._latest = ""  # the newest status
        self._printed = ""  # the last status printed as a line (not a terminal)
        self._printed_at = -math.inf

    def line(self, text: str) -> None:
        """Print a permanent line (above the live line on a terminal)."""
        with self._lock:
            if self.tty and self._shown:
                self._write(f"{_CLEAR}{text}\n{self._shown}")
            else:
                self._write(text + "\n")

    def status(self, text: str, force: bool = False) -> None:
        """Show ``text`` as the live line; ``force`` prints it now even off a terminal."""
        with self._lock:
            self._latest = text
            if self.tty:
                fitted = fit(text, self._columns() - 1)
                if fitted != self._shown:
                    self._write(_CLEAR + fitted)
                    self._shown = fitted
            elif text != self._printed and (force or self._clock() - self._printed_at >= self.interval):
                self._print_status(text)

    def clear_status(self) -> None:
        """Take the live line away (a summary line replaces it)."""
        with self._lock:
            if self.tty and self._shown:
                self._write(_CLEAR)
            self._shown = self._latest = ""

    def close(self) -> None:
        """Leave the last status on screen and the cursor on a fresh line."""
        with self._lock:
            if self.tty and self._shown:
                self._write("\n")
            elif not self.tty and self._latest and self._latest != self._printed:
                self._print_status(self._latest)
            self._shown = self._latest = ""

    def _print_status(self, text: str) -> None:
        self._write(text + "\n")
        self._printed, self._printed_at = text, self._clock()

    def _columns(self) -> int:
        if self._width:
            return self._width
        try:  # a pseudo-terminal without a size says 0
            return os.get_terminal_size(self.stream.fileno()).columns or 80
        except (AttributeError, OSError, ValueError):
            return 80

    def _write(self, text: str) -> None:
        # A closed terminal or a broken pipe must not stop the study.
        with contextlib.suppress(OSError, ValueError):
            self.stream.write(text)
            self.stream.flush()


def fit(text: str, width: int) -> str:
    # A status wider than the terminal wraps, and a carriage return can only redraw the last row.
    return text if len(text) <= width else text[:max(width - 3, 0)] + "..."


@contextlib.contextmanager
def capture(log_path: str | os.PathLike, verbose: bool = False, *,
            interval: float = DEFAULT_INTERVAL_S) -> Iterator[Console]:
    """Send stdout and stderr (Python's and descriptors 1 and 2) to ``log_path``; yield a terminal Console.

    Processes started inside inherit the log as their stdout and stderr. The
    log is appended to. On exit, even by an exception or Ctrl-C, the
    descriptors and ``sys.stdout`` / ``sys.stderr`` are put back. With
    ``verbose`` nothing is redirected and the Console prints to stdout among
    everything else, so its status comes as lines rather than redrawn.
    """
    if verbose:
        console = Console(sys.stdout, tty=False, interval=interval)
        try:
            yield console
        finally:
            console.close()
        return
    log_path = Path(log_path)
    log_path.parent.mkdir(parents=True, exist_ok=True)
    _flush_std()
    saved = (os.dup(1), os.dup(2))
    terminal = open(os.dup(saved[0]), "w", buffering=1, encoding="utf-8", errors="replace")  # noqa: SIM115
    streams = (sys.stdout, sys.stderr)
    try:
        _redirect(log_path)
        console = Console(terminal, interval=interval)
        console.line(f"Ray's output and the full log: {log_path}")
        try:
            yield console
        finally:
            console.close()
    finally:
        _flush_std()
        sys.stdout, sys.stderr = streams
        for fd, copy in zip((1, 2), saved):
            os.dup2(copy, fd)
            os.close(copy)
        terminal.close()


def _redirect(log_path: Path) -> None:
    fd = os.open(log_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    try:
        os.write(fd, f"\n=== {time.strftime('%Y-%m-%d %H:%M:%S')} pid {os.getpid()}: {' '.join(sys.argv)}\n".encode())
        os.dup2(fd, 1)
        os.dup2(fd, 2)
    finally:
        os.close(fd)
    # sys.stdout need not be descriptor 1 (pytest, IDEs): Python's own writes are sent there explicitly.
    sys.stdout = open(1, "w", buffering=1, encoding="utf-8", errors="backslashreplace", closefd=False)  # noqa: SIM115
    sys.stderr = open(2, "w", buffering=1, encoding="utf-8", errors="backslashreplace", closefd=False)  # noqa: SIM115


def _flush_std() -> None:
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(Exception):
            stream.flush()
