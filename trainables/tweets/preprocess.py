"""Tweet cleaning (the paper, section 4.1) as a pipeline of small functions.

Each step is a pure ``str -> str`` function with a config switch, so a study
can measure what a step is worth. Order matters: entities are decoded
first (``&amp;`` hides punctuation), links and mentions go before
punctuation removal (which would break them up), digits are replaced after
it (so ``<number>`` survives) and whitespace is squeezed last.
"""

from __future__ import annotations

import html
import re
import unicodedata
from collections.abc import Callable, Iterable

from trainables.tweets.config import TweetConfig

NUMBER = "<number>"

_ENTITY = re.compile(r"&#?\w+;")
_URL = re.compile(r"(?:https?://|www\.)\S+", re.IGNORECASE)
_RETWEET = re.compile(r"(?<!\w)RT(?!\w):?|(?<!\w)rt(?=\s*@)")
_MENTION = re.compile(r"@\w+:?")
_HASHTAG_WORD = re.compile(r"#(\w+)")
_DIGITS = re.compile(r"\d+")
# Three or more of the same character; doubles are left alone because English
# is full of them (good, tool, bitter), so "sooo" -> "so" but "too" stays.
_ELONGATED = re.compile(r"(\w)\1{2,}")
_SPACES = re.compile(r"\s+")


def decode_entities(text: str) -> str:
    """``&amp;`` -> ``&``; twice, because tweets are often escaped twice
    (``&amp;#128514;``); whatever is still an entity after that is dropped."""
    return _ENTITY.sub(" ", html.unescape(html.unescape(text)))


def drop_urls(text: str) -> str:
    return _URL.sub(" ", text)


def drop_retweets(text: str) -> str:
    """Drop the ``RT`` marker (upper case, or lower case before a mention)."""
    return _RETWEET.sub(" ", text)


def drop_mentions(text: str) -> str:
    return _MENTION.sub(" ", text)


def hashtag_sign(text: str) -> str:
    """``#MondayMotivation`` -> ``MondayMotivation``."""
    return _HASHTAG_WORD.sub(r"\1", text)


def drop_hashtags(text: str) -> str:
    return _HASHTAG_WORD.sub(" ", text)


def remove_punctuation(text: str) -> str:
    """Punctuation becomes a space, apostrophes vanish (``don't`` -> ``dont``).

    Unicode category P only: emoji and other symbols (category S) are kept,
    they carry meaning in tweets.
    """
    out = []
    for ch in text:
        if ch in "'’`":
            continue
        out.append(" " if unicodedata.category(ch).startswith("P") else ch)
    return "".join(out)


def replace_numbers(text: str) -> str:
    return _DIGITS.sub(f" {NUMBER} ", text)


def squeeze_elongations(text: str) -> str:
    """``toooooday`` -> ``today``, ``!!!`` untouched (only word characters)."""
    return _ELONGATED.sub(r"\1", text)


def lowercase(text: str) -> str:
    return text.lower()


def squeeze_spaces(text: str) -> str:
    return _SPACES.sub(" ", text).strip()


def pipeline(cfg: TweetConfig) -> list[Callable[[str], str]]:
    """The steps ``cfg`` switches on, in order."""
    steps: list[tuple[bool, Callable[[str], str]]] = [
        (cfg.decode_entities, decode_entities),
        (cfg.drop_urls, drop_urls),
        (cfg.drop_retweets, drop_retweets),
        (cfg.drop_mentions, drop_mentions),
        (cfg.hashtags == "sign", hashtag_sign),
        (cfg.hashtags == "drop", drop_hashtags),
        (cfg.remove_punctuation, remove_punctuation),
        (cfg.replace_numbers, replace_numbers),
        (cfg.squeeze_elongations, squeeze_elongations),
        (cfg.lowercase, lowercase),
        (True, squeeze_spaces),
    ]
    return [fn for on, fn in steps if on]


CLEANING_FIELDS = ("decode_entities", "drop_urls", "drop_retweets", "drop_mentions", "hashtags", "remove_punctuation",
                   "replace_numbers", "squeeze_elongations", "lowercase")


def cleaning_settings(cfg: TweetConfig) -> tuple:
    """The config values ``pipeline`` reads: configs equal here clean every tweet the same."""
    return tuple(getattr(cfg, name) for name in CLEANING_FIELDS)


def clean_all(texts: Iterable[str], cfg: TweetConfig) -> list[str]:
    steps = pipeline(cfg)
    out = []
    for text in texts:
        for step in steps:
            text = step(text)
        out.append(text)
    return out


def word_count(text: str) -> int:
    return len(text.split())


def token_lengths(texts: list[str], tokenizer, batch_size: int = 2048) -> list[int]:
    """Tokens per text under ``tokenizer`` (special tokens included, no cut),
    the numbers behind the choice of ``max_length``."""
    lengths: list[int] = []
    for start in range(0, len(texts), batch_size):
        enc = tokenizer(texts[start:start + batch_size], add_special_tokens=True, truncation=False)
        lengths.extend(len(ids) for ids in enc["input_ids"])
    return lengths
