"""T5 as text-to-text (the paper, 4.5): prefix + tweet in, the label word out.

Training is the usual sequence-to-sequence loss on the label word (weighted
per tweet when the loss is class-weighted). Prediction scores every label
word under the model and takes the most likely, so every prediction is a
valid label; free generation is kept as an option and counts outputs that
are no label.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

IGNORE = -100


def label_token_ids(tokenizer, classes: tuple[str, ...]) -> list[list[int]]:
    """Token ids (with the end-of-sequence token) of each label word."""
    ids = [tokenizer(c, add_special_tokens=True)["input_ids"] for c in classes]
    if len({tuple(i) for i in ids}) < len(ids):
        raise ValueError(f"the T5 tokenizer cannot tell the labels {classes} apart")
    return ids


def targets_for(labels: torch.Tensor, label_ids: list[list[int]]) -> torch.Tensor:
    """Padded target ids ``[batch, longest label]`` with IGNORE after each label's end."""
    width = max(len(x) for x in label_ids)
    table = torch.full((len(label_ids), width), IGNORE, dtype=torch.long)
    for c, ids in enumerate(label_ids):
        table[c, :len(ids)] = torch.as_tensor(ids)
    return table[labels.cpu()]


def sequence_nll(logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """Summed negative log-likelihood of each target sequence, ``[batch]``."""
    nll = F.cross_entropy(logits.transpose(1, 2), targets, ignore_index=IGNORE, reduction="none")
    return nll.sum(dim=1)


def t5_loss(model, input_ids, attention_mask, targets, weights: torch.Tensor | None = None) -> torch.Tensor:
    """Mean (class-weighted) per-tweet loss on the label words."""
    out = model(input_ids=input_ids, attention_mask=attention_mask, labels=targets)
    nll = sequence_nll(out.logits, targets)
    if weights is None:
        return nll.mean()
    return (nll * weights).sum() / weights.sum()


@torch.no_grad()
def score_labels(model, input_ids, attention_mask, label_ids: list[list[int]]) -> torch.Tensor:
    """Log-likelihood of every label word for every tweet, ``[batch, classes]``;
    the encoder runs once, the decoder once per label."""
    encoded = model.get_encoder()(input_ids=input_ids, attention_mask=attention_mask)
    scores = []
    for c in range(len(label_ids)):
        targets = targets_for(torch.full((len(input_ids),), c), label_ids).to(input_ids.device)
        out = model(encoder_outputs=encoded, attention_mask=attention_mask, labels=targets)
        scores.append(-sequence_nll(out.logits, targets))
    return torch.stack(scores, dim=1)


@torch.no_grad()
def generate_labels(model, tokenizer, input_ids, attention_mask, classes: tuple[str, ...]) -> np.ndarray:
    """Free generation mapped back to class indices; -1 where the output is no label."""
    longest = max(len(tokenizer(c)["input_ids"]) for c in classes)
    out = model.generate(input_ids=input_ids, attention_mask=attention_mask, max_new_tokens=longest + 2,
                         do_sample=False)
    words = [w.strip().lower() for w in tokenizer.batch_decode(out, skip_special_tokens=True)]
    index = {c.lower(): i for i, c in enumerate(classes)}
    return np.array([index.get(w, -1) for w in words], dtype=np.int64)
