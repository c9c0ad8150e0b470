"""A console a person can read while a study runs: one live progress line, failures, a summary.

Ray and Tune write thousands of lines during a study (a configuration table per
trial, a line per checkpoint, worker logs). ``capture`` sends all of it to a log
file, at the file-descriptor level so that Ray's own processes and native
libraries follow, and hands back a ``Console`` on the real terminal;
``ProgressCallback`` keeps the console's live line from Tune's events.
"""

from __future__ import annotations

import contextlib
import math
import numbers
import os
import re
import sys
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any, TextIO

from ray import cloudpickle, tune
from ray.tune.experiment import Trial

from trainables.common import metrics as M

DEFAULT_INTERVAL_S = 30.0
_CLEAR = "\r\x1b[K"  # back to the line's start, erase to its end
_ANSI = re.compile(r"\x1b\[[0-9;]*m")
# pyarrow's file system names that differ from their URI schemes.
_SCHEMES = {"gcs": "gs"}
# The console of the capture() in force: a callback that Tuner.restore unpickles joins it.
_active: Console | None = None


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
                fitted = _fit(text, self._columns() - 1)
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


def _fit(text: str, width: int) -> str:
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
        with _activated(Console(sys.stdout, tty=False, interval=interval)) as console:
            yield console
        return
    log_path = Path(log_path)
    log_path.parent.mkdir(parents=True, exist_ok=True)
    _flush_std()
    saved = (os.dup(1), os.dup(2))
    terminal = open(os.dup(saved[0]), "w", buffering=1, encoding="utf-8", errors="replace")  # noqa: SIM115
    streams = (sys.stdout, sys.stderr)
    try:
        _redirect(log_path)
        with _activated(Console(terminal, interval=interval)) as console:
            console.line(f"Ray's output and the full log: {log_path}")
            yield console
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


@contextlib.contextmanager
def _activated(console: Console) -> Iterator[Console]:
    global _active
    previous, _active = _active, console
    try:
        yield console
    finally:
        console.close()
        _active = previous


def format_duration(seconds: float) -> str:
    """``42s``, ``3m05s``, ``2h04m``."""
    s = round(max(seconds, 0.0))
    if s < 60:
        return f"{s}s"
    m, s = divmod(s, 60)
    if m < 60:
        return f"{m}m{s:02d}s"
    h, m = divmod(m, 60)
    return f"{h}h{m:02d}m"


@dataclass(frozen=True)
class Counts:
    """Trials by state; ``pending`` also counts the planned ones Tune has not created yet."""

    done: int
    running: int
    failed: int
    pending: int

    @property
    def total(self) -> int:
        return self.done + self.running + self.failed + self.pending


def count_trials(statuses: Iterable[str], total: int) -> Counts:
    statuses = list(statuses)
    done, failed, running = (statuses.count(s) for s in (Trial.TERMINATED, Trial.ERROR, Trial.RUNNING))
    return Counts(done, running, failed, max(total, len(statuses)) - done - failed - running)


@dataclass(frozen=True)
class Running:
    """A running trial in this run: seconds since it started, epochs reported since then, epochs left."""

    elapsed: float
    epochs_run: int
    epochs_left: int | None


def time_left(running: list[Running], durations: list[float], pending: int, slots: int) -> float | None:
    """Seconds until the last trial ends, or None until something tells.

    A running trial keeps its pace so far (seconds per epoch); one that has not
    reported yet, and every pending one, takes the mean duration of the trials
    finished in this run, or before any has, the projected duration of the
    running ones. Trials run ``slots`` at a time.
    """
    paced = [r for r in running if r.epochs_run > 0 and r.epochs_left is not None]
    projected = [r.elapsed / r.epochs_run * (r.epochs_run + r.epochs_left) for r in paced]
    typical = durations or projected
    if (pending or len(paced) < len(running)) and not typical:
        return None
    mean = sum(typical) / len(typical) if typical else 0.0
    left = [r.elapsed / r.epochs_run * r.epochs_left if r in paced else max(mean - r.elapsed, 0.0) for r in running]
    return max(max(left, default=0.0), (sum(left) + pending * mean) / max(slots, 1))


def best_so_far(results: Iterable[tuple[dict, dict]], metric: str, mode: str) -> tuple[float, dict] | None:
    """(value, config) of the best ``metric`` among (config, last result) pairs whose result has completed = 1."""
    best: tuple[float, dict] | None = None
    for config, result in results:
        value = result.get(metric)
        if result.get(M.COMPLETED) != 1 or not isinstance(value, numbers.Real) or not math.isfinite(value):
            continue
        if best is None or (value < best[0] if mode == "min" else value > best[0]):
            best = (float(value), config)
    return best


def differing_keys(configs: list[dict]) -> list[str]:
    """The config keys whose values are not the same in every config."""
    keys = sorted({k for c in configs for k in c})
    return [k for k in keys if len({repr(c.get(k)) for c in configs}) > 1]


def short_label(config: dict, keys: list[str], limit: int = 60) -> str:
    """``cell=gru lr=0.001``: the ``keys`` of ``config``, at most ``limit`` characters."""
    return _fit(" ".join(f"{k}={v:g}" if isinstance(v := config[k], float) else f"{k}={v}"
                         for k in keys if k in config), limit)


def first_error_line(text: str) -> str:
    """The exception line of a trial's error text (Tune's error.txt), e.g. ``ValueError: boom``."""
    lines = [_ANSI.sub("", line).rstrip() for line in text.splitlines()]
    lines = [line for line in lines if line and not line.startswith("Failure # ")]
    frames = [i for i, line in enumerate(lines) if line.lstrip().startswith('File "')]
    after = lines[frames[-1] + 1:] if frames else lines
    return next((line for line in after if not line[0].isspace()), lines[0] if lines else "")


def error_line(trial: Any) -> str:
    """The first line of a failed trial's error, from the driver's copies Tune writes before calling back."""
    exc = _pickled_error(trial)
    if exc is not None:  # a RayTaskError: the trainable's own exception is its cause
        exc = getattr(exc, "cause", None) or exc
        message = str(exc).strip().splitlines()
        return f"{type(exc).__name__}: {message[0]}" if message else type(exc).__name__
    try:
        return first_error_line(Path(trial.error_file).read_text(errors="replace")) or "unknown error"
    except (OSError, TypeError):
        return "unknown error"


def _pickled_error(trial: Any) -> BaseException | None:
    try:
        with open(trial.pickled_error_file, "rb") as f:
            return cloudpickle.load(f)
    except Exception:  # noqa: BLE001 -- not pickled (a TuneError), or its class does not import here
        return None


def stored_error_file(trial: Any) -> str | None:
    """Where a trial's error text is kept: its folder in the run's storage.

    Ray 2.60's ``trial.error_file`` (which Tune's own output prints) is the
    driver's staging copy under /tmp/ray/session_*/artifacts; Tune copies it
    into the trial folder in storage (``trial.path``) at its next experiment
    snapshot, and always before the run ends.
    """
    if not trial.error_file:
        return None
    path = f"{trial.path}/{PurePosixPath(trial.error_file).name}"
    try:
        kind = trial.storage.storage_filesystem.type_name
    except AttributeError:
        return path
    return path if kind == "local" or "::" in kind else f"{_SCHEMES.get(kind, kind)}://{path}"


def _config_epochs(config: dict) -> int | None:
    return config.get("epochs")


def _last(trial: Any) -> dict:
    # Before a trial's first report Ray's last_result asks the trial's actor for defaults: avoid that call.
    return trial.last_result if trial.has_reported_at_least_once else {}


class ProgressCallback(tune.Callback):
    """Keeps ``console``'s live line during a Tuner run; one permanent line per failed trial; a summary.

    ``total``: trials planned (None: Tune's count). ``metric`` / ``mode``: the
    best-so-far among completed trials. ``epochs_of(config)``: a trial's
    planned epochs (its progress, for the time left). ``label_of(config)``:
    the short label of the best trial (default: the settings that differ
    between trials).
    """

    def __init__(self, console: Console | None, total: int | None, metric: str, mode: str,
                 epochs_of: Callable[[dict], int | None] = _config_epochs,
                 label_of: Callable[[dict], str] | None = None, *, clock: Callable[[], float] = time.monotonic):
        if mode not in ("min", "max"):
            raise ValueError(f"mode must be 'min' or 'max', not {mode!r}")
        self.console, self.total, self.metric, self.mode = console, total, metric, mode
        self.epochs_of, self.label_of, self.clock = epochs_of, label_of, clock
        self._reset()

    def _reset(self) -> None:
        self._began: float | None = None
        self._started: dict[str, tuple[float, int]] = {}  # trial id -> (clock, epoch) when it (re)started
        self._durations: list[float] = []  # seconds of the trials run from their first epoch to the end here
        self._slots = 1  # the most trials seen running at once
        self._refreshed = -math.inf

    # Tuner pickles RunConfig's callbacks into tuner.pkl and Tuner.restore brings them back from
    # there: the terminal stays out, and a restored callback joins the capture() in force.
    def __getstate__(self) -> dict:
        state = self.__dict__.copy()
        state["console"] = None
        return state

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(state)
        self._reset()
        self.console = _active

    def setup(self, stop=None, num_samples=None, total_num_samples=None, **info) -> None:
        self._began = self.clock()
        self.total = self.total or total_num_samples

    def on_trial_start(self, iteration, trials, trial, **info) -> None:
        # Also a retried or resumed trial (Ray 2.60 never calls on_trial_restore): its pace counts from here.
        self._started[trial.trial_id] = (self.clock(), _epoch(_last(trial)))
        self._refresh(trials)

    def on_trial_result(self, iteration, trials, trial, result, **info) -> None:
        self._refresh(trials)

    def on_trial_complete(self, iteration, trials, trial, **info) -> None:
        started = self._started.pop(trial.trial_id, None)
        if started and started[1] == 0:
            self._durations.append(self.clock() - started[0])
        self._refresh(trials)

    def on_trial_error(self, iteration, trials, trial, **info) -> None:
        self._started.pop(trial.trial_id, None)
        self._say(f"FAILED {trial}: {error_line(trial)} | error file: {stored_error_file(trial)}")
        self._refresh(trials, force=True)

    def on_trial_recover(self, iteration, trials, trial, **info) -> None:
        self._say(f"retrying {trial} (failure {trial.num_failures}): {error_line(trial)}")
        self._refresh(trials, force=True)

    def on_step_end(self, iteration, trials, **info) -> None:
        # Tune steps many times a second; between events the line only needs its clock to tick.
        if self.clock() - self._refreshed >= 0.5:
            self._refresh(trials)

    def on_experiment_end(self, trials, **info) -> None:
        if self.console is None:
            return
        c = count_trials((t.status for t in trials), self.total or 0)
        unfinished = c.running + c.pending
        head = f"stopped after {self._elapsed()}" if unfinished else f"finished in {self._elapsed()}"
        rest = f", {unfinished} unfinished" if unfinished else ""
        self.console.clear_status()
        self.console.line(f"{head}: {c.done} done, {c.failed} failed{rest} of {c.total}{self._best(trials)}")

    def status_text(self, trials: list) -> str:
        c = count_trials((t.status for t in trials), self.total or 0)
        self._slots = max(self._slots, c.running)
        now = self.clock()
        running = [self._running(t, now) for t in trials if t.status == Trial.RUNNING]
        left = time_left(running, self._durations, c.pending, self._slots)
        eta = "estimating" if left is None else f"~{format_duration(left)} left"
        return (f"trials: {c.done} done, {c.running} running, {c.failed} failed of {c.total} | "
                f"{self._elapsed()} elapsed, {eta}{self._best(trials)}")

    def _refresh(self, trials: list, force: bool = False) -> None:
        if self.console is not None:
            self._refreshed = self.clock()
            self.console.status(self.status_text(trials), force=force)

    def _say(self, text: str) -> None:
        if self.console is not None:
            self.console.line(text)

    def _elapsed(self) -> str:
        if self._began is None:
            self._began = self.clock()
        return format_duration(self.clock() - self._began)

    def _running(self, trial: Any, now: float) -> Running:
        since, first = self._started.get(trial.trial_id, (now, 0))
        epoch, epochs = _epoch(_last(trial)), self.epochs_of(trial.config)
        return Running(now - since, max(epoch - first, 0), None if epochs is None else max(epochs - epoch, 0))

    def _best(self, trials: list) -> str:
        best = best_so_far(((t.config, _last(t)) for t in trials), self.metric, self.mode)
        if best is None:
            return ""
        value, config = best
        label = (self.label_of(config) if self.label_of
                 else short_label(config, differing_keys([t.config for t in trials])))
        return f" | best {self.metric} {value:.4g}" + (f" ({label})" if label else "")


def _epoch(result: dict) -> int:
    return int(result.get(M.EPOCH, result.get(M.TRAINING_ITERATION, 0)) or 0)
