import numpy as np
import pandas as pd
import pytest
import torch

from tests.helpers import synthetic_prices, write_folder, yahoo_frame
from trainables.common.errors import DataError
from trainables.stock.config import StockConfig
from trainables.stock.data import DataOptions, load, load_prices, make_splits


def test_embedded_prices_are_goog_and_aapl_on_common_dates():
    prices = load_prices()
    assert list(dict.fromkeys(prices.columns.get_level_values("ticker"))) == ["GOOG", "AAPL"]
    assert prices.index[0] == pd.Timestamp("2004-08-19")  # GOOG's first day; AAPL trades earlier
    assert prices.index[-1] == pd.Timestamp("2013-03-01")
    assert prices.index.is_monotonic_increasing and not prices.isna().any().any()


def test_start_and_end_select_the_period():
    prices = load_prices(start="2010-01-01", end="2010-12-31")
    assert prices.index[0].year == prices.index[-1].year == 2010


def test_folder_of_yahoo_csvs(tmp_path):
    prices = load_prices(write_folder(tmp_path / "px"), ("GOOG", "AAPL"))
    assert prices.shape == (120, 12)
    assert prices[("AAPL", "close")].iloc[0] == pytest.approx(yahoo_frame(base=200.0, seed=1)["Close"].iloc[0])


def test_long_csv(tmp_path):
    rows = [(d, t, 10.0 + i) for i, d in enumerate(pd.bdate_range("2020-01-01", periods=50).strftime("%Y-%m-%d"))
            for t in ("X", "Y")]
    path = tmp_path / "long.csv"
    pd.DataFrame(rows, columns=["date", "ticker", "close"]).to_csv(path, index=False)
    prices = load_prices(path, ("Y", "X"))
    assert list(prices.columns) == [("Y", "close"), ("X", "close")]
    assert len(prices) == 50


def _folder_with(tmp_path, goog: pd.DataFrame):
    folder = write_folder(tmp_path / "px")
    goog.to_csv(folder / "GOOG.csv", index=False)
    return folder


@pytest.mark.parametrize("edit, message", [
    (lambda df: df.drop(columns="Close"), r"GOOG\.csv: missing column\(s\) close"),
    (lambda df: df.assign(Close=df["Close"].astype(object).where(df.index != 5, "n/a")),
     r"GOOG\.csv: non-numeric close 'n/a'"),
    (lambda df: df.assign(Close=df["Close"].where(df.index != 7, -3.0)), r"GOOG\.csv: non-positive close -3\.0"),
    (lambda df: pd.concat([df, df.iloc[[10]]]), r"GOOG\.csv: duplicate date"),
    (lambda df: df.drop(index=[40, 41]), r"GOOG has 2 date\(s\) the other tickers have .*gaps in one ticker only"),
    (lambda df: df.assign(Date=df["Date"].where(df.index != 3, "not a date")), r"unreadable date 'not a date'"),
])
def test_bad_input_is_one_clear_line(tmp_path, edit, message):
    folder = _folder_with(tmp_path, edit(yahoo_frame()))
    with pytest.raises(DataError, match=message) as err:
        load_prices(folder, ("GOOG", "AAPL"))
    assert "\n" not in str(err.value)


def test_missing_file_and_unknown_ticker(tmp_path):
    with pytest.raises(DataError, match="nope.csv: no such file or folder"):
        load_prices(tmp_path / "nope.csv")
    with pytest.raises(DataError, match=r"MSFT\.csv: no such file \(unknown ticker 'MSFT'; found: AAPL, GOOG\)"):
        load_prices(write_folder(tmp_path / "px"), ("GOOG", "MSFT"))
    with pytest.raises(DataError, match="embedded prices: unknown ticker 'TSLA'"):
        load_prices("embedded", ("TSLA",))


def test_unsorted_dates_are_sorted_with_a_warning(tmp_path):
    folder = _folder_with(tmp_path, yahoo_frame().iloc[::-1])
    with pytest.warns(UserWarning, match="not in order; sorted"):
        prices = load_prices(folder, ("GOOG", "AAPL"))
    assert prices.index.is_monotonic_increasing


def test_too_few_rows_for_window_and_splits():
    with pytest.raises(DataError, match="too few for a 30-day window"):
        make_splits(synthetic_prices(n=60), StockConfig())


def test_splits_are_chronological_and_cover_every_target_day():
    prices = synthetic_prices(n=200)
    data = make_splits(prices, StockConfig(window=30, batch_size=16))
    parts = torch.cat([data.train, data.val, data.test])
    assert parts.tolist() == list(range(30, 200))
    assert data.train.max() < data.val.min() and data.val.max() < data.test.min()
    assert len(data.val) == len(data.test) == int(170 * 0.15)


@pytest.mark.parametrize("formulation", ["returns", "paper"])
def test_scaling_sees_only_the_training_part(formulation):
    prices = synthetic_prices(n=200)
    cfg = StockConfig(window=30, batch_size=16, formulation=formulation, features=("close", "volume"))
    before = make_splits(prices, cfg)
    shocked = prices.copy()
    shocked.iloc[int(before.val[0]):] *= 10.0  # the future changes wildly
    after = make_splits(shocked, cfg)
    fit = int(before.val[0])
    assert torch.equal(before.x[:fit], after.x[:fit]) and torch.equal(before.y[:fit], after.y[:fit])
    assert torch.equal(before.y_min, after.y_min) and torch.equal(before.y_scale, after.y_scale)


def test_paper_formulation_scales_levels_to_the_unit_interval():
    data = make_splits(synthetic_prices(n=200), StockConfig(window=30, batch_size=16, formulation="paper"))
    fit = int(data.val[0])
    assert data.x[:fit].min() == 0.0 and data.x[:fit].max() == 1.0


def test_returns_formulation_is_scale_free_and_zero_means_persistence():
    prices = synthetic_prices(n=200)
    cfg = StockConfig(window=30, batch_size=16)
    assert cfg.formulation == "returns"  # the default
    data = make_splits(prices, cfg)
    tenfold = make_splits(prices * 10.0, cfg)  # the same market at another price level
    assert torch.allclose(data.x, tenfold.x, atol=1e-5) and torch.allclose(data.y, tenfold.y, atol=1e-5)
    days = data.test
    flat = data.to_prices(torch.zeros(len(days), 2), days)
    assert torch.equal(flat, data.close[days - 1])  # an output of 0 is tomorrow = today
    # The target is the next day's return, in units of its training spread.
    ret = data.close[days] / data.close[days - 1] - 1
    assert torch.allclose(data.y[days] * data.y_scale, ret, atol=1e-6)
    assert 0.5 < float(data.y[data.train].std()) < 2.0


def test_split_window_gives_every_window_the_same_days():
    prices = synthetic_prices(n=300)
    short = make_splits(prices, StockConfig(window=10, split_window=60, batch_size=16))
    long = make_splits(prices, StockConfig(window=60, split_window=60, batch_size=16))
    for part in ("train", "val", "test"):
        assert torch.equal(getattr(short, part), getattr(long, part))
    assert int(short.train[0]) == 60
    alone = make_splits(prices, StockConfig(window=10, batch_size=16))  # without it, the days differ
    assert not torch.equal(alone.test, short.test)
    assert short.inputs(short.train[:1]).shape == (1, 10, 2)


def test_split_window_shorter_than_the_window_changes_nothing():
    prices = synthetic_prices(n=200)
    a = make_splits(prices, StockConfig(window=30, split_window=10, batch_size=16))
    b = make_splits(prices, StockConfig(window=30, batch_size=16))
    assert torch.equal(a.test, b.test) and torch.equal(a.x, b.x)


@pytest.mark.parametrize("formulation", ["returns", "paper"])
def test_windows_are_views_ending_the_day_before_the_target(formulation):
    data = make_splits(synthetic_prices(n=200), StockConfig(window=30, batch_size=16, formulation=formulation))
    days = data.test[:3]
    batch = data.inputs(days)
    assert batch.shape == (3, 30, 2)
    for row, day in zip(batch, days):
        assert torch.equal(row, data.x[day - 30:day])
    assert data.x.unfold(0, 30, 1).data_ptr() == data.x.data_ptr()  # no copy per window
    close = data.to_prices(data.y[days], days)
    assert np.allclose(close.numpy(), data.close[days].numpy(), rtol=1e-5)


def _with_nulls(frame: pd.DataFrame, rows) -> pd.DataFrame:
    """Yahoo's way of writing a day without prices: the string null in every field."""
    out = frame.astype(object)
    out.loc[list(rows), out.columns[1:]] = "null"
    return out


def test_null_rows_inside_the_period_are_dropped_for_every_ticker_with_a_note(tmp_path):
    goog = yahoo_frame()
    folder = _folder_with(tmp_path, _with_nulls(goog, [20, 21, 50]))
    with pytest.warns(UserWarning) as caught:
        prices = load_prices(folder, ("GOOG", "AAPL"))
    (note,) = [str(w.message) for w in caught]
    assert "GOOG.csv: dropped 3 row(s) of null" in note and goog["Date"].iloc[20] in note and "\n" not in note
    assert len(prices) == 117  # AAPL's rows on those days go too: no gap in one ticker only
    assert pd.Timestamp(goog["Date"].iloc[21]) not in prices.index


def test_null_rows_outside_start_end_are_ignored(tmp_path, recwarn):
    goog = yahoo_frame()
    folder = _folder_with(tmp_path, _with_nulls(goog, [0, 1, 2, 118]))
    prices = load_prices(folder, ("GOOG", "AAPL"), start=goog["Date"].iloc[3], end=goog["Date"].iloc[117])
    assert len(prices) == 115 and not [w for w in recwarn if "null" in str(w.message)]


def test_a_file_that_is_mostly_null_is_an_error(tmp_path):
    folder = _folder_with(tmp_path, _with_nulls(yahoo_frame(), range(100)))
    with pytest.raises(DataError, match=r"GOOG\.csv: 100 of 120 rows are null"):
        load_prices(folder, ("GOOG", "AAPL"))


def test_load_checks_every_arm_features_all_on_closes_only(tmp_path):
    rows = [(d, t, 10.0 + i) for i, d in enumerate(pd.bdate_range("2020-01-01", periods=200).strftime("%Y-%m-%d"))
            for t in ("GOOG", "AAPL")]
    path = tmp_path / "long.csv"
    pd.DataFrame(rows, columns=["date", "ticker", "close"]).to_csv(path, index=False)
    options = DataOptions(data=str(path))
    assert len(load(options, [StockConfig(window=10, batch_size=16)])) == 200
    with pytest.raises(DataError, match="the data has no open, high, low, adj_close, volume column"):
        load(options, [StockConfig(window=10, batch_size=16), StockConfig(window=10, batch_size=16, features=("all",))])


@pytest.mark.parametrize("value", ["2013-13-01", "yesterday", "01/02/2013"])
def test_malformed_start_or_end_is_refused(value):
    with pytest.raises(DataError, match=f"--start {value!r}: not a date"):
        DataOptions(start=value)
    with pytest.raises(DataError, match="--end"):
        DataOptions(end=value)


def test_start_after_end_is_refused():
    with pytest.raises(DataError, match="--start 2012-01-01 is after --end 2011-01-01"):
        DataOptions(start="2012-01-01", end="2011-01-01")
    assert DataOptions(start="2011-01-01", end="2011-01-01").start == "2011-01-01"


def test_yahoo_offline_is_a_clear_error(monkeypatch):
    import sys
    import types

    def download(*args, **kwargs):
        raise ConnectionError("Failed to resolve 'query2.finance.yahoo.com'")

    monkeypatch.setitem(sys.modules, "yfinance", types.SimpleNamespace(download=download))
    with pytest.raises(DataError, match=r"Yahoo Finance: cannot download GOOG \(ConnectionError"):
        load_prices("yahoo", ("GOOG",))
    monkeypatch.setitem(sys.modules, "yfinance", None)  # not installed
    with pytest.raises(DataError, match=r"install the yahoo extra"):
        load_prices("yahoo", ("GOOG",))
