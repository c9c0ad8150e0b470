"""Generate text from a trained q2 checkpoint.

    python -m trainables.chargen.generate --checkpoint results/q2/TRIAL/checkpoint_000039 \\
        --seed-text "ROMEO:" --length 300 --temperature 0.8 --seed 1
    python -m trainables.chargen.generate --run results/q2 --greedy

Greedy decoding (the paper's) takes the most likely character every step
and soon loops; sampling with a temperature and an optional top-k cut does
not. ``--seed`` makes sampling repeatable.
"""

from __future__ import annotations

import argparse
import dataclasses
import math
import sys
from pathlib import Path

import torch

from trainables.chargen.config import CharConfig
from trainables.chargen.data import UNKNOWN_CHOICES, Vocab
from trainables.chargen.model import CharRNN, build_model
from trainables.common import runs
from trainables.common.checkpoint import STATE_FILE, latest_folder, load_state
from trainables.common.errors import DataError

DEFAULT_SEED_TEXT = "ROMEO:\nWhat light is this that through the window breaks?\n"


def load_model(checkpoint_dir: str | Path) -> tuple[CharRNN, CharConfig, Vocab]:
    """Model (in eval mode, on the CPU), config and vocabulary of a checkpoint folder.

    The weights are the best validation epoch's (what the test part was
    scored with), which the shared loop keeps in every checkpoint.
    """
    state = load_state(checkpoint_dir)
    cfg = CharConfig(**state["config"])
    trainer = state.get("trainer", state)  # checkpoints before the shared loop kept the trainer's state on top
    vocab = Vocab(tuple(trainer["vocab"]))
    model = build_model(cfg, len(vocab))
    best = state.get("progress", {}).get("best_model")
    model.load_state_dict(best if best is not None else trainer["model"])
    return model.eval(), cfg, vocab


def sample(checkpoint_dir: str | Path, seed_text: str, length: int, *, greedy: bool = False,
           temperature: float = 1.0, seed: int | None = None) -> str:
    """Text after ``seed_text`` from a checkpoint's best-epoch weights (the report's samples).

    The seed text is lower-cased when the model was, and characters outside its
    vocabulary are mapped as the study does.
    """
    model, cfg, vocab = load_model(checkpoint_dir)
    start = vocab.check_text(seed_text.lower() if cfg.lowercase else seed_text, "map")
    return generate(model, cfg, vocab, start, length, greedy=greedy, temperature=temperature, seed=seed)


def best_value(state: dict) -> float | None:
    """The checkpoint's best validation loss so far."""
    if "progress" in state:
        value = state["progress"].get("best_value")
        return None if value is None or math.isnan(value) else float(value)
    return state.get("val_loss")


@torch.no_grad()
def generate(model: CharRNN, cfg: CharConfig, vocab: Vocab, seed_text: str, length: int, *,
             temperature: float = 1.0, top_k: int = 0, greedy: bool = False, seed: int | None = None) -> str:
    """``length`` characters following ``seed_text`` (which must be in ``vocab``)."""
    if not seed_text:
        raise DataError("seed text: empty; give at least one character")
    gen = torch.Generator().manual_seed(seed) if seed is not None else None
    ids = [int(i) for i in vocab.encode(seed_text)]
    out: list[int] = []
    state, step_input = None, ids
    for _ in range(length):
        if cfg.formulation == "paper":
            # The paper's loop: the window of the last seq_len characters, scaled, every step.
            window = torch.tensor(ids[-cfg.seq_len:], dtype=torch.float32) / len(vocab)
            logits, _ = model(window.unsqueeze(0))
        else:  # feed only the new characters; the state remembers the rest
            logits, state = model(torch.tensor([step_input]), state)
            logits = logits[:, -1]
        nxt = pick(logits[0], temperature=temperature, top_k=top_k, greedy=greedy, gen=gen)
        ids.append(nxt)
        out.append(nxt)
        step_input = [nxt]
    return vocab.decode(out)


def pick(logits: torch.Tensor, *, temperature: float, top_k: int, greedy: bool, gen: torch.Generator | None) -> int:
    if greedy:
        return int(logits.argmax())
    logits = logits / temperature
    if 0 < top_k < logits.numel():
        cut = torch.topk(logits, top_k).values[-1]
        logits = logits.masked_fill(logits < cut, float("-inf"))
    return int(torch.multinomial(torch.softmax(logits, dim=-1), 1, generator=gen))


def best_checkpoint(run_dir: str | Path) -> Path:
    """The checkpoint with the lowest validation loss under ``run_dir`` (a run, a name folder or one trial)."""
    fields = {f.name for f in dataclasses.fields(CharConfig)}
    try:
        run_dir = Path(runs.resolve(run_dir))  # a name folder means its newest run
    except FileNotFoundError:
        run_dir = Path(run_dir)  # a trial's folder, or any folder of trial folders
    if not run_dir.is_dir():
        raise DataError(f"{run_dir}: no such folder")
    trials = [run_dir] if latest_folder(run_dir) else [p for p in sorted(run_dir.iterdir()) if p.is_dir()]
    found = []
    for folder in filter(None, map(latest_folder, trials)):  # a trial's last checkpoint keeps its best weights
        if not (folder / STATE_FILE).exists():
            continue
        state = load_state(folder)
        if not set(state.get("config", {})) <= fields:
            raise DataError(f"{run_dir}: not a q2 run (its checkpoints are another task's)")
        loss = best_value(state)
        if loss is not None:
            found.append((float(loss), folder))
    if not found:
        raise DataError(f"{run_dir}: no q2 checkpoints found (is this a q2 run folder?)")
    return min(found)[1]


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m trainables.chargen.generate", description=__doc__.splitlines()[0],
                                formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument("--checkpoint", help="a trial's checkpoint folder (holding state.pt)")
    src.add_argument("--run", help="a q2 run folder: use the checkpoint with the lowest validation loss")
    p.add_argument("--seed-text", default=None,
                   help="text to continue (default: a line of Romeo and Juliet, lower-cased if the model is)")
    p.add_argument("--length", type=int, default=100, help="characters to generate")
    p.add_argument("--greedy", action="store_true", help="always the most likely character (the paper's decoding)")
    p.add_argument("--temperature", type=float, default=0.8, help="sampling temperature; lower is more conservative")
    p.add_argument("--top-k", type=int, default=0, help="sample among the k most likely characters (0: all)")
    p.add_argument("--seed", type=int, default=None, help="random seed, for repeatable samples")
    p.add_argument("--on-unknown", choices=UNKNOWN_CHOICES, default="error",
                   help="seed-text characters outside the vocabulary: stop, drop them, or map them (other case)")
    return p


def main(argv: list[str] | None = None) -> str:
    args = build_parser().parse_args(argv)
    try:
        if args.length < 1 or args.temperature <= 0 or args.top_k < 0:
            raise DataError("--length must be at least 1, --temperature positive and --top-k not negative")
        ckpt = Path(args.checkpoint) if args.checkpoint else best_checkpoint(args.run)
        if not (ckpt / STATE_FILE).exists():
            raise DataError(f"{ckpt}: no {STATE_FILE}; is this a checkpoint folder?")
        model, cfg, vocab = load_model(ckpt)
        seed_text = args.seed_text if args.seed_text is not None else DEFAULT_SEED_TEXT
        if cfg.lowercase and args.seed_text is None:
            seed_text = seed_text.lower()
        seed_text = vocab.check_text(seed_text, args.on_unknown)
        text = generate(model, cfg, vocab, seed_text, args.length, temperature=args.temperature,
                        top_k=args.top_k, greedy=args.greedy, seed=args.seed)
    except DataError as exc:
        print(f"error: {exc}", file=sys.stderr)
        raise SystemExit(2) from None
    print(f"checkpoint: {ckpt}", file=sys.stderr)
    print(seed_text + text)
    return text


if __name__ == "__main__":
    main()
