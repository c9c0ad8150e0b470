"""q1 data: load daily prices, validate them, split by time, scale, window.

Sources: the embedded ``bokeh_sampledata`` prices (offline default), a folder
of per-ticker Yahoo Finance CSVs, one long ``date,ticker,close`` CSV, or
Yahoo Finance itself through ``yfinance``. Every problem raises ``DataError``
naming the source and what is wrong, before any trial starts.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from trainables.common.errors import DataError
from trainables.stock.config import FIELDS, StockConfig
from trainables.stock.splits import StockData, make_splits, split_sizes  # noqa: F401  (q1's data API)

EMBEDDED = "embedded"
NULL = "null"  # what Yahoo Finance writes in every field of a day it has no prices for
YAHOO = "yahoo"
PRICES_FILE = "prices.csv"  # the closes a study loaded, kept in its run folder for the history plot


@dataclass(frozen=True)
class DataOptions:
    """Where q1's prices come from (the study's data flags)."""

    data: str = EMBEDDED
    """'embedded' (offline sample prices), 'yahoo' (download), a folder of TICKER.csv Yahoo exports,
    or one CSV with columns date,ticker,close."""
    tickers: tuple[str, ...] = ("GOOG", "AAPL")
    """Tickers, predicted jointly, aligned on their common dates."""
    start: str | None = None
    """First date (YYYY-MM-DD)."""
    end: str | None = None
    """Last date (YYYY-MM-DD)."""

    def __post_init__(self) -> None:
        for name in ("start", "end"):
            value = getattr(self, name)
            if value is not None and pd.to_datetime(value, errors="coerce", format="%Y-%m-%d") is pd.NaT:
                raise DataError(f"--{name} {value!r}: not a date (YYYY-MM-DD)")
        if self.start and self.end and pd.Timestamp(self.start) > pd.Timestamp(self.end):
            raise DataError(f"--start {self.start} is after --end {self.end}")


def load(options: DataOptions, arms: list[StockConfig]) -> pd.DataFrame:
    """The prices every arm trains on, checked against every arm (features, windows, splits)."""
    prices = load_prices(options.data, options.tickers, options.start, options.end)
    shapes = {(a.features, a.window, a.split_window, a.batch_size, a.val_fraction, a.test_fraction, a.formulation): a
              for a in arms}
    for arm in shapes.values():
        make_splits(prices, arm)
    return prices


def describe(prices: pd.DataFrame) -> str:
    tickers = ",".join(dict.fromkeys(prices.columns.get_level_values("ticker")))
    return f"{len(prices)} days of {tickers} from {prices.index[0].date()} to {prices.index[-1].date()}"


def load_prices(
    source: str | Path = EMBEDDED,
    tickers: tuple[str, ...] = ("GOOG", "AAPL"),
    start: str | None = None,
    end: str | None = None,
) -> pd.DataFrame:
    """Daily prices of ``tickers`` on their common dates.

    Returns a frame indexed by date with ``(ticker, field)`` columns, sorted
    by date and restricted to ``[start, end]``; rows outside that range are
    not checked. Days Yahoo has no prices for (rows of ``null``) are left
    out for every ticker, with a warning.
    """
    if not tickers:
        raise DataError("no tickers given")
    source = str(source)
    if source == EMBEDDED:
        per_ticker, origin = _read_embedded(tickers), "embedded prices"
    elif source == YAHOO:
        per_ticker, origin = _read_yahoo(tickers, start, end), "Yahoo Finance"
    else:
        path = Path(source)
        if not path.exists():
            raise DataError(f"{path}: no such file or folder")
        per_ticker = _read_folder(path, tickers) if path.is_dir() else _read_long_csv(path, tickers)
        origin = str(path)
    span = (pd.Timestamp(start) if start else None, pd.Timestamp(end) if end else None)
    frames, nulls = {}, pd.DatetimeIndex([])
    for t, (df, where) in per_ticker.items():
        frames[t], dropped = _clean(df, where, span)
        if len(dropped):
            shown = ", ".join(str(d.date()) for d in dropped[:3]) + (", ..." if len(dropped) > 3 else "")
            warnings.warn(f"{where}: dropped {len(dropped)} row(s) of null (no prices) on {shown}, "
                          "for every ticker", stacklevel=2)
        nulls = nulls.union(dropped)
    frames = {t: df.drop(index=df.index.intersection(nulls)) for t, df in frames.items()}
    prices = _align(frames, origin) if all(len(df) for df in frames.values()) else pd.DataFrame()
    if prices.empty:
        raise DataError(f"{origin}: no rows between {start or 'the start'} and {end or 'the end'}")
    return prices


def _read_embedded(tickers: tuple[str, ...]) -> dict[str, tuple[pd.DataFrame, str]]:
    from bokeh_sampledata import stocks

    out = {}
    for t in tickers:
        table = getattr(stocks, t, None)
        if not isinstance(table, dict):
            known = sorted(n for n in dir(stocks) if n.isupper() and isinstance(getattr(stocks, n), dict))
            raise DataError(f"embedded prices: unknown ticker {t!r} (available: {', '.join(known)})")
        out[t] = (pd.DataFrame(table), f"embedded prices [{t}]")
    return out


def _read_folder(folder: Path, tickers: tuple[str, ...]) -> dict[str, tuple[pd.DataFrame, str]]:
    out = {}
    for t in tickers:
        path = folder / f"{t}.csv"
        if not path.exists():
            found = sorted(p.stem for p in folder.glob("*.csv"))
            raise DataError(f"{path}: no such file (unknown ticker {t!r}; found: {', '.join(found) or 'no CSVs'})")
        out[t] = (_read_csv(path), str(path))
    return out


def _read_long_csv(path: Path, tickers: tuple[str, ...]) -> dict[str, tuple[pd.DataFrame, str]]:
    df = _read_csv(path)
    _require_columns(df, ("date", "ticker", "close"), str(path))
    df["ticker"] = df["ticker"].astype(str)
    out = {}
    for t in tickers:
        part = df[df["ticker"] == t]
        if part.empty:
            found = sorted(df["ticker"].unique())
            raise DataError(f"{path}: unknown ticker {t!r} (found: {', '.join(found)})")
        out[t] = (part.drop(columns="ticker"), f"{path} [{t}]")
    return out


def _read_yahoo(tickers: tuple[str, ...], start: str | None, end: str | None) -> dict[str, tuple[pd.DataFrame, str]]:
    try:
        import yfinance
    except ImportError as exc:
        raise DataError("Yahoo Finance: install the yahoo extra (pip install -e '.[yahoo]')") from exc
    out = {}
    for t in tickers:
        try:
            df = yfinance.download(t, start=start, end=end, auto_adjust=False, progress=False)
        except Exception as exc:  # yfinance raises many kinds when offline
            raise DataError(f"Yahoo Finance: cannot download {t} ({exc.__class__.__name__}: {exc})") from exc
        if df is None or df.empty:
            raise DataError(f"Yahoo Finance: no data for {t} (offline, or unknown ticker)")
        if isinstance(df.columns, pd.MultiIndex):
            df.columns = df.columns.get_level_values(0)
        out[t] = (df.reset_index(), f"Yahoo Finance [{t}]")
    return out


def _read_csv(path: Path) -> pd.DataFrame:
    try:
        # Keep "n/a" and friends as text so an error can quote what the file says.
        df = pd.read_csv(path, keep_default_na=False)
    except (pd.errors.EmptyDataError, pd.errors.ParserError, UnicodeDecodeError) as exc:
        raise DataError(f"{path}: cannot read as CSV ({exc})") from exc
    df.columns = [str(c).strip().lower().replace(" ", "_") for c in df.columns]
    return df


def _require_columns(df: pd.DataFrame, columns: tuple[str, ...], origin: str) -> None:
    missing = [c for c in columns if c not in df.columns]
    if missing:
        raise DataError(f"{origin}: missing column(s) {', '.join(missing)} (have: {', '.join(df.columns)})")


def _clean(df: pd.DataFrame, origin: str, span: tuple = (None, None)) -> tuple[pd.DataFrame, pd.DatetimeIndex]:
    """Validate one ticker's rows inside ``span``; return them indexed by date, sorted, and the null days."""
    df = df.rename(columns=lambda c: str(c).strip().lower().replace(" ", "_"))
    _require_columns(df, ("date", "close"), origin)
    dates = pd.to_datetime(df["date"], errors="coerce")
    if dates.isna().any():
        row = int(dates.isna().to_numpy().argmax())
        raise DataError(f"{origin}: unreadable date {df['date'].iloc[row]!r} in row {row + 2}")
    inside = dates.between(span[0] or dates.min(), span[1] or dates.max())
    df, dates = df[inside.to_numpy()], dates[inside]
    fields = [f for f in FIELDS if f in df.columns]
    df, dates, dropped = _drop_nulls(df, dates, fields, origin)
    values = df[fields].apply(pd.to_numeric, errors="coerce")
    for f in fields:
        bad = values[f].isna()
        if bad.any():
            row = int(bad.to_numpy().argmax())
            raw = df[f].iloc[row]
            shown = "(empty)" if pd.isna(raw) or raw == "" else repr(raw)
            raise DataError(f"{origin}: non-numeric {f} {shown} on {df['date'].iloc[row]}")
        floor_ok = values[f] >= 0 if f == "volume" else values[f] > 0
        if not floor_ok.all():
            row = int((~floor_ok).to_numpy().argmax())
            kind = "negative" if f == "volume" else "non-positive"
            raise DataError(f"{origin}: {kind} {f} {values[f].iloc[row]} on {df['date'].iloc[row]}")
    values.index = pd.DatetimeIndex(dates, name="date")
    dup = values.index.duplicated()
    if dup.any():
        raise DataError(f"{origin}: duplicate date {values.index[dup][0].date()} ({int(dup.sum())} duplicates)")
    if not values.index.is_monotonic_increasing:
        warnings.warn(f"{origin}: dates were not in order; sorted them", stacklevel=3)
        values = values.sort_index()
    return values, dropped


def _drop_nulls(df: pd.DataFrame, dates: pd.Series, fields: list[str], origin: str):
    """Rows without prices (Yahoo's ``null`` in a CSV, NaN in a downloaded frame) left out; their dates.

    A few such days are normal in Yahoo's exports; a file made mostly of
    them is a failed download, not a price history.
    """
    text = df[fields].astype(str).apply(lambda col: col.str.strip().str.lower())
    null = ((text == NULL) | df[fields].isna()).any(axis=1).to_numpy()
    if 2 * null.sum() > len(df):
        raise DataError(f"{origin}: {int(null.sum())} of {len(df)} rows are {NULL} (no prices): too few days with data")
    return df[~null], dates[~null], pd.DatetimeIndex(dates[null].sort_values())


def _align(frames: dict[str, pd.DataFrame], origin: str) -> pd.DataFrame:
    """Join tickers on dates where all of them trade.

    Before the youngest ticker's first day and after the first ticker's last
    day a ticker simply did not exist; inside that common span, a date one
    ticker has and another lacks is a gap in the data, and an error.
    """
    first = max(df.index[0] for df in frames.values())
    last = min(df.index[-1] for df in frames.values())
    spans = {t: df.loc[first:last] for t, df in frames.items()}
    every = sorted(set().union(*(set(df.index) for df in spans.values())))
    for t, df in spans.items():
        missing = len(every) - len(df)
        if missing:
            gap = next(d for d in every if d not in df.index)
            raise DataError(f"{origin}: {t} has {missing} date(s) the other tickers have (first {gap.date()}): "
                            "gaps in one ticker only")
    common = set.intersection(*(set(df.columns) for df in spans.values()))
    fields = [f for f in FIELDS if f in common]
    return pd.concat({t: df[fields] for t, df in spans.items()}, axis=1, names=["ticker", "field"])


YAHOO_COLUMNS = ["Date", "Open", "High", "Low", "Close", "Adj Close", "Volume"]


def yahoo_frame(n: int = 120, start: str = "2015-01-01", base: float = 100.0, seed: int = 0) -> pd.DataFrame:
    """A random-walk price table in Yahoo Finance's export format, business days (offline, no real data)."""
    rng = np.random.default_rng(seed)
    close = base * np.exp(np.cumsum(rng.normal(0, 0.01, n)))
    dates = pd.bdate_range(start, periods=n)
    return pd.DataFrame({
        "Date": dates.strftime("%Y-%m-%d"), "Open": close * 0.99, "High": close * 1.01, "Low": close * 0.98,
        "Close": close, "Adj Close": close, "Volume": rng.integers(1_000, 10_000, n),
    })[YAHOO_COLUMNS]


def synthetic_prices(n: int = 160, tickers: tuple[str, ...] = ("GOOG", "AAPL")) -> pd.DataFrame:
    """Random-walk prices as ``load_prices`` returns them ((ticker, field) columns, date index), for tests and
    benchmarks/gpu_check.py."""
    frames = {t: _clean(yahoo_frame(n, base=50.0 * (i + 1), seed=i), t)[0] for i, t in enumerate(tickers)}
    return _align(frames, "synthetic")
