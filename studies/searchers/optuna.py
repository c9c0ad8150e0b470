"""``--search optuna``: TPE proposals from an Optuna study in a database, ASHA stopping the weak trials.

The Optuna study lives in a database (SQLite ``optuna.db`` in the run folder
by default, any SQLAlchemy URL with ``--optuna-storage``), driven through
Optuna's ask-and-tell interface; it is the searcher's only memory besides
Tune's own trial list. On resume the database is reconciled with that list:

- every Optuna trial carries its Tune trial id (user attribute ``tune_trial_id``);
- a trial asked but never recorded by Tune is marked FAIL (and replaced by a
  new proposal, so the run still ends with ``--num-samples`` trials);
- a trial Tune finished but the database still has RUNNING is told now;
- the concurrency limit follows Tune's trial list.

Trials stopped by ASHA reach Optuna as PRUNED with their per-epoch values,
trials that ran all their epochs (their last report has ``completed``) as
COMPLETE. ASHA's rungs are rebuilt from the trials' results on resume.
"""

from __future__ import annotations

import argparse
import logging
import pickle
import warnings
from collections.abc import Mapping
from typing import Any

import optuna
from optuna.trial import TrialState
from ray import tune
from ray.tune.search import Searcher
from ray.tune.search.optuna import OptunaSearch

from studies import adapter, mirror
from studies.context import Context
from studies.searchers import base
from studies.searchers.spaces import checked_configs, split_space
from trainables.common import metrics as M
from trainables.common.layout import OPTUNA_DB

NAME = "optuna"
HELP = "TPE proposals over the study's search space (an Optuna study in a database), ASHA stopping weak trials"
TUNE_ID = "tune_trial_id"
LOST = "the driver stopped before Tune recorded this trial"
STORAGE_ENV = "STUDY_OPTUNA_STORAGE"  # a cluster shares one database among studies and nodes (docs/cluster.md)
logger = logging.getLogger(__name__)


def add_flags(group: argparse._ArgumentGroup) -> None:
    import os

    group.add_argument("--optuna-storage", default=os.environ.get(STORAGE_ENV), metavar="URL",
                       help="database of the Optuna study (--search optuna), any SQLAlchemy URL, e.g. "
                            f"postgresql+psycopg2://user@host/db (default: ${STORAGE_ENV} if set, else "
                            "sqlite:///RUN_DIR/optuna.db; for an s3:// or gs:// run, NAME-RUN_ID.optuna.db in the "
                            "current directory, copied into the run folder as it runs); the study is named NAME/RUN_ID")


def default_storage(run_dir: str) -> str:
    """SQLite in a local run folder; for an object-store run folder, a local file pushed into it
    (``studies.mirror``: SQLite cannot live in an object store)."""
    return f"sqlite:///{mirror.local_path(run_dir, OPTUNA_DB)}"


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


def fail_unfinished(url: str, study_name: str) -> int:
    """Mark the study's RUNNING and WAITING trials FAIL (their driver is gone); how many."""
    db, trials = stored_trials(url, study_name)
    stale = [t for t in trials if not t.state.is_finished()]
    for t in stale:
        mark_lost(db, t)
    return len(stale)


def mark_lost(db: Any, trial: Any) -> None:
    db.set_trial_user_attr(adapter.optuna_trial_id(trial), "lost", LOST)
    db.set_trial_state_values(adapter.optuna_trial_id(trial), TrialState.FAIL)


class OptunaSearcher(Searcher):
    """Tune's searcher over an Optuna study in a database (ask and tell), limiting concurrency itself."""

    def __init__(self, space: Mapping[str, Any], url: str, study_name: str, metric: str, mode: str,
                 seed: int = 0, max_concurrent: int = 0) -> None:
        super().__init__(metric=metric, mode=mode)
        # Tune's domains as Optuna distributions (Ray's own conversion).
        self.distributions = OptunaSearch.convert_search_space(dict(space))
        self.url, self.study_name, self.max_concurrent = url, study_name, max_concurrent
        self.sampler = optuna.samplers.TPESampler(seed=seed)
        self.trials: dict[str, int] = {}  # Tune trial id -> Optuna's trial id
        self.finished: set[str] = set()
        self.live: set[str] = set()
        self._study: optuna.Study | None = None

    def __getstate__(self) -> dict:
        return {**self.__dict__, "_study": None}  # a database connection is not pickled

    def use_storage(self, url: str) -> None:
        """Continue in the database at ``url`` (a resumed run: the run folder may have moved)."""
        self.url, self._study = url, None

    @property
    def study(self) -> optuna.Study:
        if self._study is None:
            direction = "minimize" if self.mode == "min" else "maximize"
            self._study = optuna.create_study(storage=open_storage(self.url), sampler=self.sampler,
                                              study_name=self.study_name, direction=direction, load_if_exists=True)
        return self._study

    def suggest(self, trial_id: str) -> dict | None:
        if self.max_concurrent and len(self.live) >= self.max_concurrent:
            return None
        trial = self.study.ask(fixed_distributions=self.distributions)
        trial.set_user_attr(TUNE_ID, trial_id)
        self.trials[trial_id] = adapter.optuna_trial_id(trial)
        self.live.add(trial_id)
        return dict(trial.params)

    def _trial(self, trial_id: str) -> optuna.Trial:
        return optuna.Trial(self.study, self.trials[trial_id])

    def on_trial_result(self, trial_id: str, result: dict) -> None:
        if trial_id in self.finished or trial_id not in self.trials:
            return  # a trial the database already has finished, rerunning its last epochs
        self._report(trial_id, result)

    def on_trial_complete(self, trial_id: str, result: dict | None = None, error: bool = False) -> None:
        self.live.discard(trial_id)
        if trial_id in self.finished or trial_id not in self.trials:
            return
        self._tell(trial_id, result, error)

    def _report(self, trial_id: str, result: Mapping[str, Any]) -> None:
        # The loop's epoch: it stays right when a trial resumed from a newer checkpoint than
        # Tune's snapshot named (Tune's own counter then lags).
        value, step = result.get(self.metric), result.get(M.EPOCH, result.get(M.TRAINING_ITERATION))
        if value is None or step is None:
            return
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # a step already reported, by a run killed after it
            self._trial(trial_id).report(float(value), int(step))

    def _tell(self, trial_id: str, result: Mapping[str, Any] | None, error: bool) -> None:
        """FAIL on error; COMPLETE when the trial ran to its end; else PRUNED (stopped by ASHA)."""
        if error:
            state, value = TrialState.FAIL, None
        elif result and result.get(M.COMPLETED) and result.get(self.metric) is not None:
            self._report(trial_id, result)
            state, value = TrialState.COMPLETE, float(result[self.metric])
        else:
            # Tune does not pass the stopping report to on_trial_result: record it first,
            # so the pruned trial's value is its last epoch's.
            self._report(trial_id, result or {})
            state, value = TrialState.PRUNED, None
        try:
            self.study.tell(self._trial(trial_id), value, state=state)
        except (ValueError, RuntimeError) as exc:  # e.g. told twice (UpdateFinishedTrialError)
            logger.warning("Optuna trial of %s: %s", trial_id, exc)
        self.finished.add(trial_id)

    def save(self, checkpoint_path: str) -> None:
        # The database holds the trials; only the sampler's random state lives here.
        with open(checkpoint_path, "wb") as fh:
            pickle.dump({"sampler": self.sampler}, fh)

    def restore(self, checkpoint_path: str) -> None:
        with open(checkpoint_path, "rb") as fh:
            saved = pickle.load(fh)
        if isinstance(saved, dict) and saved.get("sampler") is not None:
            self.sampler, self._study = saved["sampler"], None

    def reconcile(self, trials: Mapping[str, base.TuneTrial]) -> dict[str, int]:
        """Make the database agree with Tune's restored ``trials``; counts of what was fixed."""
        db = open_storage(self.url)
        fixed = {"lost": 0, "told": 0, "adopted": 0}
        mine: dict[str, optuna.trial.FrozenTrial] = {}
        for ft in self.study.get_trials(deepcopy=False):
            tid = ft.user_attrs.get(TUNE_ID)
            if tid in trials and tid not in mine and not (ft.state == TrialState.FAIL and not trials[tid].finished):
                mine[tid] = ft
            elif not ft.state.is_finished():  # asked, but the driver died before Tune recorded it
                mark_lost(db, ft)
                fixed["lost"] += 1
        self.trials, self.finished, self.live = {}, set(), set()
        for tid, trial in trials.items():
            ft = mine.get(tid)
            if ft is None:  # a failed trial Tune retries, or one the database never had: a fresh Optuna trial
                ft = self._adopt(tid, trial.params)
                fixed["adopted"] += 1
            self.trials[tid] = adapter.optuna_trial_id(ft)
            if ft.state.is_finished():
                self.finished.add(tid)
            elif trial.finished:
                self._tell(tid, trial.last_result, error=False)
                fixed["told"] += 1
            if not trial.finished:
                self.live.add(tid)
        return fixed

    def _adopt(self, trial_id: str, params: dict[str, Any]) -> optuna.trial.FrozenTrial:
        self.study.enqueue_trial({k: v for k, v in params.items() if k in self.distributions},
                                 user_attrs={TUNE_ID: trial_id})
        number = self.study.ask(fixed_distributions=self.distributions).number
        return next(t for t in self.study.get_trials(deepcopy=False) if t.number == number)


def plan(ctx: Context) -> base.Plan:
    """TPE over the study's space with ASHA; every category and range end checked before Ray starts."""
    fixed, domains = split_space(ctx.declared_space())
    configs = checked_configs(ctx, fixed, domains)
    url = ctx.optuna_url
    searcher = OptunaSearcher(domains, url, ctx.optuna_study, ctx.metric, ctx.mode, seed=0,
                              max_concurrent=ctx.args.max_concurrent)
    config = tune.TuneConfig(metric=ctx.metric, mode=ctx.mode, num_samples=ctx.args.num_samples,
                             search_alg=base.DurableSearchGenerator(searcher),
                             scheduler=base.asha(ctx.run_dir, max(c.epochs for c in configs), ctx.study.grace_period))
    return base.Plan(ctx.fixed_space(fixed), configs, config, ctx.args.num_samples,
                     f"Optuna TPE + ASHA: {ctx.args.num_samples} trials, study {ctx.optuna_study!r} in {redacted(url)}",
                     manifest={"optuna_study": ctx.optuna_study}, searcher=searcher)
