"""q2 data: corpus loading and its errors, vocabulary, splits, windows and batches."""

from __future__ import annotations

import dataclasses

import pytest
import torch
from chargen_helpers import tiny_config, tiny_text

from trainables.chargen.batches import StreamBatches, WindowBatches, windows
from trainables.chargen.config import CharConfig
from trainables.chargen.data import (
    EVAL_STREAMS,
    Corpus,
    DataOptions,
    Vocab,
    build_vocab,
    download,
    embedded_text,
    held_out_part,
    held_out_start,
    load,
    load_corpus,
    majority_accuracy,
    map_held_out,
    markdown_to_dialogue,
    prepare,
    read_text,
    val_targets,
    whole_test_part,
)
from trainables.common.config import ConfigError
from trainables.common.errors import DataError

MARKDOWN = """# A Play

## ACT I

### SCENE I. A heath.

_Thunder. Enter three
Witches_

**FIRST WITCH**  
When shall we three meet again  
In thunder, lightning, or in rain?

*Exit.*

**SECOND WITCH**  
When the hurlyburly's done,\\--
"""


def test_every_config_field_validates():
    CharConfig()
    for bad in ({"formulation": "keras"}, {"loss": "nll"}, {"cell": "tcn"}, {"dropout": 1.0}, {"lr": 0},
                {"seq_len": 0}, {"rare_char": "ab"}, {"lr_schedule": "step"}, {"batch_size": 1.5}):
        with pytest.raises(ConfigError, match=next(iter(bad))):
            CharConfig(**bad)
    with pytest.raises(TypeError):
        CharConfig(hiden_size=3)
    assert CharConfig(formulation="report").formulation == "paper"  # the name before the rename
    assert CharConfig(epochs=3).checkpoint_every == 1 and CharConfig().patience == 0  # the shared fields


def test_markdown_becomes_plain_dialogue():
    text = markdown_to_dialogue(MARKDOWN)
    assert text == ("FIRST WITCH:\nWhen shall we three meet again\nIn thunder, lightning, or in rain?\n\n"
                    "SECOND WITCH:\nWhen the hurlyburly's done,--\n")


def test_embedded_corpus_is_real_shakespeare():
    text = embedded_text(("macbeth",))
    assert 80_000 < len(text) < 200_000
    assert "MACBETH:\n" in text and "Out, damned spot" in text
    assert not any(mark in text for mark in ("**", "#", "\\"))
    with pytest.raises(DataError, match="no play named nosuch"):
        embedded_text(("nosuch",))


def test_file_errors_say_what_and_where(tmp_path):
    with pytest.raises(DataError, match="no such file"):
        load_corpus(tmp_path / "missing.txt")
    with pytest.raises(DataError, match="is a folder"):
        read_text(tmp_path)
    (tmp_path / "empty.txt").write_text("  \n")
    with pytest.raises(DataError, match="empty"):
        load_corpus(tmp_path / "empty.txt")
    (tmp_path / "latin1.txt").write_bytes("first line\nna\xefve".encode("latin-1"))
    with pytest.raises(DataError, match=r"not UTF-8.*0xef at line 2, column 3 \(byte offset 13\)"):
        load_corpus(tmp_path / "latin1.txt")


def test_url_is_downloaded_once_and_cached(tmp_path):
    source = tmp_path / "corpus.txt"
    source.write_text("hello world\n")
    url = source.as_uri()
    first = download(url, tmp_path / "cache")
    source.write_text("changed\n")  # the cached copy must be reused, not fetched again
    assert download(url, tmp_path / "cache") == first
    assert read_text(first) == "hello world\n"
    with pytest.raises(DataError, match="cannot download"):
        download((tmp_path / "nothing.txt").as_uri(), tmp_path / "cache")


def test_vocabulary_lowercase_and_rare_characters():
    text = "aAbB€ ab ab"
    cased, vocab = build_vocab(text, CharConfig())
    assert vocab.chars == (" ", "A", "B", "a", "b", "€") and cased == text
    lower, vocab = build_vocab(text, CharConfig(lowercase=True, min_char_count=2))
    assert lower == "aabb ab ab" and vocab.chars == (" ", "a", "b")  # the lone € is dropped
    mapped, vocab = build_vocab(text, CharConfig(min_char_count=2, rare_char="~"))
    assert mapped == "a~b~~ ab ab" and vocab.chars == (" ", "a", "b", "~")  # A, B and € occur once
    ids = Vocab(("a", "b", "c")).encode("cab")
    assert ids.tolist() == [2, 0, 1] and Vocab(("a", "b", "c")).decode(ids) == "cab"


def test_seed_text_outside_vocabulary():
    vocab = Vocab(tuple("abc "))
    with pytest.raises(DataError, match=r"'Z', 'q'.*--on-unknown"):
        vocab.check_text("a Zq", "error")
    assert vocab.check_text("a Zq", "drop") == "a "
    assert vocab.check_text("A BZ", "map") == "a b"
    assert vocab.check_text("abc", "error") == "abc"


def test_short_corpus_is_refused_with_the_size_needed():
    cfg = tiny_config(batch_size=8, seq_len=32)
    too_few = r"tiny: 100 characters are too few.*5%/5% validation/test.*need at least (\d+)"
    with pytest.raises(DataError, match=too_few) as exc:
        prepare(Corpus("ab" * 50, "tiny"), cfg)
    need = int(str(exc.value).rsplit(" ", 1)[-1])
    prepare(Corpus(tiny_text(need), "enough"), cfg)
    with pytest.raises(DataError):
        prepare(Corpus(tiny_text(need - 40), "not enough"), cfg)
    data = prepare(Corpus(tiny_text(6000), "ok"), cfg)
    assert (data.n_train, data.n_val, data.n_test) == (5400, 300, 300)


def test_vocabulary_comes_from_the_training_part_and_held_out_strangers_are_counted():
    val, test = "abc Z\n" * 50, "\u00e9! ok\n" * 50  # Z, \u00e9 and ! never occur in the training part
    corpus = Corpus(tiny_text(5400) + val + test, "t")  # 5% + 5% of 6000: exactly these parts
    data = prepare(corpus, tiny_config())
    assert not {"Z", "\u00e9", "!"} & set(data.vocab.chars)
    assert data.unknown == {"val": pytest.approx(50 / 300), "test": pytest.approx(100 / 300)}
    assert (data.n_train, data.n_val, data.n_test) == (5400, 250, 200)  # dropped, not scored
    kept = prepare(corpus, tiny_config(rare_char="~"))
    assert len(kept.ids) == 6000 and "~" in kept.vocab.chars  # replaced, and scored as "~"
    assert map_held_out("aZb", Vocab(tuple("ab")), "") == ("ab", 1)
    assert whole_test_part(data).tolist() == list(range(data.n_train + data.n_val, len(data.ids)))


def test_the_held_out_part_is_exactly_the_last_ten_percent():
    """Validation and test parts together, as nanoGPT's validation split: the last 10% of the text."""
    text = tiny_text(8000)
    data = prepare(Corpus(text, "t"), tiny_config())
    part = held_out_part(data)
    assert part.tolist() == list(range(7200, 8000)) and data.n_train == 7200
    assert data.vocab.decode(data.ids[part]) == text[-800:] == text[int(len(text) * 0.9):]
    assert part.tolist() == val_targets(data, tiny_config(val_max_chars=0)).tolist() + whole_test_part(data).tolist()


def test_rare_characters_are_counted_on_the_training_part_only():
    text = "ab" * 2699 + "ca" + "abcc" * 150  # c: once in training (rare), half the held-out text
    data = prepare(Corpus(text, "t"), tiny_config(min_char_count=2))
    assert data.vocab.chars == ("a", "b") and data.unknown == {"val": 0.5, "test": 0.5}


def test_options_load_and_check_every_arm(tmp_path):
    path = tmp_path / "plays.txt"
    path.write_text(tiny_text(8000))
    small, big = tiny_config(), tiny_config(batch_size=128, seq_len=64)
    corpus = load(DataOptions(corpus=str(path), max_chars=6000), [small])
    assert len(corpus.text) == 6000 and "first 6000 characters" in corpus.source
    with pytest.raises(DataError, match="too few"):
        load(DataOptions(corpus=str(path)), [small, big])  # 129 streams of 64 characters do not fit
    with pytest.raises(DataError, match="max-chars"):
        DataOptions(max_chars=-1)
    assert held_out_start(Corpus(tiny_text(8000), "t")) == tiny_text(8000)[7200:7300]


def test_windows_are_views_not_copies():
    series = torch.arange(10.0)
    views = windows(series, 4)
    assert views.shape == (7, 4)
    assert views.untyped_storage().data_ptr() == series.untyped_storage().data_ptr()
    assert views[3].tolist() == [3.0, 4.0, 5.0, 6.0]


def test_stream_batches_continue_rows_and_resume():
    ids = torch.arange(1000)
    batches = StreamBatches(ids, batch_size=4, seq_len=10, gen=torch.Generator().manual_seed(0))
    x1, y1, fresh1 = batches.next()
    x2, _, fresh2 = batches.next()
    assert fresh1 and not fresh2 and x1.shape == (4, 10)
    assert torch.equal(y1, x1 + 1)  # the target is the next character
    assert torch.equal(x2[:, 0], x1[:, -1] + 1)  # each row continues where it stopped
    saved = batches.state_dict()
    expected = batches.next()[0]
    batches.load_state_dict(saved)
    assert torch.equal(batches.next()[0], expected)
    fresh = [batches.next()[2] for _ in range(batches.steps_per_pass())]
    # three steps were taken: the pass ends after the rest, and a new one starts fresh
    assert fresh.index(True) == batches.steps_per_pass() - 3 and sum(fresh) == 1


def test_window_batches_target_the_next_character_and_resume():
    data = prepare(Corpus(tiny_text(3000), "t"), tiny_config(formulation="paper"))
    gen = torch.Generator().manual_seed(1)
    batches = WindowBatches(data, batch_size=4, seq_len=16, gen=gen)
    saved = batches.state_dict()
    x, y, _ = batches.next()
    starts = batches.order[:4]
    for start, row, target in zip(starts.tolist(), x, y):
        assert torch.allclose(row * len(data.vocab), data.ids[start: start + 16].float(), atol=1e-4)  # scaled
        assert data.ids[start + 16] == target
    assert float(x.max()) < 1.0 and float(x.min()) >= 0.0
    again = WindowBatches(data, batch_size=4, seq_len=16, gen=torch.Generator().manual_seed(99))
    again.load_state_dict(saved)
    assert torch.equal(again.next()[1], y)  # the same shuffled order, redrawn from the saved state


def test_validation_targets_and_majority_baseline():
    cfg = tiny_config(val_max_chars=100)
    data = prepare(Corpus(tiny_text(4000), "t"), cfg)
    targets = val_targets(data, cfg)
    assert len(targets) == 96 and len(targets) % EVAL_STREAMS == 0 and int(targets[0]) == data.n_train
    all_val = val_targets(data, dataclasses.replace(cfg, val_max_chars=0))
    assert len(all_val) == 192  # 200 validation characters, in 16 equal streams
    chars = data.ids[targets]
    assert majority_accuracy(data, targets) == pytest.approx(chars.bincount().max().item() / 96)
