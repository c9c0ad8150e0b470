"""Each cleaning step on hand-written tweets, and the switches of the pipeline."""

from __future__ import annotations

import pytest

from trainables.tweets import preprocess as P
from trainables.tweets.config import TweetConfig


def clean(text: str, cfg: TweetConfig) -> str:
    return P.clean_all([text], cfg)[0]


@pytest.mark.parametrize(("fn", "text", "expected"), [
    (P.decode_entities, "you &amp; me &lt;3", "you & me <3"),
    (P.decode_entities, "double &amp;amp; escaped &amp;#128514;", "double & escaped \U0001f602"),
    (P.decode_entities, "leftover &zzz; here", "leftover   here"),
    (P.drop_urls, "look http://t.co/AbC12 and www.x.org/y now", "look   and   now"),
    (P.drop_retweets, "RT @user: hi RTS rt @bob yo", "  @user: hi RTS   @bob yo"),
    (P.drop_mentions, "@user: hi @bob_2 there", "  hi   there"),
    (P.hashtag_sign, "so #blessed #2014", "so blessed 2014"),
    (P.drop_hashtags, "so #blessed today", "so   today"),
    (P.remove_punctuation, "don't stop... now!!", "dont stop    now  "),
    (P.replace_numbers, "in 2014 at 5", f"in  {P.NUMBER}  at  {P.NUMBER} "),
    (P.squeeze_elongations, "toooooday is sooo good", "today is so good"),
    (P.squeeze_elongations, "good tool too", "good tool too"),
    (P.lowercase, "LOUD Noise", "loud noise"),
    (P.squeeze_spaces, "  a   b \n c ", "a b c"),
])
def test_each_step(fn, text, expected):
    assert fn(text) == expected


def test_full_pipeline_on_a_real_looking_tweet():
    raw = "!!! RT @mayasolovely: As a woman you shouldn't complain &amp; #MondayMotivation 4 realllll http://t.co/x"
    assert clean(raw, TweetConfig()) == f"as a woman you shouldnt complain mondaymotivation {P.NUMBER} real"


def test_emoji_survive_and_empty_after_cleaning():
    cfg = TweetConfig()
    assert clean("love it \U0001f602\U0001f602!!!", cfg) == "love it \U0001f602\U0001f602"
    assert clean("RT @someone: http://t.co/abc !!!", cfg) == ""
    assert P.word_count(clean("RT @someone: http://t.co/abc", cfg)) == 0


def test_switches_turn_steps_off():
    cfg = TweetConfig(drop_mentions=False, hashtags="drop", replace_numbers=False, lowercase=False,
                      remove_punctuation=False, squeeze_elongations=False)
    assert clean("RT @Bob: Sooooo #tired at 5!", cfg) == "@Bob: Sooooo at 5!"
    assert clean("#tired", TweetConfig(hashtags="keep", remove_punctuation=False)) == "#tired"
    names = [f.__name__ for f in P.pipeline(TweetConfig())]
    assert names.index("remove_punctuation") < names.index("replace_numbers")  # so <number> survives


def test_clean_all_matches_clean():
    cfg = TweetConfig(hashtags="keep")
    texts = ["A &amp; B", "RT @x: yesss #y 12"]
    assert P.clean_all(texts, cfg) == [clean(t, cfg) for t in texts]


def test_token_lengths_use_the_tokenizer(tiny_bert):
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(tiny_bert)
    assert P.token_lengths(["hate the game", "", "a " * 100], tok, batch_size=2) == [5, 2, 102]
