"""One description per ingestible table: what it holds, what is required, which rules apply.

Validation, ingestion and the quarantine dispatch on a `TableSpec` instead of branching on table
names; a source may use the same spec to know what a file for a table must and may hold. `TABLES`
lists the specs in the order a batch lands them: instruments first (foreign keys), corporate
actions before prices (a split explains its price jump).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date
from types import MappingProxyType
from typing import Literal

import pandas as pd

from stocker.core.errors import DataError
from stocker.core.rules.actions import check_corporate_actions
from stocker.core.rules.bars import DEFAULT_JUMP_THRESHOLD, check_daily_bars
from stocker.core.rules.common import CalendarSessions, CheckResult
from stocker.core.rules.instruments import check_instruments
from stocker.core.rules.intraday import check_intraday_bars
from stocker.core.rules.metrics import check_metrics
from stocker.core.rules.sentiment import check_sentiment

PROVENANCE_COLUMNS = ("source", "source_hash")
"""Where a row came from: the source's name and the SHA-256 of its raw payload."""
WAIVABLE_RULES = frozenset({"price_jump", "stale_bar", "not_a_session"})
"""Rules that hold a row for a person's judgment rather than forbid it."""


@dataclass(frozen=True)
class RuleContext:
    """What the rules of a table are told about the world (read by the caller, pure here)."""

    today: date
    calendars: Mapping[str, CalendarSessions] = field(default_factory=dict)
    """Symbol → its exchange's sessions (with open/close times for intraday)."""
    previous: pd.DataFrame | None = None
    """Per symbol, the last stored daily bar before the batch's first one."""
    actions: pd.DataFrame | None = None
    """Stored corporate actions over the batch's dates (they may explain a jump)."""
    jump_threshold: float = DEFAULT_JUMP_THRESHOLD


RuleSet = Callable[[pd.DataFrame, RuleContext], CheckResult]
Sessions = Literal["none", "dates", "times"]


@dataclass(frozen=True)
class ForeignKey:
    """`column` references `table`'s `references` column."""

    column: str
    table: str
    references: str


@dataclass(frozen=True)
class ParseHints:
    """How the rules' typed values replace the raw ones before landing (so a stored value is the
    value that was checked)."""

    date_columns: tuple[str, ...] = ()
    """Stored as `datetime.date` as the rules parsed them."""
    timestamp_columns: tuple[str, ...] = ()
    """Stored as UTC timestamps as the rules parsed them."""
    code_columns: tuple[str, ...] = ()
    """Codes stored upper-cased as the rules read them (SPLIT, TTM)."""
    strip_symbol: bool = True
    """Symbols stored without surrounding blanks."""


@dataclass(frozen=True)
class TableSpec:
    """Everything ingestion needs to know about one table (see the module docstring)."""

    name: str
    columns: tuple[str, ...]
    """Every fact a source may deliver for the table, provenance included."""
    key: tuple[str, ...]
    """The natural key: unique in the table, the upsert's conflict key."""
    required: tuple[str, ...]
    """Columns a batch must have at all (a missing one refuses the whole batch)."""
    date_column: str | None
    """The column a date range selects on."""
    rules: RuleSet
    foreign_keys: tuple[ForeignKey, ...] = ()
    provenance: tuple[str, ...] = PROVENANCE_COLUMNS
    """Provenance columns the table stores (others stay in the quarantine and batch records)."""
    source_from_batch: bool = False
    """`source` is provenance only: rows without one take the batch's source."""
    sessions: Sessions = "none"
    """Which exchange sessions the rules need: none, session dates, or dates with hours."""
    previous_bars: bool = False
    """The rules need each symbol's previous stored bar and the stored corporate actions."""
    parse: ParseHints = ParseHints()
    derives_adj_close: bool = False
    """Rows carry an adjusted close derived from corporate actions when the vendor gave none."""
    adjusts_prices: bool = False
    """A changed row re-derives the adjusted closes of its symbol."""
    publishes_bars: bool = False
    """Every inserted or changed row is announced as a `MarketBar` event."""

    @property
    def registers_symbols(self) -> bool:
        """Rows name symbols `instrument_info` must hold before they land."""
        return any(key.table == "instrument_info" for key in self.foreign_keys)


_INSTRUMENT = (ForeignKey("symbol", "instrument_info", "symbol"),)
_BAR_VALUES = ("open", "high", "low", "close")

INSTRUMENT_INFO = TableSpec(
    name="instrument_info",
    columns=(
        "symbol",
        "name",
        "asset_class",
        "sector",
        "industry",
        "exchange",
        "currency",
        "active",
        *PROVENANCE_COLUMNS,
    ),
    key=("symbol",),
    required=("symbol",),
    date_column=None,
    rules=lambda frame, context: check_instruments(frame),
    source_from_batch=True,
)
CORPORATE_ACTIONS = TableSpec(
    name="corporate_actions",
    columns=("symbol", "date", "action_type", "value", *PROVENANCE_COLUMNS),
    key=("symbol", "date", "action_type"),
    required=("symbol", "date", "action_type", "value"),
    date_column="date",
    rules=lambda frame, context: check_corporate_actions(frame),
    foreign_keys=_INSTRUMENT,
    source_from_batch=True,
    parse=ParseHints(date_columns=("date",), code_columns=("action_type",)),
    adjusts_prices=True,
)
PRICES_DAILY = TableSpec(
    name="prices_daily",
    columns=("symbol", "date", *_BAR_VALUES, "adj_close", "volume", *PROVENANCE_COLUMNS),
    key=("symbol", "date"),
    required=("symbol", "date", *_BAR_VALUES, "volume"),
    date_column="date",
    rules=lambda frame, context: check_daily_bars(
        frame,
        today=context.today,
        calendars=context.calendars,
        previous=context.previous,
        actions=context.actions,
        jump_threshold=context.jump_threshold,
    ),
    foreign_keys=_INSTRUMENT,
    source_from_batch=True,
    sessions="dates",
    previous_bars=True,
    parse=ParseHints(date_columns=("date",)),
    derives_adj_close=True,
    publishes_bars=True,
)
PRICES_INTRADAY = TableSpec(
    name="prices_intraday",
    columns=("symbol", "timestamp", "interval", *_BAR_VALUES, "volume", *PROVENANCE_COLUMNS),
    key=("symbol", "timestamp", "interval"),
    required=("symbol", "timestamp", "interval", *_BAR_VALUES, "volume"),
    date_column="timestamp",
    rules=lambda frame, context: check_intraday_bars(
        frame, today=context.today, calendars=context.calendars
    ),
    foreign_keys=_INSTRUMENT,
    source_from_batch=True,
    sessions="times",
    parse=ParseHints(timestamp_columns=("timestamp",)),
)
METRIC_VALUE_COLUMNS = (
    "period_end",
    "fiscal_year",
    "fiscal_quarter",
    "currency",
    "market_cap",
    "enterprise_value",
    "shares_outstanding",
    "float_shares",
    "beta",
    "pe_ttm",
    "pe_forward",
    "price_to_book",
    "price_to_sales",
    "peg_ratio",
    "ev_to_ebitda",
    "ev_to_ebit",
    "fcf_yield",
    "dividend_yield",
    "dividend_rate",
    "payout_ratio",
    "revenue",
    "ebitda",
    "net_income",
    "free_cash_flow",
    "gross_margin",
    "operating_margin",
    "net_margin",
    "ebitda_margin",
    "roe",
    "roa",
    "roic",
    "revenue_growth_yoy",
    "earnings_growth_yoy",
    "eps_growth_yoy",
    "fcf_growth_yoy",
    "debt_to_equity",
    "net_debt_to_ebitda",
    "interest_coverage",
    "current_ratio",
    "quick_ratio",
    "roce",
    "eps_growth_3y",
    "promoter_holding",
    "fii_holding",
    "dii_holding",
    "sector",
    "industry",
)
"""Every fact `instrument_metrics` can hold besides its key (the Stocker columns plus the
SigmaQLab `fundamentals_snapshot` extras); a source fills those it knows."""
INSTRUMENT_METRICS = TableSpec(
    name="instrument_metrics",
    columns=("symbol", "as_of_date", "period_type", *METRIC_VALUE_COLUMNS, *PROVENANCE_COLUMNS),
    key=("symbol", "as_of_date", "period_type", "source"),
    required=("symbol", "as_of_date", "period_type", "source"),
    date_column="as_of_date",
    rules=lambda frame, context: check_metrics(frame, today=context.today),
    foreign_keys=_INSTRUMENT,
    provenance=("source",),
    parse=ParseHints(date_columns=("as_of_date",), code_columns=("period_type",)),
)
MARKET_SENTIMENT = TableSpec(
    name="market_sentiment",
    columns=(
        "symbol",
        "date",
        "source",
        "sentiment_score",
        "sentiment_magnitude",
        "article_count",
        "source_hash",
    ),
    key=("symbol", "date", "source"),
    required=("date", "source", "sentiment_score"),
    date_column="date",
    rules=lambda frame, context: check_sentiment(frame, today=context.today),
    provenance=("source",),
    parse=ParseHints(date_columns=("date",), strip_symbol=False),
)

TABLES: Mapping[str, TableSpec] = MappingProxyType(
    {
        spec.name: spec
        for spec in (
            INSTRUMENT_INFO,
            CORPORATE_ACTIONS,
            PRICES_DAILY,
            PRICES_INTRADAY,
            INSTRUMENT_METRICS,
            MARKET_SENTIMENT,
        )
    }
)
"""Every ingestible table by name, in the order a batch lands them."""
INGEST_TABLES = tuple(TABLES)


def spec_of(table: str) -> TableSpec:
    """The spec of `table`; a `DataError` naming the ingestible tables otherwise."""
    try:
        return TABLES[table]
    except KeyError:
        raise DataError(
            f"table {table!r} cannot be ingested; expected one of {INGEST_TABLES}"
        ) from None
