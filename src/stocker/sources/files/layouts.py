"""What a file must and may hold to fill each table, and how its headers and cells are read.

`TABLES` lists each table's required and optional columns; `ALIASES` the header spellings that
mean a column (after `stocker.core.cells.normalize_header`); `column_kind` how a column's cells
are parsed. The file source (`stocker.sources.files.source`) reads a file against these.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from stocker.sources.base import INSTRUMENT_INFO_COLUMNS, INSTRUMENT_METRICS_VALUE_COLUMNS

TEXT, NUMBER, INTEGER, DATE, TIMESTAMP, BOOLEAN = (
    "text",
    "number",
    "integer",
    "date",
    "timestamp",
    "boolean",
)
INTEGER_COLUMNS = {
    "volume",
    "article_count",
    "shares_outstanding",
    "float_shares",
    "fiscal_year",
    "fiscal_quarter",
}
TEXT_COLUMNS = {
    "symbol",
    "name",
    "asset_class",
    "sector",
    "industry",
    "exchange",
    "currency",
    "action_type",
    "period_type",
    "interval",
}


def column_kind(column: str) -> str:
    """How a canonical column's cells are parsed."""
    if column in TEXT_COLUMNS:
        return TEXT
    if column in INTEGER_COLUMNS:
        return INTEGER
    if column in {"date", "as_of_date", "period_end"}:
        return DATE
    if column == "timestamp":
        return TIMESTAMP
    if column == "active":
        return BOOLEAN
    return NUMBER


@dataclass(frozen=True)
class TableLayout:
    """What a file must and may hold to fill one table."""

    required: tuple[str, ...]
    optional: tuple[str, ...]
    date_column: str | None


_METRIC_VALUES = tuple(c for c in INSTRUMENT_METRICS_VALUE_COLUMNS)
TABLES: dict[str, TableLayout] = {
    "prices_daily": TableLayout(
        ("symbol", "date", "open", "high", "low", "close", "volume"), ("adj_close",), "date"
    ),
    "prices_intraday": TableLayout(
        ("symbol", "timestamp", "open", "high", "low", "close", "volume"),
        ("interval",),
        "timestamp",
    ),
    "corporate_actions": TableLayout(("symbol", "date", "action_type", "value"), (), "date"),
    "instrument_info": TableLayout(
        ("symbol",),
        tuple(c for c in INSTRUMENT_INFO_COLUMNS if c not in {"symbol", "source", "source_hash"}),
        None,
    ),
    "instrument_metrics": TableLayout(
        ("symbol", "as_of_date"), ("period_type", *_METRIC_VALUES), "as_of_date"
    ),
    "market_sentiment": TableLayout(
        ("date", "sentiment_score"), ("symbol", "sentiment_magnitude", "article_count"), "date"
    ),
}

# Normalized header -> canonical column, for every table (see `_table_alias` for per-table ones).
ALIASES = {
    "ticker": "symbol",
    "tickers": "symbol",
    "code": "symbol",
    "instrument": "symbol",
    "tradingsymbol": "symbol",
    "trade_date": "date",
    "day": "date",
    "adjclose": "adj_close",
    "adjusted_close": "adj_close",
    "adj_close_price": "adj_close",
    "vol": "volume",
    "action": "action_type",
    "type": "action_type",
    "amount": "value",
    "ratio": "value",
    "company": "name",
    "company_name": "name",
    "score": "sentiment_score",
    "sentiment": "sentiment_score",
    "magnitude": "sentiment_magnitude",
    "articles": "article_count",
    "datetime": "timestamp",
    "date_time": "timestamp",
    "time": "timestamp",
}
SPLIT_WORDS = {"SPLIT", "SPLITS", "STOCK SPLIT", "STOCK SPLITS", "STOCK_SPLIT", "STOCK_SPLITS"}
DIVIDEND_WORDS = {"DIVIDEND", "DIVIDENDS", "DIV", "CASH DIVIDEND", "CASH_DIVIDEND"}


def table_alias(table: str, name: str) -> str:
    """The canonical column a normalized header means in `table`."""
    if table == "prices_intraday" and name == "date":
        return "timestamp"
    if table == "instrument_metrics" and name == "date":
        return "as_of_date"
    return ALIASES.get(name, name)


def parse_action_types(series: pd.Series) -> pd.Series:
    """SPLIT or DIVIDEND from the ways files spell them; NA for any other action."""
    words = series.astype("string").str.upper().str.split().str.join(" ")
    parsed = pd.Series(pd.NA, index=series.index, dtype="object")
    parsed[words.isin(SPLIT_WORDS)] = "SPLIT"
    parsed[words.isin(DIVIDEND_WORDS)] = "DIVIDEND"
    return parsed
