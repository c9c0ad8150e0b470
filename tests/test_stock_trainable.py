"""The q1 trainable under a real (small) Ray: reports, checkpoints, resume after a crash."""

import io
from pathlib import Path

import pandas as pd
import pytest
import torch
from ray import tune

from studies.console import Console
from studies.placement import GpuFallbackNote
from tests.helpers import synthetic_prices
from trainables.common import checkpoint
from trainables.common import metrics as M
from trainables.common.faults import MARKER
from trainables.common.layout import TRIAL_RESULTS
from trainables.common.task import trainable
from trainables.stock.task import TASK
from trainables.stock.trainer import PREDICTIONS_FILE

TINY = {"hidden_size": 8, "batch_size": 16, "window": 10, "epochs": 4, "checkpoint_every": 1}


def run(tmp_path, config, name, max_failures=0, resources=None, callbacks=None):
    fn = tune.with_parameters(trainable(TASK), data=synthetic_prices(n=160))
    tuner = tune.Tuner(
        tune.with_resources(fn, resources) if resources else fn,
        param_space=config,
        run_config=tune.RunConfig(name=name, storage_path=str(tmp_path), verbose=0, callbacks=callbacks,
                                  failure_config=tune.FailureConfig(max_failures=max_failures)),
    )
    return tuner.fit()


def test_trial_reports_every_epoch_and_tests_against_persistence(ray_cluster, tmp_path):
    result = run(tmp_path, {**TINY, "cell": "gru"}, "plain")[0]
    assert result.error is None
    history = result.metrics_dataframe
    assert history[M.EPOCH].tolist() == [1, 2, 3, 4]
    for name in (M.TRAIN_LOSS, M.VAL_LOSS, "val/rmse/GOOG", "val/mae/AAPL", "val/mape/AAPL"):
        assert history[name].notna().all() and (history[name] > 0).all()
    final = result.metrics
    assert final[M.TEST_MAPE] > 0 and final[M.PERSISTENCE_TEST_MAPE] > 0
    assert final[M.TIME_TOTAL] >= history[M.TIME_EPOCH].sum() * 0.99
    # Placement: given no GPU, every report says so and names the CPU it trained on.
    assert set(history[M.GPU_IDS]) == {""} and set(history[M.DEVICE]) == {"cpu"}
    with result.checkpoint.as_directory() as d:
        state = checkpoint.load_state(d)
        predictions = pd.read_csv(Path(d) / PREDICTIONS_FILE)
    assert state["progress"]["epoch"] == 4 and state["config"]["cell"] == "gru"
    assert Path(result.path).name.startswith("train_stock_")
    assert set(predictions["ticker"]) == {"GOOG", "AAPL"}
    assert len(predictions) == 2 * int(150 * 0.15)


def test_crashed_trial_resumes_from_its_checkpoint(ray_cluster, tmp_path):
    results = run(tmp_path, {**TINY, "fail_at_epoch": 3}, "crash", max_failures=1)
    result = results[0]
    assert result.error is None
    assert Path(result.path, MARKER).read_text() == "3"  # the worker really died at epoch 3
    reports = pd.read_json(Path(result.path, TRIAL_RESULTS), lines=True)  # every report as written, duplicates included
    # Epochs 1-2 ran before the crash and were not run again; 3-4 ran after the restore.
    assert reports[M.EPOCH].tolist() == [1, 2, 3, 4]
    assert result.metrics[M.EPOCH] == 4 and result.metrics[M.TEST_MAPE] > 0 and result.metrics[M.COMPLETED] == 1


def test_bad_config_fails_the_trial_with_the_field_named(ray_cluster, tmp_path):
    result = run(tmp_path, {**TINY, "optimizer": "sgd"}, "bad")[0]
    assert result.error is not None
    assert "optimizer: 'sgd' is not one of adam, adagrad, rmsprop" in str(result.error)


@pytest.mark.parametrize("epochs", [1])
def test_state_file_loads_without_pickle(tmp_path, epochs):
    import torch

    checkpoint.save_state(tmp_path, {"w": torch.ones(2), "epoch": epochs, "name": "x"})
    assert checkpoint.load_state(tmp_path)["epoch"] == epochs
    assert not list(tmp_path.glob(".state-*"))  # no temporary file left behind


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the CPU fallback of GPUs without CUDA")
def test_trials_given_gpus_without_cuda_name_them_train_on_the_cpu_and_are_noted_once(ray_cluster, tmp_path):
    out = io.StringIO()
    results = run(tmp_path, {**TINY, "epochs": 2, "seed": tune.grid_search([0, 1])}, "gpus",
                  resources={"cpu": 1, "gpu": 0.5}, callbacks=[GpuFallbackNote(Console(out))])
    assert len(results) == 2 and not results.errors
    for result in results:
        history = result.metrics_dataframe
        # The session's GPU ids: the logical GPUs of the fixture's Ray (ray.init(num_gpus=2)), one per trial.
        assert len(set(history[M.GPU_IDS])) == 1 and history[M.GPU_IDS].iloc[0] in ("0", "1"), history[M.GPU_IDS]
        assert set(history[M.DEVICE]) == {"cpu"}
    notes = out.getvalue().splitlines()
    assert len(notes) == 1 and notes[0].startswith("note: Ray gave trials GPUs (ids "), notes
    assert "CUDA is not available there: they train on the CPU" in notes[0]
