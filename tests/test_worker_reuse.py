"""Trials that share a worker (``--reuse-workers``) run exactly as each would in a fresh one."""

from __future__ import annotations

import torch
from ray import tune
from ray.tune.search import SearchGenerator

from studies.searchers.base import ListSearcher
from tests.chargen_helpers import TINY as TINY_CHARS
from tests.chargen_helpers import tiny_text
from tests.helpers import synthetic_prices
from trainables.chargen.data import Corpus
from trainables.chargen.task import TASK as CHARGEN
from trainables.common import runtime
from trainables.common.task import trainable
from trainables.stock.task import TASK as STOCK


def run_in_turn(task, data, configs: list[dict], reuse: bool, path) -> list[tuple[int, dict]]:
    """``configs`` one after the other on a 2-CPU local Ray; per trial, in order, its worker's pid and its
    final metrics (clocks left out: they are the ``time/`` ones)."""
    searcher = ListSearcher(configs, task.metric, task.mode, max_concurrent=1)
    tuner = tune.Tuner(
        tune.with_resources(tune.with_parameters(trainable(task), data=data), {"cpu": 1}),
        tune_config=tune.TuneConfig(metric=task.metric, mode=task.mode, num_samples=len(configs),
                                    search_alg=SearchGenerator(searcher), reuse_actors=reuse),
        run_config=tune.RunConfig(storage_path=str(path), name="reuse" if reuse else "fresh", verbose=0),
    )
    grid = tuner.fit()
    assert not grid.errors
    by_config = {repr(sorted(r.config.items())): r.metrics for r in grid}
    out = []
    for config in configs:
        metrics = by_config[repr(sorted(config.items()))]
        out.append((metrics["pid"], {k: v for k, v in metrics.items() if k.startswith(("train/", "val/", "test/"))}))
    return out


def check_same_numbers(task, data, a: dict, b: dict, tmp_path) -> None:
    """A then B in one worker; B alone in a fresh one (A ran in a fresh one already)."""
    (pid_a, after_nothing), (pid_b, after_a) = run_in_turn(task, data, [a, b], True, tmp_path)
    [(_, alone)] = run_in_turn(task, data, [b], False, tmp_path)
    assert pid_a == pid_b, "B did not run in A's worker"
    assert after_nothing and after_a != after_nothing
    assert after_a == alone  # exactly: no tolerance


def test_q1_trials_in_a_reused_worker_give_a_fresh_workers_numbers(ray_cluster, tmp_path):
    tiny = {"hidden_size": 8, "batch_size": 16, "window": 10, "epochs": 2, "dropout": 0.2}
    a, b = {**tiny, "cell": "lstm", "seed": 1}, {**tiny, "cell": "gru", "seed": 2}
    check_same_numbers(STOCK, synthetic_prices(n=160), a, b, tmp_path)


def test_q2_trials_in_a_reused_worker_give_a_fresh_workers_numbers(ray_cluster, tmp_path):
    """A asks for bfloat16 (the trainer uses it where this CPU has the kernels), B trains in float32."""
    a = {**TINY_CHARS, "seed": 1, "cpu_bf16": True}
    b = {**TINY_CHARS, "seed": 2, "dropout": 0.1}
    check_same_numbers(CHARGEN, Corpus(tiny_text(4000), "tiny"), a, b, tmp_path)


def test_reset_process_puts_back_a_fresh_processes_settings():
    torch.use_deterministic_algorithms(True)
    torch.backends.cudnn.benchmark = True
    try:
        runtime.reset_process()
        assert not torch.are_deterministic_algorithms_enabled()
        assert not torch.backends.cudnn.benchmark and not torch.backends.cudnn.deterministic
    finally:
        torch.use_deterministic_algorithms(False)
        torch.backends.cudnn.benchmark = False


def test_a_deterministic_trial_s_settings_are_undone_for_the_next(monkeypatch):
    monkeypatch.delenv(runtime.CUBLAS_WORKSPACE_ENV, raising=False)
    runtime.setup_device(threads=1, deterministic=True)
    try:
        assert torch.are_deterministic_algorithms_enabled() and torch.is_deterministic_algorithms_warn_only_enabled()
        assert runtime.os.environ[runtime.CUBLAS_WORKSPACE_ENV] == runtime.CUBLAS_DETERMINISTIC
    finally:
        runtime.reset_process()
    assert not torch.are_deterministic_algorithms_enabled()


def test_reset_process_collects_garbage_only_to_give_cuda_memory_back(monkeypatch):
    """A full collection walks every object the worker holds (0.1 s a trial on CPU) and is only needed
    before CUDA's cache is emptied; tensors on the CPU are freed as soon as the last trial drops them."""
    calls = []
    monkeypatch.setattr(runtime.gc, "collect", lambda *a: calls.append("collect") or 0)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    runtime.reset_process()
    assert calls == []
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "empty_cache", lambda: calls.append("empty_cache"))
    monkeypatch.setattr(torch.cuda, "reset_peak_memory_stats", lambda: calls.append("reset_peak"))
    runtime.reset_process()
    assert calls == ["collect", "empty_cache", "reset_peak"]


def test_preload_freezes_what_the_imports_made_so_collections_skip_it(monkeypatch):
    frozen = []
    monkeypatch.setattr(runtime.gc, "freeze", lambda: frozen.append(True))
    runtime.preload()
    assert frozen == [True]
