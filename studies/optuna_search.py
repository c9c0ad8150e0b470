"""Optuna searches that lose nothing when the driver is killed.

Ray Tune keeps a searcher's state only in its experiment snapshots, and a
snapshot can be older or newer than the trial list it is restored with (the
files are written and copied one after the other): a restored searcher then
believes it proposed trials that Tune never saw, or forgets ones it did. Here
the Optuna study lives in a database (SQLite ``optuna.db`` in the run folder by
default, any SQLAlchemy URL with ``--optuna-storage``) and is the searcher's
only memory. On resume, Tune's restored trial list is the truth and the
database is reconciled with it:

- every Optuna trial carries its Tune trial id (user attribute ``tune_trial_id``);
- a trial asked but never recorded by Tune is marked FAIL (and replaced by a
  new proposal, so the run still ends with ``--num-samples`` trials);
- a trial Tune finished but the database still has RUNNING is told now;
- the trial counter and the concurrency limit follow Tune's trial list;
- ASHA's rungs, which Tune does not restore, are rebuilt from the per-epoch
  values in the database.

Trials stopped by ASHA reach Optuna as PRUNED with their per-epoch values,
not as COMPLETE with a low-budget score; trials that ran all their epochs
(their last report has ``completed``) as COMPLETE.
"""

from __future__ import annotations

import json
import logging
import pickle
import warnings
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import optuna
from optuna.trial import TrialState
from ray.tune.execution.experiment_state import _find_newest_experiment_checkpoint
from ray.tune.schedulers import ASHAScheduler
from ray.tune.search import SearchGenerator
from ray.tune.search.optuna import OptunaSearch

from trainables.common import metrics as M
from trainables.common import storage
from trainables.common.layout import OPTUNA_DB

TUNE_ID = "tune_trial_id"
LOST = "the driver stopped before Tune recorded this trial"
# Set by the runner before a resumed Tuner starts: the database the restored searcher opens.
storage_override: str | None = None
logger = logging.getLogger(__name__)


def default_storage(run_dir: str, name: str) -> str:
    """SQLite in a local run folder; for an s3:// / gs:// run folder, ``optuna-NAME.db`` in the
    current directory (SQLite cannot live in an object store)."""
    if storage.is_uri(run_dir):
        return f"sqlite:///{Path.cwd() / f'optuna-{name}.db'}"
    return f"sqlite:///{Path(run_dir) / OPTUNA_DB}"


def redacted(url: str) -> str:
    """The URL without its password, for logs and provenance."""
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)


def open_storage(url: str) -> optuna.storages.RDBStorage:
    # A reader (optuna-dashboard, analysis) may hold the SQLite file briefly: wait rather than fail.
    engine_kwargs = {"connect_args": {"timeout": 60}} if url.startswith("sqlite") else {}
    return optuna.storages.RDBStorage(url, engine_kwargs=engine_kwargs)


def stored_trials(url: str, study_name: str) -> tuple[Any, list]:
    """(the storage, the trials of ``study_name`` in it; none when there is no such study)."""
    db = open_storage(url)
    try:
        study_id = db.get_study_id_from_name(study_name)
    except KeyError:
        return db, []
    return db, db.get_all_trials(study_id, deepcopy=False)


def existing_trials(url: str, study_name: str) -> int:
    """Trials of ``study_name`` already in the database (0 when there is no such study)."""
    return len(stored_trials(url, study_name)[1])


def fail_unfinished(url: str, study_name: str) -> int:
    """Mark the study's RUNNING and WAITING trials FAIL (their driver is gone); how many."""
    db, trials = stored_trials(url, study_name)
    stale = [t for t in trials if not t.state.is_finished()]
    for t in stale:
        db.set_trial_user_attr(t._trial_id, "lost", LOST)
        db.set_trial_state_values(t._trial_id, TrialState.FAIL)
    return len(stale)


@dataclass
class TuneTrial:
    """What Tune's restored snapshot says about one trial."""

    status: str
    params: dict[str, Any] = field(default_factory=dict)
    last_result: dict[str, Any] = field(default_factory=dict)

    @property
    def finished(self) -> bool:
        # ERROR trials are resumed (resume_errored): they run again.
        return self.status == "TERMINATED"


def tune_trials(dirpath: str) -> dict[str, TuneTrial]:
    """The trials of the newest experiment snapshot in ``dirpath``, as Tune restores them."""
    path = _find_newest_experiment_checkpoint(dirpath)
    if path is None:
        return {}
    state = json.loads(Path(path).read_text())
    out = {}
    for trial_json, meta_json in state["trial_data"]:
        trial, meta = json.loads(trial_json), json.loads(meta_json)
        params = trial.get("evaluated_params") or {}
        out[trial["trial_id"]] = TuneTrial(trial["status"], dict(params), meta.get("last_result") or {})
    return out


class DurableOptunaSearch(OptunaSearch):
    """Ray's OptunaSearch on a database study, reconciled with Tune on resume, limiting concurrency itself."""

    def __init__(self, url: str, study_name: str, metric: str, mode: str, seed: int = 0,
                 max_concurrent: int = 0) -> None:
        super().__init__(metric=metric, mode=mode, study_name=study_name, seed=seed)
        self.url = url
        self.max_concurrent = max_concurrent
        self.live: set[str] = set()

    def _setup_study(self, mode: Any) -> None:
        if storage_override:  # resumed: the run folder may have moved, or --optuna-storage names another
            self.url = storage_override
        self._storage = open_storage(self.url)
        super()._setup_study(mode)

    def suggest(self, trial_id: str) -> dict | None:
        if self.max_concurrent and len(self.live) >= self.max_concurrent:
            return None
        params = super().suggest(trial_id)
        self._ot_trials[trial_id].set_user_attr(TUNE_ID, trial_id)
        self.live.add(trial_id)
        return params

    def on_trial_result(self, trial_id: str, result: dict) -> None:
        if trial_id in self._completed_trials or trial_id not in self._ot_trials:
            return  # a trial the database already has finished, rerunning its last epochs
        self._report(trial_id, result)

    def on_trial_complete(self, trial_id: str, result: dict | None = None, error: bool = False) -> None:
        self.live.discard(trial_id)
        if trial_id in self._completed_trials or trial_id not in self._ot_trials:
            return
        self._tell(trial_id, result, error)

    def _report(self, trial_id: str, result: Mapping[str, Any]) -> None:
        # The loop's epoch, where reported: it stays right when a trial resumed from a newer
        # checkpoint than Tune's snapshot named (Tune's iteration counter then lags).
        value, step = result.get(self._metric), result.get(M.EPOCH, result.get(M.TRAINING_ITERATION))
        if value is None or step is None:
            return
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # a step already reported, by a run killed after it
            self._ot_trials[trial_id].report(float(value), int(step))

    def _tell(self, trial_id: str, result: Mapping[str, Any] | None, error: bool) -> None:
        """FAIL on error; COMPLETE when the trial ran to its end; else PRUNED (stopped by ASHA)."""
        if error:
            state, value = TrialState.FAIL, None
        elif result and result.get(M.COMPLETED) and result.get(self._metric) is not None:
            self._report(trial_id, result)
            state, value = TrialState.COMPLETE, float(result[self._metric])
        else:
            # Tune does not pass the stopping report to on_trial_result: record it first,
            # so the pruned trial's value is its last epoch's.
            self._report(trial_id, result or {})
            state, value = TrialState.PRUNED, None
        try:
            self._ot_study.tell(self._ot_trials[trial_id], value, state=state)
        except (ValueError, RuntimeError) as exc:  # e.g. told twice (UpdateFinishedTrialError)
            logger.warning("Optuna trial of %s: %s", trial_id, exc)
        self._completed_trials.add(trial_id)

    def save(self, checkpoint_path: str) -> None:
        # The database holds the trials; only the sampler's random state lives here.
        sampler = self._ot_study.sampler if self._ot_study is not None else None
        with open(checkpoint_path, "wb") as fh:
            pickle.dump({"sampler": sampler}, fh)

    def restore(self, checkpoint_path: str) -> None:
        with open(checkpoint_path, "rb") as fh:
            saved = pickle.load(fh)
        if isinstance(saved, dict) and saved.get("sampler") is not None and self._ot_study is not None:
            self._ot_study.sampler = saved["sampler"]

    def reconcile(self, trials: Mapping[str, TuneTrial]) -> dict[str, int]:
        """Make the database agree with Tune's restored ``trials``; counts of what was fixed."""
        db, study = self._storage, self._ot_study
        fixed = {"lost": 0, "told": 0, "adopted": 0}
        mine: dict[str, optuna.trial.FrozenTrial] = {}
        for ft in study.get_trials(deepcopy=False):
            tid = ft.user_attrs.get(TUNE_ID)
            if tid in trials and tid not in mine and not (ft.state == TrialState.FAIL and not trials[tid].finished):
                mine[tid] = ft
            elif not ft.state.is_finished():  # asked, but the driver died before Tune recorded it
                db.set_trial_user_attr(ft._trial_id, "lost", LOST)
                db.set_trial_state_values(ft._trial_id, TrialState.FAIL)
                fixed["lost"] += 1
        self._ot_trials, self._completed_trials, self.live = {}, set(), set()
        for tid, trial in trials.items():
            ft = mine.get(tid)
            if ft is None:  # a failed trial Tune retries, or one the database never had: a fresh Optuna trial
                ft = self._adopt(tid, trial.params)
                fixed["adopted"] += 1
            self._ot_trials[tid] = optuna.Trial(study, ft._trial_id)
            if ft.state.is_finished():
                self._completed_trials.add(tid)
            elif trial.finished:
                self._tell(tid, trial.last_result, error=False)
                fixed["told"] += 1
            if not trial.finished:
                self.live.add(tid)
        return fixed

    def _adopt(self, trial_id: str, params: dict[str, Any]) -> optuna.trial.FrozenTrial:
        self._ot_study.enqueue_trial({k: v for k, v in params.items() if k in self._space},
                                     user_attrs={TUNE_ID: trial_id})
        trial = self._ot_study.ask(fixed_distributions=self._space)
        return self._ot_study._storage.get_trial(trial._trial_id)

    def history(self) -> dict[str, dict[int, float]]:
        """Per Tune trial, its reported (step -> value), from the database."""
        if self._ot_study is None:
            return {}
        out = {}
        for tid, trial in self._ot_trials.items():
            out[tid] = dict(self._storage.get_trial(trial._trial_id).intermediate_values)
        return out


class DurableSearchGenerator(SearchGenerator):
    """Tune's SearchGenerator whose restore trusts Tune's trial list over its own snapshot."""

    def restore_from_dir(self, dirpath: str) -> None:
        super().restore_from_dir(dirpath)
        trials = tune_trials(dirpath)
        # The snapshot's counter may be ahead of the trial list (trials would be lost)
        # or behind it (trials would be proposed twice).
        self._counter = len(trials)
        self._finished = False
        fixed = self.searcher.reconcile(trials)
        if any(fixed.values()):
            print(f"Optuna study reconciled with the resumed trials: {fixed}")


class ResumableASHA(ASHAScheduler):
    """ASHA whose rungs survive ``--resume``: rebuilt from the searcher's database on the first trial added.

    Tune does not save a scheduler's state (ray-project/ray#30838); without this
    a resumed run compares trials only with those that reach a rung after the
    resume. Every bracket gets the same rungs (the studies use one bracket).
    """

    def __init__(self, searcher: DurableOptunaSearch, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.searcher = searcher
        self.rebuilt = False

    def on_trial_add(self, tune_controller: Any, trial: Any) -> None:
        if not self.rebuilt:
            self.rebuilt = True
            self.rebuild(self.searcher.history())
        super().on_trial_add(tune_controller, trial)

    def rebuild(self, history: Mapping[str, Mapping[int, float]]) -> int:
        """Record each trial's value at each rung's milestone; how many were recorded."""
        count = 0
        for bracket in self._brackets:
            for milestone, recorded in bracket._rungs:
                for tid, values in history.items():
                    if milestone in values and tid not in recorded:
                        recorded[tid] = self._metric_op * values[milestone]
                        count += 1
        if count:
            print(f"ASHA: {count} rung value(s) restored from the Optuna study")
        return count

    def rungs(self) -> list[dict[str, float]]:
        """Recorded values per rung, lowest milestone first (for tests and debugging)."""
        return [dict(recorded) for _, recorded in reversed(self._brackets[0]._rungs)]
