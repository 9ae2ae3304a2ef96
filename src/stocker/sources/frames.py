"""Build the sources' DataFrames with the target tables' column names and stable dtypes.

Every source hands rows (plain dicts) to these builders so the frames look alike whatever the
vendor: prices float64, volume int64, `date` as `datetime.date`, `timestamp` UTC-aware.

Rows given as a list get a fresh 0-based index. Rows given as a DataFrame keep their index
labels through sorting: a file source labels each row with its line in the file, and ingestion
reports rejected rows by those labels (see `stocker.data.ingest`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime, tzinfo

import pandas as pd

from stocker.sources.base import (
    CORPORATE_ACTION_COLUMNS,
    DAILY_BAR_COLUMNS,
    INTRADAY_BAR_COLUMNS,
)

PRICE_COLUMNS = ("open", "high", "low", "close", "adj_close")


def _frame(
    rows: Iterable[Mapping[str, object]] | pd.DataFrame, columns: Sequence[str]
) -> pd.DataFrame:
    if isinstance(rows, pd.DataFrame):
        return rows.reindex(columns=list(columns))
    return pd.DataFrame(list(rows), columns=list(columns))


def _sorted(frame: pd.DataFrame, by: list[str], rows: object) -> pd.DataFrame:
    """Sorted by `by`; a frame built from a list is renumbered, a given DataFrame keeps labels."""
    ordered = frame.sort_values(by, kind="stable")
    return ordered if isinstance(rows, pd.DataFrame) else ordered.reset_index(drop=True)


def daily_bars_frame(rows: Iterable[Mapping[str, object]] | pd.DataFrame) -> pd.DataFrame:
    """A `prices_daily` frame; `adj_close` is NaN where the vendor gave none."""
    frame = _frame(rows, DAILY_BAR_COLUMNS)
    for column in PRICE_COLUMNS:
        frame[column] = pd.to_numeric(frame[column], errors="coerce").astype("float64")
    frame["volume"] = frame["volume"].astype("int64")
    frame["date"] = frame["date"].astype(object)
    return _sorted(frame, ["symbol", "date"], rows)


def intraday_bars_frame(rows: Iterable[Mapping[str, object]] | pd.DataFrame) -> pd.DataFrame:
    """A `prices_intraday` frame with UTC-aware bar start times."""
    frame = _frame(rows, INTRADAY_BAR_COLUMNS)
    frame["timestamp"] = pd.to_datetime(frame["timestamp"], utc=True)
    for column in PRICE_COLUMNS[:-1]:
        frame[column] = pd.to_numeric(frame[column], errors="coerce").astype("float64")
    frame["volume"] = frame["volume"].astype("int64")
    return _sorted(frame, ["symbol", "timestamp"], rows)


def corporate_actions_frame(
    rows: Iterable[Mapping[str, object]] | pd.DataFrame,
) -> pd.DataFrame:
    """A `corporate_actions` frame: SPLIT value is new/old shares, DIVIDEND value is cash/share."""
    frame = _frame(rows, CORPORATE_ACTION_COLUMNS)
    frame["value"] = pd.to_numeric(frame["value"], errors="coerce").astype("float64")
    frame["date"] = frame["date"].astype(object)
    return _sorted(frame, ["symbol", "date", "action_type"], rows)


def records_frame(
    rows: Iterable[Mapping[str, object]] | pd.DataFrame, columns: Sequence[str]
) -> pd.DataFrame:
    """A frame of exactly `columns` (missing keys become NaN/None) in the given order."""
    return _frame(rows, columns)


def bar_row(
    *,
    symbol: str,
    moment: datetime,
    interval: str,
    prices: tuple[object, object, object, object],
    volume: int,
    exchange_zone: tzinfo,
    source: str,
    source_hash: str,
) -> dict[str, object]:
    """One vendor bar as a `prices_daily` row (interval '1d') or a `prices_intraday` row.

    Daily bars take their date in the exchange's zone and have no vendor adj_close (NaN);
    intraday bars keep the aware timestamp, in UTC.
    """
    open_, high, low, close = prices
    row: dict[str, object] = {
        "symbol": symbol,
        "open": open_,
        "high": high,
        "low": low,
        "close": close,
        "volume": volume,
        "source": source,
        "source_hash": source_hash,
    }
    if interval == "1d":
        row["date"] = moment.astimezone(exchange_zone).date()
        row["adj_close"] = float("nan")
    else:
        row["timestamp"] = moment.astimezone(UTC)
        row["interval"] = interval
    return row
