"""What a file must and may hold to fill each table, and how its headers and cells are read.

A `TableLayout` wraps the table's `stocker.core.tables.TableSpec` (its columns, required columns
and date column: one description per stored fact) with what only a file needs: header aliases
for the table, the columns an option may fill, and the frame builder. `ALIASES` lists the
header spellings that mean a column (after `stocker.core.cells.normalize_header`) and
`column_kind` how a column's cells are parsed. The file source (`stocker.sources.files.source`)
reads a file against these and never branches on a table's name.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

import pandas as pd

from stocker.core import tables
from stocker.core.cells import PLAIN, NumberFormat, parse_ratio, read_number
from stocker.core.tables import PROVENANCE_COLUMNS, TableSpec
from stocker.sources.base import (
    INSTRUMENT_INFO_COLUMNS,
    INSTRUMENT_METRICS_KEY_COLUMNS,
    INSTRUMENT_METRICS_VALUE_COLUMNS,
    MARKET_SENTIMENT_COLUMNS,
)
from stocker.sources.frames import (
    corporate_actions_frame,
    daily_bars_frame,
    intraday_bars_frame,
    records_frame,
)

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


# Normalized header -> canonical column, for every table (`TableLayout.aliases` adds per-table
# ones).
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


OPTION_COLUMNS = frozenset({"interval", "period_type"})
"""Columns a file may leave out because an option of the source gives them."""


def parse_action_value(action: object, cell: Any, numbers: NumberFormat = PLAIN) -> float | None:
    """A corporate action's value as its type reads it: a split ratio ('2:1', '1/10', '4') or
    a cash amount in the file's number format ('0.24', '1,000.5'); None for a blank amount."""
    return parse_ratio(cell) if action == "SPLIT" else read_number(cell, numbers)


@dataclass(frozen=True)
class TableLayout:
    """What a file must and may hold to fill one table, and how its rows become a frame."""

    spec: TableSpec
    build: Callable[[pd.DataFrame], pd.DataFrame]
    """The source's frame for the table from the parsed rows."""
    extra_columns: tuple[str, ...] = ()
    """Columns the table stores beyond the spec's (metrics: every value column)."""
    aliases: Mapping[str, str] = field(default_factory=dict)
    """Header -> column for this table only (`date` is the timestamp of an intraday bar)."""
    option_columns: tuple[str, ...] = ()
    """Columns an option fills for rows (or files) without them (`OPTION_COLUMNS`)."""
    nan_when_absent: tuple[str, ...] = ()
    """Optional numbers a file may lack entirely (adj_close)."""
    typed_by: Mapping[str, tuple[str, Callable[[object, Any, NumberFormat], float | None]]] = field(
        default_factory=dict
    )
    """Column -> (the column whose value says how to read it, the reader): the value of a
    corporate action is a split ratio or a cash amount depending on its type."""

    @property
    def name(self) -> str:
        return self.spec.name

    @property
    def required(self) -> tuple[str, ...]:
        """Columns every file must have (`symbol` may come from the `symbol=` option)."""
        return tuple(column for column in self.spec.required if column not in _FILLED)

    @property
    def optional(self) -> tuple[str, ...]:
        return tuple(
            column
            for column in (*self.spec.columns, *self.extra_columns)
            if column not in self.required and column not in PROVENANCE_COLUMNS
        )

    @property
    def date_column(self) -> str | None:
        return self.spec.date_column

    def alias(self, name: str) -> str:
        """The canonical column a normalized header means in this table."""
        return self.aliases.get(name) or ALIASES.get(name, name)


_FILLED = OPTION_COLUMNS | set(PROVENANCE_COLUMNS)


def _metrics_frame(parsed: pd.DataFrame) -> pd.DataFrame:
    values = [column for column in INSTRUMENT_METRICS_VALUE_COLUMNS if column in parsed]
    return records_frame(parsed, [*INSTRUMENT_METRICS_KEY_COLUMNS, *values, "source_hash"])


def _instruments_frame(parsed: pd.DataFrame) -> pd.DataFrame:
    present = [c for c in INSTRUMENT_INFO_COLUMNS if c in parsed and c != "symbol"]
    return records_frame(parsed, ["symbol", *present])


TABLES: Mapping[str, TableLayout] = MappingProxyType(
    {
        layout.name: layout
        for layout in (
            TableLayout(tables.PRICES_DAILY, daily_bars_frame, nan_when_absent=("adj_close",)),
            TableLayout(
                tables.PRICES_INTRADAY,
                intraday_bars_frame,
                aliases={"date": "timestamp"},
                option_columns=("interval",),
            ),
            TableLayout(
                tables.CORPORATE_ACTIONS,
                corporate_actions_frame,
                typed_by={"value": ("action_type", parse_action_value)},
            ),
            TableLayout(tables.INSTRUMENT_INFO, _instruments_frame),
            TableLayout(
                tables.INSTRUMENT_METRICS,
                _metrics_frame,
                extra_columns=INSTRUMENT_METRICS_VALUE_COLUMNS,
                aliases={"date": "as_of_date"},
                option_columns=("period_type",),
            ),
            TableLayout(
                tables.MARKET_SENTIMENT,
                lambda parsed: records_frame(parsed, MARKET_SENTIMENT_COLUMNS),
            ),
        )
    }
)
"""The tables a file can fill, by name."""


def parse_action_types(series: pd.Series) -> pd.Series:
    """SPLIT or DIVIDEND from the ways files spell them; NA for any other action."""
    words = series.astype("string").str.upper().str.split().str.join(" ")
    parsed = pd.Series(pd.NA, index=series.index, dtype="object")
    parsed[words.isin(SPLIT_WORDS)] = "SPLIT"
    parsed[words.isin(DIVIDEND_WORDS)] = "DIVIDEND"
    return parsed
