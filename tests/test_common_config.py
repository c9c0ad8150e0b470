import dataclasses

import numpy as np
import pytest

from trainables.common.config import ConfigError, check_range, to_dict, validate_fields
from trainables.stock.config import StockConfig


@dataclasses.dataclass(frozen=True)
class Example:
    n: int = 1
    x: float = 0.5
    name: str = "a"
    flag: bool = False
    items: tuple[str, ...] = ("a",)

    def __post_init__(self):
        validate_fields(self)


def test_values_from_tune_and_json_are_normalised():
    cfg = Example(n=np.int64(3), x=2, flag=np.bool_(True), items=["b", "c"])
    assert cfg.n == 3 and type(cfg.n) is int
    assert cfg.x == 2.0 and type(cfg.x) is float
    assert cfg.flag is True
    assert cfg.items == ("b", "c")
    assert to_dict(cfg)["items"] == ["b", "c"]


@pytest.mark.parametrize("kwargs, field", [
    ({"n": "3"}, "n"), ({"n": 1.5}, "n"), ({"x": "fast"}, "x"), ({"flag": 1}, "flag"), ({"items": "abc"}, "items"),
])
def test_wrong_types_name_the_field(kwargs, field):
    with pytest.raises(ConfigError, match=f"^{field}:"):
        Example(**kwargs)


def test_check_range_bounds():
    check_range("p", 0.0, 0.0, 1.0)
    with pytest.raises(ConfigError, match=r"p: 0.0 is outside \(0.0, 1.0\]"):
        check_range("p", 0.0, 0.0, 1.0, low_inclusive=False)


def test_every_stock_default_is_valid():
    assert StockConfig().cell == "lstm"


def test_mistyped_key_fails_at_once():
    with pytest.raises(TypeError, match="lrr"):
        StockConfig(lrr=0.1)


@pytest.mark.parametrize("kwargs, message", [
    ({"cell": "transformer"}, "cell: 'transformer' is not one of rnn, lstm, gru"),
    ({"dropout": 1.0}, "dropout"),
    ({"features": ("open",)}, "must include close"),
    ({"features": ("close", "vwap")}, "features: 'vwap'"),
    ({"window": 1}, "window"),
])
def test_stock_config_rejects_bad_values(kwargs, message):
    with pytest.raises(ConfigError, match=message):
        StockConfig(**kwargs)


def test_check_range_refuses_nan():
    """NaN compares false with both bounds, so a plain comparison would let it through."""
    with pytest.raises(ConfigError, match="lr: expected a number, got nan"):
        check_range("lr", float("nan"), 0.0, low_inclusive=False)
    with pytest.raises(ConfigError, match="dropout"):
        StockConfig(dropout=float("nan"))


def test_budget_is_a_documented_trial_field_validated_at_once():
    from trainables.chargen.config import CharConfig
    from trainables.common.config import TrialConfig, field_docs

    assert TrialConfig().budget_s == 0.0 and CharConfig(budget_s=np.int64(90)).budget_s == 90.0
    assert type(CharConfig(budget_s=90).budget_s) is float
    assert "time/train_s" in field_docs(CharConfig)["budget_s"]
    for bad, message in ((-1.0, r"budget_s: -1.0 is outside \[0.0"), (float("nan"), "budget_s: expected a number"),
                         (float("inf"), "budget_s: inf is not a budget"), ("60", "budget_s: expected a number")):
        with pytest.raises(ConfigError, match=message):
            StockConfig(budget_s=bad)
