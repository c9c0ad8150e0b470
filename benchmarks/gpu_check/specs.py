"""What the GPU check trains, per task: the data it makes offline, the config, and how work is counted.

Two sizes: ``gpu`` (the benchmark's: q2 is the q2 benchmark's searched preset, so its characters per second
compare with this CPU's figure) and ``tiny`` (``--device cpu``: every part in seconds). The data is made by
the check itself, the same in every process, so a fresh process can repeat a trial: random-walk prices,
Shakespeare-like lines, Davidson-shaped tweets and a BERT built from a config. Throughput does not depend on
what the text or prices say.
"""

from __future__ import annotations

import dataclasses
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from benchmarks.q2_budget import SEARCHED
from trainables.chargen.data import Corpus, synthetic_text
from trainables.chargen.task import TASK as CHARGEN
from trainables.common import metrics as M
from trainables.common.task import Task
from trainables.stock.data import make_splits, synthetic_prices
from trainables.stock.task import TASK as STOCK
from trainables.tweets.data import StudyData, load_tweets, synthetic_tweets
from trainables.tweets.task import TASK as TWEETS
from trainables.tweets.tiny_models import save_tiny_bert
from trainables.tweets.trial_data import prepare

GPU, TINY = "gpu", "tiny"
STUDIES = ("q1", "q2", "q3")


@dataclass(frozen=True)
class CpuFigure:
    value: float | None
    source: str


CPU_FIGURES = {
    "q2": CpuFigure(75_592, "benchmarks/RESULTS.md, q2 tuned by its own search, then 10 minutes: "
                            "`python benchmarks/q2_budget.py --budget-s 600` (the searched preset, 2 threads, "
                            "bfloat16 on AVX-512 BF16)"),
    "q1": CpuFigure(None, "benchmarks/RESULTS.md has no q1 throughput figure (its q1 runs time whole studies)"),
    "q3": CpuFigure(None, "benchmarks/RESULTS.md has no q3 throughput figure at these sizes (its q3 runs use "
                          "MiniLM on the Davidson tweets)"),
}
"""This CPU's throughput per study, each defined here once, with where it was measured."""


@dataclass(frozen=True)
class Spec:
    study: str
    task: Task
    data: Any
    described: str
    config: dict[str, Any]
    """The run: a few epochs, a checkpoint every epoch, dropout on (a resume that forgot a generator differs)."""
    other: dict[str, Any]
    """Changes that make trial A of the two-trial check another trial than B (the run with seed 2)."""
    unit: str
    work: Callable[[dict[str, Any], dict[str, Any]], float]
    """(config, final metrics) -> units trained."""
    kill_at: int
    bf16_on_cpu: dict[str, Any] | None
    """How the task trains in bfloat16 on a CPU (q2's ``cpu_bf16``); None where it has no such path."""
    threads: int | None = None
    """CPU threads of each trial: one at the tiny sizes (a shared machine's cores are not all this check's);
    None (every core) at the GPU's, where the CPU only feeds the GPU."""


def stock(sizes: str) -> Spec:
    prices = synthetic_prices(n=2300 if sizes == GPU else 160)
    model = {} if sizes == GPU else {"hidden_size": 8, "batch_size": 16, "window": 10}
    config = {**model, "cell": "lstm", "dropout": 0.1, "epochs": 4, "patience": 0, "checkpoint_every": 1}

    def work(cfg: dict[str, Any], final: dict[str, Any]) -> float:
        return len(make_splits(prices, STOCK.config(**cfg)).train) * final[M.EPOCH]

    return Spec("q1", STOCK, prices, f"random-walk prices of 2 tickers, {len(prices)} days", config,
                {"cell": "gru", "seed": 1}, "windows", work, kill_at=3, bf16_on_cpu=None)


def chargen(sizes: str) -> Spec:
    n_chars = 400_000 if sizes == GPU else 4000
    if sizes == GPU:
        model = {**SEARCHED, "cpu_bf16": False, "steps_per_epoch": 100, "val_max_chars": 20_000}
    else:
        model = {"cell": "lstm", "hidden_size": 16, "embed_size": 8, "num_layers": 1, "batch_size": 4,
                 "seq_len": 16, "steps_per_epoch": 3, "val_max_chars": 160}
    config = {**model, "dropout": 0.1, "epochs": 4, "checkpoint_every": 1, "lowercase": False}
    return Spec("q2", CHARGEN, Corpus(synthetic_text(n_chars), "synthetic"),
                f"Shakespeare-like lines, {n_chars:,} characters", config, {"cell": "gru", "seed": 1}, "characters",
                lambda cfg, final: final[M.TRAIN_CHARS], kill_at=3, bf16_on_cpu={"cpu_bf16": True})


def tweets(sizes: str, work_dir: Path) -> Spec:
    """q3 fine-tuning a whole encoder (``encoder_training=full``, the GPU arm) built from a config."""
    n, hidden, layers = (4000, 128, 2) if sizes == GPU else (120, 16, 1)
    encoder = work_dir / f"tiny-bert-{hidden}x{layers}"
    if not (encoder / "config.json").exists():
        encoder.mkdir(parents=True, exist_ok=True)
        save_tiny_bert(encoder, hidden=hidden, layers=layers)
    csv = work_dir / f"tweets-{n}.csv"
    synthetic_tweets(n, seed=1).to_csv(csv, index=False)
    data = StudyData(load_tweets(csv), str(work_dir / "cache"), {})
    config = {"encoder": str(encoder), "encoder_training": "full", "encoder_lr": 1e-3, "lstm_hidden": 8 if
              sizes == TINY else 64, "lstm_layers": 2, "dropout": 0.3, "max_length": 16, "epochs": 3,
              "batch_size": 16 if sizes == TINY else 64, "lr": 0.01, "checkpoint_every": 1}

    def work(cfg: dict[str, Any], final: dict[str, Any]) -> float:
        return len(prepare(data.tweets, TWEETS.config(**cfg)).train) * final[M.EPOCH]

    return Spec("q3", TWEETS, data, f"Davidson-shaped synthetic tweets, {n}; a BERT of {layers} x {hidden} built "
                f"offline", config, {"dropout": 0.1, "seed": 1}, "tweets", work, kill_at=2, bf16_on_cpu=None)


def build(study: str, sizes: str, work_dir: Path) -> Spec:
    if study not in STUDIES:
        raise ValueError(f"--studies: {study!r} is not one of {', '.join(STUDIES)}")
    spec = stock(sizes) if study == "q1" else chargen(sizes) if study == "q2" else tweets(sizes, work_dir)
    return dataclasses.replace(spec, threads=None if sizes == GPU else 1)
