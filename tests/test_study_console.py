"""A study's run as Ray and Tune see it: what reaches the console, how a local Ray starts, and that the settings a
run gives Ray and Tune (environment variables they read as they start) end with the run."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from ray import tune

from studies import console as C
from studies import progress as P
from trainables.common import metrics as M


def test_a_small_study_leaves_a_few_lines_on_the_console_and_rays_output_in_the_log(ray_cluster, tmp_path, capfd):
    def trainable(config):
        for epoch in range(1, config["epochs"] + 1):
            if config["x"] == 3 and epoch == 2:
                raise ValueError(f"boom at x={config['x']}")
            tune.report({M.EPOCH: epoch, "loss": config["x"] + 1 / epoch,
                         **({M.COMPLETED: 1} if epoch == config["epochs"] else {})})

    log = tmp_path / "console.log"
    with C.capture(log) as con:
        callback = P.ProgressCallback(con, total=None, metric="loss", mode="min")  # None: Tune's count of trials
        tuner = tune.Tuner(trainable, param_space={"x": tune.grid_search([0, 1, 2, 3]), "epochs": 3},
                           run_config=tune.RunConfig(name="toy", storage_path=str(tmp_path), verbose=1,
                                                     callbacks=[callback]))
        results = tuner.fit()
    assert len(results.errors) == 1
    out, err = capfd.readouterr()
    lines = (out + err).splitlines()
    assert len(lines) <= 10, lines
    failed = [line for line in lines if line.startswith("FAILED ")]
    assert len(failed) == 1 and "ValueError: boom at x=3" in failed[0]
    error_file = Path(failed[0].split("error file: ")[1])
    assert error_file.is_relative_to(tmp_path / "toy") and "boom at x=3" in error_file.read_text()
    assert lines[-1].startswith("finished in ") and "3 done, 1 failed of 4 | best loss 0.3333 (x=0)" in lines[-1]
    text = log.read_text()
    assert "Trial status:" in text and "errored after 1 iterations" in text  # Tune's own table and error report

    # A resumed run gives the restored Tuner this start's callback (studies/runner.py does the same).
    from studies import adapter

    with C.capture(log) as con:
        restored = tune.Tuner.restore(str(tmp_path / "toy"), trainable)
        adapter.restored_run_config(restored).callbacks = [P.ProgressCallback(con, 4, "loss", "min")]
        restored.fit()
    lines = capfd.readouterr().out.splitlines()
    assert lines[-1].startswith("finished in ") and "3 done, 1 failed of 4" in lines[-1]


@pytest.mark.parametrize("argv", [[], ["--verbose", "--dashboard"]])
def test_a_local_ray_starts_without_usage_stats_and_the_dashboard_and_tune_prints_only_with_verbose(monkeypatch,
                                                                                                      argv):
    import ray
    from ray.tune.experimental.output import AirVerbosity, get_air_verbosity

    from studies import adapter, flags, q1, runner

    args = flags.parser(q1.STUDY).parse_args(argv)
    started = {}
    monkeypatch.delenv(adapter.USAGE_STATS_ENV, raising=False)
    monkeypatch.delenv("RAY_ADDRESS", raising=False)
    monkeypatch.setattr(ray, "is_initialized", lambda: False)
    monkeypatch.setattr(ray, "init", lambda **kw: started.update(kw, usage=os.environ[adapter.USAGE_STATS_ENV]))
    with runner.environment_restored():  # init_ray's settings end here, as a run's do
        assert runner.init_ray(args) is True
    assert started["address"] == "local" and started["usage"] == "0"
    assert started["include_dashboard"] is bool(argv)  # on only when asked for
    assert get_air_verbosity(runner.tune_verbosity(args)) == (AirVerbosity.DEFAULT if argv else AirVerbosity.SILENT)


def test_the_settings_a_run_gives_ray_and_tune_end_with_the_run(monkeypatch, tmp_path):
    """A process that runs a study and then a Tuner of its own (a benchmark, a test) gets Tune's defaults back:
    left set, TUNE_DISABLE_AUTO_CALLBACK_LOGGERS would have that Tuner write no result.json."""
    import ray

    from studies import adapter, flags, q1, runner

    args = flags.parser(q1.STUDY).parse_args([])
    monkeypatch.delenv("RAY_ADDRESS", raising=False)
    monkeypatch.setattr(ray, "is_initialized", lambda: False)
    monkeypatch.setattr(ray, "init", lambda **kw: None)
    seen = {}

    def study_run(ctx, plan, data):  # what runner._run sets before Tune starts, then a failure mid-run
        runner.init_ray(args)
        adapter.set_max_pending_trials(8)
        seen.update(os.environ)
        raise KeyboardInterrupt

    monkeypatch.setattr(runner, "_run", study_run)
    monkeypatch.setattr(runner.mirror, "push", lambda run_dir: None)
    before = dict(os.environ)
    with pytest.raises(KeyboardInterrupt):
        runner.run(type("Ctx", (), {"resuming": False, "run_dir": str(tmp_path)})(), None, None)
    assert seen["TUNE_DISABLE_AUTO_CALLBACK_LOGGERS"] == "1" and seen[adapter.MAX_PENDING_TRIALS_ENV] == "8"
    assert dict(os.environ) == before
