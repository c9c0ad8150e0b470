"""What every searcher shares: its plan for the runner, exactly-once resume, ASHA that survives a resume.

Tune keeps a searcher's memory only in its snapshots, which a killed driver
can leave older or newer than the trial list it restores. Here a searcher's
memory is Tune's restored trial list itself: ``DurableSearchGenerator`` hands
it to the searcher's ``reconcile`` on every resume, so each planned trial
runs exactly once, whatever the moment the driver died.
"""

from __future__ import annotations

import json
import pickle
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ray import tune
from ray.tune.schedulers import ASHAScheduler
from ray.tune.search import Searcher, SearchGenerator

from studies import adapter
from trainables.common import metrics as M
from trainables.common import storage
from trainables.common.layout import TRIAL_RESULTS


@dataclass
class Plan:
    """A searcher's answer to the runner: what Tune runs, and what to check before Ray starts."""

    space: dict[str, Any]
    """Tune's param space: the fixed config values (and, for searchers that take them, the domains)."""
    configs: list[Any]
    """Every config the search can propose (each design arm at each seed; each category and range end of a
    searched space), built and so validated before Ray starts."""
    tune_config: tune.TuneConfig
    total: int
    """Trials planned (the live line's denominator)."""
    describe: str
    """One line for the console, e.g. "paper design: 18 arms x 5 seeds = 90 trials"."""
    manifest: dict[str, Any] = field(default_factory=dict)
    """What study.json keeps about the search (e.g. the design)."""
    searcher: Any = None
    """The searcher object, when it needs state on resume (``use_storage``)."""
    planned: list[dict[str, Any]] = field(default_factory=list)
    """The full configs of the trials the plan fixes, in the order they start (a design's; a searched trial is
    not known before it is proposed): the live line's time left costs each by its arm."""


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


def tune_trials(run_dir: str) -> dict[str, TuneTrial]:
    """The trials of the newest snapshot in ``run_dir``, as Tune restores them."""
    snapshot = adapter.read_snapshot(run_dir)
    if snapshot is None:
        return {}
    return {t.trial_id: TuneTrial(t.status, t.params, t.last_result) for t in snapshot.trials}


def config_key(config: Mapping[str, Any]) -> str:
    """One text per distinct config, however Tune flattened or reordered it."""
    return json.dumps({k: config[k] for k in sorted(config)}, default=str)


class AssigningSearcher(Searcher):
    """A searcher that keeps which config each Tune trial holds (``assigned``), saved with Tune's snapshot."""

    assigned: dict[str, Any]

    def save(self, checkpoint_path: str) -> None:
        with open(checkpoint_path, "wb") as fh:
            pickle.dump({"assigned": self.assigned}, fh)

    def restore(self, checkpoint_path: str) -> None:
        with open(checkpoint_path, "rb") as fh:
            self.assigned = pickle.load(fh).get("assigned", {})


class ListSearcher(AssigningSearcher):
    """Proposes a fixed list of configs in order, each once; limits concurrency itself.

    Tune's ConcurrencyLimiter keeps its own list of live trials, which a
    resume from a stale snapshot gets wrong; this one rebuilds it from Tune's
    trials (``reconcile``).
    """

    def __init__(self, configs: list[dict[str, Any]], metric: str, mode: str, max_concurrent: int = 0) -> None:
        super().__init__(metric=metric, mode=mode)
        self.configs = [dict(c) for c in configs]
        self.max_concurrent = max_concurrent
        self.assigned: dict[str, int] = {}  # Tune trial id -> index into configs
        self.live: set[str] = set()

    def suggest(self, trial_id: str) -> dict | str | None:
        if trial_id in self.assigned:
            return dict(self.configs[self.assigned[trial_id]])
        if self.max_concurrent and len(self.live) >= self.max_concurrent:
            return None
        taken = set(self.assigned.values())
        index = next((i for i in range(len(self.configs)) if i not in taken), None)
        if index is None:
            return Searcher.FINISHED
        self.assigned[trial_id] = index
        self.live.add(trial_id)
        return dict(self.configs[index])

    def on_trial_complete(self, trial_id: str, result: dict | None = None, error: bool = False) -> None:
        self.live.discard(trial_id)

    def reconcile(self, trials: Mapping[str, TuneTrial]) -> dict[str, int]:
        """Which configs Tune's trials already hold; counts of what was found."""
        index = {config_key(c): i for i, c in enumerate(self.configs)}
        self.assigned, self.live = {}, set()
        unknown = 0
        for tid, trial in trials.items():
            i = index.get(config_key(trial.params))
            if i is None:
                unknown += 1
                continue
            self.assigned[tid] = i
            if not trial.finished:
                self.live.add(tid)
        return {"unknown": unknown} if unknown else {}


class DurableSearchGenerator(SearchGenerator):
    """Tune's SearchGenerator whose restore trusts Tune's trial list over its own snapshot."""

    def restore_from_dir(self, dirpath: str) -> None:
        super().restore_from_dir(dirpath)
        trials = tune_trials(dirpath)
        # The generator's own count may be ahead of the trial list (trials would be lost)
        # or behind it (trials would be proposed twice).
        adapter.set_generator_count(self, len(trials))
        fixed = self.searcher.reconcile(trials)
        if any(fixed.values()):
            print(f"note: the searcher was reconciled with the resumed trials: {fixed}")


def result_history(run_dir: str, metric: str) -> dict[str, dict[int, float]]:
    """Per trial id, its reported (epoch -> ``metric``), read from the trial folders' results."""
    history: dict[str, dict[int, float]] = {}
    for name in storage.list_names(run_dir):
        text = storage.read_text(storage.join(run_dir, name, TRIAL_RESULTS)) or ""
        for line in text.splitlines():
            try:
                row = json.loads(line)
            except ValueError:  # a line a crash cut short
                continue
            if metric in row and M.EPOCH in row:
                history.setdefault(row["trial_id"], {})[int(row[M.EPOCH])] = float(row[metric])
    return history


class ResumableASHA(ASHAScheduler):
    """ASHA whose rungs survive ``--resume``: rebuilt from the trials' reported results on the first trial added.

    Tune does not save a scheduler's state (ray-project/ray#30838); without this
    a resumed run compares trials only with those that reach a rung after the
    resume. The run folder is the one the trials live in, wherever it is now.
    """

    def __init__(self, run_dir: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.run_dir = run_dir
        self.rebuilt = False

    def on_trial_add(self, tune_controller: Any, trial: Any) -> None:
        if not self.rebuilt:
            self.rebuilt = True
            # Where the run is now (the folder may have moved since this scheduler was pickled).
            here = getattr(tune_controller, "experiment_path", None)
            run_dir = here if here and Path(here).is_dir() else self.run_dir
            if self.metric:
                self.rebuild(result_history(run_dir, self.metric))
        super().on_trial_add(tune_controller, trial)

    def rebuild(self, history: Mapping[str, Mapping[int, float]]) -> int:
        """Record each trial's value at each rung's milestone; how many were recorded."""
        count = 0
        sign = adapter.asha_sign(self)
        for milestone, recorded in adapter.asha_rungs(self):
            for tid, values in history.items():
                if milestone in values and tid not in recorded:
                    recorded[tid] = sign * values[milestone]
                    count += 1
        if count:
            print(f"note: ASHA: {count} rung value(s) restored from the trials' results")
        return count




def asha(run_dir: str, max_t: int, grace_period: int) -> ResumableASHA:
    """ASHA over the loop's epochs (rounds): what trials are compared at (metric and mode come from the TuneConfig)."""
    return ResumableASHA(run_dir, time_attr=M.EPOCH, max_t=max_t, grace_period=min(grace_period, max_t))


def longest_first(configs: list[Any]) -> list[Any]:
    """Trials whose config fixes their length (``TrialConfig.known_epochs``) first, the longest first; the rest
    after them in their order. The long trials then start while short ones fill the other slots, so a run does
    not end with one long trial alone."""
    return sorted(configs, key=lambda c: -(c.known_epochs or 0))


def list_plan(ctx: Any, values: list[dict[str, Any]], describe: str, scheduler: Any = None,
              manifest: dict[str, Any] | None = None, order: Any = None) -> Plan:
    """A plan that runs exactly ``values`` (config values), each once, in order (or in ``order(configs)``).

    Tune's param space holds what every trial shares; the searcher proposes
    only what varies, so trial names and Tune's tables stay short.
    """
    from trainables.common.config import differing, to_dict

    configs = ctx.build_configs(values)
    if order is not None:
        configs = order(configs)
    full = [to_dict(c) for c in configs]
    keys = differing(full)
    searcher = ListSearcher([{k: c[k] for k in keys} for c in full], ctx.metric, ctx.mode, ctx.args.max_concurrent)
    config = tune.TuneConfig(metric=ctx.metric, mode=ctx.mode, num_samples=len(full),
                             search_alg=DurableSearchGenerator(searcher), scheduler=scheduler)
    common = {k: v for k, v in full[0].items() if k not in keys}
    return Plan(common, configs, config, len(full), describe, manifest=manifest or {}, searcher=searcher,
                planned=full)
