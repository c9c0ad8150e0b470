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
