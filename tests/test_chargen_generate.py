"""q2 generation: greedy and seeded sampling, the CLI and its errors."""

from __future__ import annotations

import pytest
import torch
from chargen_helpers import TINY, tiny_text

from trainables.chargen.data import Corpus
from trainables.chargen.generate import best_checkpoint, generate, load_model, main, pick
from trainables.chargen.task import TASK
from trainables.common import task
from trainables.common.checkpoint import load_state
from trainables.common.loop import LocalSession


def make_checkpoint(folder, formulation="sequence", epochs=3, lr=1e-2):
    """A finished trial's checkpoint folder, through the shared loop (10 steps an epoch)."""
    config = {**TINY, "formulation": formulation, "lr": lr, "epochs": epochs, "steps_per_epoch": 10}
    task.train_trial(TASK, config, Corpus(tiny_text(4000), "t"), LocalSession(folder))
    return folder


@pytest.fixture(scope="module")
def checkpoint_dir(tmp_path_factory):
    return make_checkpoint(tmp_path_factory.mktemp("gen") / "checkpoint_000000")


@pytest.mark.parametrize("formulation", ["sequence", "paper"])
def test_greedy_is_deterministic_and_sampling_repeats_with_a_seed(tmp_path, formulation):
    model, cfg, vocab = load_model(make_checkpoint(tmp_path / "checkpoint_000000", formulation, epochs=1))
    seed_text = "HAMLET:\nTo be"
    greedy = generate(model, cfg, vocab, seed_text, 40, greedy=True)
    assert len(greedy) == 40 and set(greedy) <= set(vocab.chars)
    assert generate(model, cfg, vocab, seed_text, 40, greedy=True) == greedy
    one = generate(model, cfg, vocab, seed_text, 40, temperature=1.0, seed=3)
    assert generate(model, cfg, vocab, seed_text, 40, temperature=1.0, seed=3) == one
    assert generate(model, cfg, vocab, seed_text, 40, temperature=1.0, seed=4) != one


def test_sequence_generation_carries_state_like_a_full_forward(checkpoint_dir):
    """Feeding one character at a time with the state equals scoring the whole text at once."""
    model, cfg, vocab = load_model(checkpoint_dir)
    seed_text = "KING RICHARD:\nNow is"
    text = generate(model, cfg, vocab, seed_text, 20, greedy=True)
    full = torch.tensor([vocab.encode(seed_text + text).tolist()])
    with torch.no_grad():
        logits, _ = model(full)
    argmax = logits[0].argmax(-1)[len(seed_text) - 1:-1]
    assert vocab.decode(argmax) == text


def test_top_k_and_temperature():
    logits = torch.tensor([0.0, 5.0, 4.0, -3.0])
    gen = torch.Generator().manual_seed(0)
    draws = {pick(logits, temperature=1.0, top_k=2, greedy=False, gen=gen) for _ in range(200)}
    assert draws == {1, 2}
    cold = {pick(logits, temperature=0.01, top_k=0, greedy=False, gen=gen) for _ in range(50)}
    assert cold == {1}
    assert pick(logits, temperature=1.0, top_k=0, greedy=True, gen=None) == 1


def test_cli_prints_repeatable_text(checkpoint_dir, capsys):
    args = ["--checkpoint", str(checkpoint_dir), "--seed-text", "JAQUES:\n", "--length", "30", "--seed", "1"]
    first = main(args)
    assert main(args) == first and len(first) == 30
    assert capsys.readouterr().out.startswith("JAQUES:\n" + first)


def test_cli_errors_are_one_line(checkpoint_dir, tmp_path, capsys):
    with pytest.raises(SystemExit) as exc:
        main(["--checkpoint", str(checkpoint_dir), "--seed-text", "Zebra@"])
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert "character(s) '@', 'Z' are not" in err and "--on-unknown" in err and "Traceback" not in err
    assert len(main(["--checkpoint", str(checkpoint_dir), "--seed-text", "Zebra@", "--on-unknown", "drop",
                     "--length", "5"])) == 5
    with pytest.raises(SystemExit):
        main(["--checkpoint", str(tmp_path), "--seed-text", "a"])
    assert "no state.pt" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["--run", str(tmp_path)])
    assert "no q2 checkpoints" in capsys.readouterr().err


def test_run_picks_the_checkpoint_with_the_lowest_validation_loss(tmp_path):
    worse = make_checkpoint(tmp_path / "trial_a" / "checkpoint_000001", epochs=1, lr=1e-4)
    better = make_checkpoint(tmp_path / "trial_b" / "checkpoint_000003", epochs=2)
    values = [load_state(p)["progress"]["best_value"] for p in (worse, better)]
    assert values[1] < values[0]
    assert best_checkpoint(tmp_path) == better != worse


def test_a_name_folder_and_its_latest_link_mean_its_newest_run(tmp_path):
    from trainables.common import runs
    from trainables.common.layout import STUDY_FILE

    old = make_checkpoint(tmp_path / "q2" / "2026-01-01_00-00-00" / "trial_a" / "checkpoint_000003", epochs=2)
    new = make_checkpoint(tmp_path / "q2" / "2026-01-02_00-00-00" / "trial_b" / "checkpoint_000001", epochs=1,
                          lr=1e-4)
    for run_id in ("2026-01-01_00-00-00", "2026-01-02_00-00-00"):
        (tmp_path / "q2" / run_id / STUDY_FILE).write_text('{"study": "q2"}')
    runs.set_latest(str(tmp_path / "q2"), "2026-01-02_00-00-00")
    assert best_checkpoint(tmp_path / "q2") == new != old  # the newest run's best, not the best of all runs
    assert best_checkpoint(tmp_path / "q2" / runs.LATEST) == new
    assert best_checkpoint(tmp_path / "q2" / "2026-01-01_00-00-00") == old


def test_the_model_loaded_has_the_best_epochs_weights(tmp_path):
    folder = make_checkpoint(tmp_path / "checkpoint_000002", lr=0.3)  # a high rate: later epochs may be worse
    state = load_state(folder)
    model, cfg, vocab = load_model(folder)
    best = state["progress"]["best_model"]
    assert all(torch.equal(model.state_dict()[k], best[k]) for k in best)
    assert cfg.epochs == 3 and list(vocab.chars) == state["trainer"]["vocab"]


def test_a_run_of_another_study_is_refused_in_one_line(tmp_path, capsys):
    """A q1 run's checkpoints hold a StockConfig: refused by name, not a TypeError from deep inside."""
    from trainables.common.checkpoint import save_state
    from trainables.common.config import to_dict
    from trainables.stock.config import StockConfig

    folder = tmp_path / "q1" / "train_stock_1" / "checkpoint_000000"
    folder.mkdir(parents=True)
    save_state(folder, {"config": to_dict(StockConfig()), "progress": {"best_value": 1.0}, "trainer": {}})
    with pytest.raises(SystemExit):
        main(["--run", str(tmp_path / "q1")])
    err = capsys.readouterr().err
    assert "not a q2 run" in err and err.count("\n") == 1 and "Traceback" not in err
