"""The live progress line of a study from Tune's events: trials done, running and failed, time left, best so far."""

from __future__ import annotations

import dataclasses
import math
import numbers
import re
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

from ray import cloudpickle, tune
from ray.tune.experiment import Trial

from studies import eta
from studies.console import Console, fit
from studies.searchers.base import config_key
from trainables.common import metrics as M
from trainables.common.config import differing

_ANSI = re.compile(r"\x1b\[[0-9;]*m")
# pyarrow's file system names that differ from their URI schemes.
_SCHEMES = {"gcs": "gs"}


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


def best_so_far(results: Iterable[tuple[dict, dict]], metric: str, mode: str) -> tuple[float, dict] | None:
    """(value, config) of the best ``metric`` among (config, last result) pairs whose result has completed = 1,
    each trial at its best epoch (``best/<metric>``, what it is scored with) where it reports one."""
    best: tuple[float, dict] | None = None
    for config, result in results:
        value = result.get(M.best(metric), result.get(metric))
        if result.get(M.COMPLETED) != 1 or not isinstance(value, numbers.Real) or not math.isfinite(value):
            continue
        if best is None or (value < best[0] if mode == "min" else value > best[0]):
            best = (float(value), config)
    return best


def differing_keys(configs: list[dict]) -> list[str]:
    """The config keys whose values are not the same in every config, sorted."""
    return sorted(differing(configs))


def short_label(config: dict, keys: list[str], limit: int = 60) -> str:
    """``cell=gru lr=0.001``: the ``keys`` of ``config``, at most ``limit`` characters."""
    return fit(" ".join(f"{k}={v:g}" if isinstance(v := config[k], float) else f"{k}={v}"
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
    between trials). ``seeds``: the line names the seeds of the running
    trials (a run that adds seeds where a verdict is open). For the time
    left (``studies.eta``): ``costs(config)``, a trial's arm and cost
    (``eta.Costs.trial``); ``planned``, the full configs of the trials the
    plan fixes, in the order they start (a design).
    """

    def __init__(self, console: Console | None, total: int | None, metric: str, mode: str,
                 epochs_of: Callable[[dict], int | None] = _config_epochs,
                 label_of: Callable[[dict], str] | None = None, *, clock: Callable[[], float] = time.monotonic,
                 seeds: bool = False, autoscaling: int | None = None,
                 costs: Callable[[dict], eta.Trial] = eta.uncosted, planned: Iterable[dict] = ()):
        if mode not in ("min", "max"):
            raise ValueError(f"mode must be 'min' or 'max', not {mode!r}")
        self.console, self.total, self.metric, self.mode = console, total, metric, mode
        self.epochs_of, self.label_of, self.clock, self.seeds = epochs_of, label_of, clock, seeds
        self.autoscaling, self.costs = autoscaling, costs
        self.planned = [(config_key(c), c) for c in planned]
        self._reset()

    def _reset(self) -> None:
        self._began: float | None = None
        self._started: dict[str, tuple[float, int]] = {}  # trial id -> (clock, epoch) when it (re)started
        self._finished: list[eta.Trial] = []  # the trials run from their first epoch to the end here
        self._costed: dict[str, eta.Trial] = {}  # config key -> its arm and cost
        self._keys: dict[str, str] = {}  # trial id -> config key
        self._slots = 1  # the most trials seen running at once
        self._refreshed = -math.inf

    # Tuner pickles RunConfig's callbacks into its own state file: the terminal stays out (a resumed run
    # replaces the restored callbacks with this start's, studies/runner.py).
    def __getstate__(self) -> dict:
        state = self.__dict__.copy()
        state["console"] = None
        return state

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
            costed = self._costing(self._key(trial), trial.config)
            self._finished.append(dataclasses.replace(costed, seconds=self.clock() - started[0]))
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
        left = eta.time_left(running, self._finished, self._to_start(trials, c.pending), self._slots)
        until = "estimating" if left is None else f"~{format_duration(left)} left"
        if self.seeds and left is not None:  # seeds a still-open verdict asks for later are not counted
            until += " for the seeds asked so far"
        return (f"trials: {c.done} done, {c.running} running, {c.failed} failed of {c.total}{self._seeds(trials)} | "
                f"{self._waiting(c)}{self._elapsed()} elapsed, {until}{self._best(trials)}")

    def _waiting(self, c: Counts) -> str:
        if not self.autoscaling or c.running or not c.pending:
            return ""
        return f"waiting for the autoscaler to add nodes for {self.autoscaling} trials at once | "

    def _seeds(self, trials: list) -> str:
        seeds = sorted({t.config.get("seed") for t in trials if t.status == Trial.RUNNING} - {None})
        return f", seeds in flight: {', '.join(map(str, seeds))}" if self.seeds and seeds else ""

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

    def _key(self, trial: Any) -> str:
        # A trial's config does not change: its key is made once (the line is refreshed at every report).
        if trial.trial_id not in self._keys:
            self._keys[trial.trial_id] = config_key(trial.config)
        return self._keys[trial.trial_id]

    def _costing(self, key: str, config: dict) -> eta.Trial:
        if key not in self._costed:
            self._costed[key] = self.costs(config)
        return self._costed[key]

    def _to_start(self, trials: list, n: int) -> list[eta.Trial]:
        """The ``n`` trials still to start, in the order they start: Tune's pending ones, then those the plan fixes
        that Tune has not created (a searched trial not proposed yet: cost unknown)."""
        created = {self._key(t) for t in trials}
        configs = [(self._key(t), t.config) for t in trials if t.status == Trial.PENDING]
        configs += [(key, c) for key, c in self.planned if key not in created]
        known = [self._costing(key, c) for key, c in configs[:n]]
        return known + [eta.Trial(cost=None)] * (n - len(known))

    def _running(self, trial: Any, now: float) -> eta.Running:
        since, first = self._started.get(trial.trial_id, (now, 0))
        epoch, epochs = _epoch(_last(trial)), self.epochs_of(trial.config)
        left = None if epochs is None else max(epochs - epoch, 0)
        # A training-time budget ends the trial long before its epoch cap: pace it by training seconds.
        budget, trained = trial.config.get("budget_s") or 0.0, _last(trial).get(M.TIME_TRAIN) or 0.0
        if budget > 0 and trained > 0 and epoch > 0:
            by_budget = math.ceil(max(budget - trained, 0.0) * epoch / trained)
            left = by_budget if left is None else min(left, by_budget)
        costed = self._costing(self._key(trial), trial.config)
        return eta.Running(now - since, max(epoch - first, 0), left, costed.arm, costed.cost, costed.fixed)

    def _at_best(self, trial: Any) -> dict:
        """A trial's last result with the best value of the metric over all its epochs (Tune keeps it per
        trial): early stopping reports epochs after the best one, whose weights the trial is scored with."""
        result = _last(trial)
        seen = (getattr(trial, "metric_analysis", None) or {}).get(self.metric, {}).get(self.mode)
        return {**result, M.best(self.metric): seen} if isinstance(seen, numbers.Real) else result

    def _best(self, trials: list) -> str:
        best = best_so_far(((t.config, self._at_best(t)) for t in trials), self.metric, self.mode)
        if best is None:
            return ""
        value, config = best
        label = (self.label_of(config) if self.label_of
                 else short_label(config, differing_keys([t.config for t in trials])))
        return f" | best {self.metric} {value:.4g}" + (f" ({label})" if label else "")


def _epoch(result: dict) -> int:
    return int(result.get(M.EPOCH, result.get(M.TRAINING_ITERATION, 0)) or 0)
