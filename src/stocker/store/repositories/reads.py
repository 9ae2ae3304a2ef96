"""Read models for the API and the web app: paginated listings with stable cursors.

Every listing is one `Listing`: a constant FROM clause, the columns it shows, the keyset it is
ordered by (unique per row, so a page boundary never skips or repeats a row) and the filters a
caller may pass, each a constant SQL condition with one bound parameter. Nothing a caller sends
reaches SQL except as a bound parameter: filter names are looked up here, values are bound, and a
cursor is decoded into typed key values before it is bound.

A cursor is the last row's key, JSON in URL-safe base64, tagged with the listing's name so a
cursor of one listing is refused by another.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection, text

from stocker.core.errors import DataError
from stocker.store.repositories.web_reads import WebReads

MAX_LIMIT = 1000


def _date(value: Any) -> dt.date:
    return dt.date.fromisoformat(str(value))


def _int(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise ValueError(value)
    number = int(value)
    if not -(2**63) <= number < 2**63:
        raise ValueError(value)
    return number


def _text(value: Any) -> str:
    if not isinstance(value, str) or "\x00" in value:
        raise ValueError(value)
    return value


KEY_TYPES: Mapping[str, Callable[[Any], Any]] = {"date": _date, "int": _int, "text": _text}


@dataclass(frozen=True)
class Listing:
    """One paginated read: `source` and `columns` are constant SQL; `key` is (expression, output
    column, type) per keyset part; `filters` maps a filter name to a condition on `:value`."""

    name: str
    source: str
    columns: str
    key: tuple[tuple[str, str, str], ...]
    filters: Mapping[str, str] = field(default_factory=dict)
    where: str = "TRUE"


@dataclass(frozen=True)
class Page:
    """Rows of one page and the cursor of the next (None on the last page)."""

    items: list[dict[str, Any]]
    next_cursor: str | None


def encode_cursor(listing: str, values: list[Any]) -> str:
    plain = [value.isoformat() if isinstance(value, dt.date) else value for value in values]
    raw = json.dumps([listing, plain], separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(listing: Listing, cursor: str) -> list[Any]:
    """The typed key values in `cursor`, or a DataError naming the field `cursor`."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        name, values = json.loads(raw)
        if name != listing.name or len(values) != len(listing.key):
            raise ValueError(name)
        return [
            None if value is None else KEY_TYPES[kind](value)
            for value, (_, _, kind) in zip(values, listing.key, strict=True)
        ]
    except (ValueError, TypeError, binascii.Error, UnicodeDecodeError):
        raise DataError(
            f"cursor: {cursor[:40]!r} is not a cursor of this listing; pass the next_cursor "
            "of a previous page"
        ) from None


def _between(column: str) -> dict[str, str]:
    return {"start": f"{column} >= :value", "end": f"{column} <= :value"}


_BARS = "open, high, low, close, adj_close, volume, source"
_METRICS = (
    "symbol, as_of_date, period_type, source, currency, sector, industry, market_cap, "
    "enterprise_value, beta, pe_ttm, pe_forward, price_to_book, price_to_sales, ev_to_ebitda, "
    "fcf_yield, dividend_yield, revenue, ebitda, net_income, free_cash_flow, gross_margin, "
    "operating_margin, net_margin, roe, roa, roic, roce, revenue_growth_yoy, "
    "earnings_growth_yoy, eps_growth_yoy, debt_to_equity, current_ratio"
)
_FACTORS = (
    "symbol, as_of_date, value, quality, momentum, low_vol, size, composite_score, null_reasons"
)

LISTINGS: dict[str, Listing] = {
    item.name: item
    for item in (
        Listing(
            "instruments",
            "instrument_info",
            "symbol, name, asset_class, sector, industry, exchange, currency, active",
            (("symbol", "symbol", "text"),),
            {
                "sector": "sector = :value",
                "exchange": "exchange = :value",
                "active": "active IS NOT DISTINCT FROM CAST(:value AS boolean)",
                "prefix": "starts_with(symbol, :value)",
                "symbol": "symbol = :value",
            },
        ),
        Listing(
            "prices",
            "prices_daily",
            f"symbol, date, {_BARS}",
            (("symbol", "symbol", "text"), ("date", "date", "date")),
            {"symbol": "symbol = :value", **_between("date")},
        ),
        Listing(
            "corporate_actions",
            "corporate_actions",
            "symbol, date, action_type, value, source",
            (
                ("symbol", "symbol", "text"),
                ("date", "date", "date"),
                ("action_type", "action_type", "text"),
            ),
            {
                "symbol": "symbol = :value",
                "action_type": "action_type = :value",
                **_between("date"),
            },
        ),
        Listing(
            "metrics",
            "instrument_metrics",
            _METRICS,
            (
                ("symbol", "symbol", "text"),
                ("as_of_date", "as_of_date", "date"),
                ("period_type", "period_type", "text"),
                ("source", "source", "text"),
            ),
            {
                "symbol": "symbol = :value",
                "period_type": "period_type = :value",
                **_between("as_of_date"),
            },
        ),
        Listing(
            "universes",
            "instrument_universe AS u",
            "u.name, u.description, COALESCE(u.is_global, FALSE) AS is_global, u.created_at, "
            "(SELECT count(*) FROM instrument_universe_member AS m WHERE m.universe_id = u.id "
            "AND m.is_deleted IS NOT TRUE) AS members",
            (("u.name", "name", "text"),),
            {"prefix": "starts_with(u.name, :value)", "name": "u.name = :value"},
            "u.is_deleted IS NOT TRUE",
        ),
        Listing(
            "members",
            "instrument_universe_member AS m JOIN instrument_universe AS u ON u.id = m.universe_id",
            "m.symbol, m.position, m.created_at",
            (
                ("COALESCE(m.position, 2147483647)", "_position", "int"),
                ("m.symbol", "symbol", "text"),
            ),
            {"universe": "u.name = :value"},
            "m.is_deleted IS NOT TRUE AND u.is_deleted IS NOT TRUE",
        ),
        Listing(
            "trading_universe",
            "trading_universe",
            "as_of_date, symbol, rank, avg_dollar_volume, source, lookback_days",
            (
                ("as_of_date", "as_of_date", "date"),
                ("source", "source", "text"),
                ("rank", "rank", "int"),
                ("symbol", "symbol", "text"),
            ),
            {"date": "as_of_date = :value", "source": "source = :value"},
        ),
        Listing(
            "breadth",
            "market_breadth",
            "date, metric, scope, value",
            (
                ("date", "date", "date"),
                ("metric", "metric", "text"),
                ("COALESCE(scope, '')", "_scope", "text"),
            ),
            {"metric": "metric = :value", "scope": "scope = :value", **_between("date")},
        ),
        Listing(
            "sentiment",
            "market_sentiment",
            "id, symbol, date, source, sentiment_score, sentiment_magnitude, article_count",
            (("date", "date", "date"), ("id", "id", "int")),
            {
                "symbol": "symbol = :value",
                "source": "source = :value",
                "market_wide": "(symbol IS NULL) = CAST(:value AS boolean)",
                **_between("date"),
            },
        ),
        Listing(
            "factors",
            "factor_exposures",
            _FACTORS,
            (("as_of_date", "as_of_date", "date"), ("symbol", "symbol", "text")),
            {"date": "as_of_date = :value", "symbol": "symbol = :value", **_between("as_of_date")},
        ),
        Listing(
            "risk",
            "risk_model",
            "symbol, as_of_date, volatility, beta, tail_beta, skew, kurtosis, null_reasons",
            (("as_of_date", "as_of_date", "date"), ("symbol", "symbol", "text")),
            {"date": "as_of_date = :value", "symbol": "symbol = :value", **_between("as_of_date")},
        ),
        Listing(
            "covariances",
            "covariance_matrices",
            "id, as_of_date, universe_hash, method, cardinality(symbols) AS size, created_at",
            (("id", "id", "int"),),
            {"date": "as_of_date = :value", "universe_hash": "universe_hash = :value"},
        ),
        Listing(
            "hrp_trees",
            "hrp_trees",
            "id, as_of_date, universe_hash, linkage, symbols, tree_json AS tree, created_at",
            (("id", "id", "int"),),
            {"date": "as_of_date = :value", "universe_hash": "universe_hash = :value"},
        ),
        Listing(
            "portfolios",
            "portfolios AS p LEFT JOIN instrument_universe AS u ON u.id = p.group_id",
            "p.code, p.name, p.description, u.name AS group, p.optimizer_type AS method, "
            "p.expected_return_mode, p.initial_capital, p.created_at",
            (("p.code", "code", "text"),),
            {"group": "u.name = :value", "code": "p.code = :value"},
        ),
        Listing(
            "weights",
            "portfolio_weights AS w JOIN portfolios AS p ON p.id = w.portfolio_id",
            "p.code AS portfolio, w.date, w.symbol, w.weight",
            (("w.date", "date", "date"), ("w.symbol", "symbol", "text")),
            {"portfolio": "p.code = :value", "date": "w.date = :value"},
        ),
        Listing(
            "backtests",
            "backtest_runs AS r JOIN portfolios AS p ON p.id = r.portfolio_id",
            "r.id, p.code AS portfolio, r.start_date, r.end_date, r.rebalance_frequency, "
            "r.transaction_cost, r.initial_capital, r.status, r.created_at, r.finished_at, r.error",
            (("r.id", "id", "int"),),
            {"portfolio": "p.code = :value", "status": "r.status = :value", "id": "r.id = :value"},
        ),
        Listing(
            "backtest_timeseries",
            "backtest_timeseries",
            'date, nav, "return", cumulative_return, drawdown, volatility_rolling',
            (("date", "date", "date"),),
            {"run": "backtest_id = :value", **_between("date")},
        ),
        Listing(
            "backtest_holdings",
            "backtest_holdings",
            "date, symbol, shares, weight, sector",
            (("date", "date", "date"), ("symbol", "symbol", "text")),
            {"run": "backtest_id = :value", "date": "date = :value"},
        ),
        Listing(
            "backtest_trades",
            "backtest_trades",
            "rebalance_date, symbol, shares_delta, trade_value, transaction_cost",
            (("rebalance_date", "rebalance_date", "date"), ("symbol", "symbol", "text")),
            {"run": "backtest_id = :value", "symbol": "symbol = :value"},
        ),
        Listing(
            "backtest_sector_exposures",
            "backtest_sector_exposures",
            "date, sector, weight",
            (("date", "date", "date"), ("sector", "sector", "text")),
            {"run": "backtest_id = :value", "date": "date = :value"},
        ),
        Listing(
            "backtest_factor_exposures",
            "backtest_factor_exposures",
            "date, value, quality, momentum, low_vol, size",
            (("date", "date", "date"),),
            {"run": "backtest_id = :value"},
        ),
        Listing(
            "signals",
            "signals",
            "id, strategy_version, symbol, date, lookback_return, ewma_vol, direction, "
            "target_weight",
            (("date", "date", "date"), ("id", "id", "int")),
            {
                "strategy": "strategy_version = :value",
                "symbol": "symbol = :value",
                **_between("date"),
            },
        ),
        Listing(
            "targets",
            "target_exposures",
            "id, portfolio_id AS portfolio, date, symbol, target_exposure, scaling_factor, "
            "is_capped, reason, signal_id",
            (("date", "date", "date"), ("id", "id", "int")),
            {"portfolio": "portfolio_id = :value", "symbol": "symbol = :value", **_between("date")},
        ),
        Listing(
            "orders",
            "orders",
            "order_id::text AS order_id, portfolio_id AS portfolio, date, symbol, side, qty, type, "
            "status, broker_order_id, created_at, updated_at",
            (("date", "date", "date"), ("id", "_id", "int")),
            {
                "portfolio": "portfolio_id = :value",
                "status": "status = :value",
                "symbol": "symbol = :value",
                **_between("date"),
            },
        ),
        Listing(
            "fills",
            "fills",
            "fill_id, order_id::text AS order_id, date, symbol, side, qty, price, commission, "
            "exchange",
            (("id", "_id", "int"),),
            {"symbol": "symbol = :value", "order_id": "order_id::text = :value"},
        ),
        Listing(
            "holdings",
            "holdings",
            "portfolio_id AS portfolio, date, symbol, qty, cost_basis, market_value",
            (
                ("portfolio_id", "portfolio", "text"),
                ("date", "date", "date"),
                ("symbol", "symbol", "text"),
            ),
            {"portfolio": "portfolio_id = :value", "date": "date = :value"},
        ),
        Listing(
            "portfolio_state",
            "portfolio_state",
            "portfolio_id AS portfolio, date, nav, cash, gross_exposure, net_exposure, "
            "realized_pnl, unrealized_pnl, drawdown, high_water_mark",
            (("portfolio_id", "portfolio", "text"), ("date", "date", "date")),
            {"portfolio": "portfolio_id = :value", **_between("date")},
        ),
        Listing(
            "journal",
            "ledger_entries AS e",
            "e.entry_id::text AS entry_id, e.portfolio_id AS portfolio, e.date, e.kind, e.fill_id, "
            "e.corrects_entry_id::text AS corrects_entry_id, e.description, "
            "(SELECT COALESCE(json_agg(json_build_object('account', p.account, 'symbol', p.symbol, "
            "'quantity', p.quantity::text, 'amount', p.amount::text, 'currency', p.currency) "
            "ORDER BY p.id), '[]') FROM ledger_postings AS p WHERE p.entry_id = e.entry_id) "
            "AS postings",
            (("e.id", "_id", "int"),),
            {"portfolio": "e.portfolio_id = :value", "kind": "e.kind = :value"},
        ),
        Listing(
            "breaks",
            "reconciliation_breaks",
            "id, portfolio_id AS portfolio, kind, symbol, order_id::text AS order_id, "
            "broker_order_id, ours, broker, reason, found_at, resolved_at, resolution, note",
            (("id", "id", "int"),),
            {
                "portfolio": "portfolio_id = :value",
                "open": "(resolved_at IS NULL) = CAST(:value AS boolean)",
            },
        ),
        Listing(
            "halts",
            "trading_halts",
            "portfolio_id AS portfolio, reason, halted_at",
            (("portfolio_id", "portfolio", "text"),),
            {"portfolio": "portfolio_id = :value"},
        ),
        Listing(
            "quarantine",
            "ingest_quarantine",
            "id, batch_id::text AS batch_id, target_table AS table, source, row_number, symbol, "
            "status, reasons, raw_row, created_at, resolved_at, resolution_note",
            (("id", "id", "int"),),
            {
                "status": "status = :value",
                "table": "target_table = :value",
                "symbol": "symbol = :value",
                "id": "id = :value",
            },
        ),
    )
}


class ReadRepository:
    """Read models for the API and the web app: paginated listings with stable cursors."""

    def __init__(self, conn: Connection) -> None:
        self._conn = conn
        self.web = WebReads(conn)  # the web app's read models (web_reads.py)

    def page(
        self,
        listing: str,
        filters: Mapping[str, Any] | None = None,
        *,
        cursor: str | None = None,
        limit: int = 100,
    ) -> Page:
        """One page of `listing` (rows after `cursor`, at most `limit`), filtered by `filters`
        (names of the listing's filters; None values are ignored)."""
        spec = LISTINGS[listing]
        if not 1 <= limit <= MAX_LIMIT:
            raise DataError(f"limit: got {limit}, expected 1 to {MAX_LIMIT}")
        conditions = [spec.where]
        params: dict[str, Any] = {"limit": limit + 1}
        for number, (name, value) in enumerate(sorted((filters or {}).items())):
            if value is None:
                continue
            if name not in spec.filters:
                raise DataError(f"{name}: not a filter of {listing}")
            if isinstance(value, str) and "\x00" in value:
                raise DataError(f"{name}: contains a NUL character")
            conditions.append(spec.filters[name].replace(":value", f":f{number}"))
            params[f"f{number}"] = str(value).lower() if isinstance(value, bool) else value
        if cursor:
            values = decode_cursor(spec, cursor)
            keys = ", ".join(expression for expression, _, _ in spec.key)
            marks = ", ".join(f":c{number}" for number in range(len(values)))
            conditions.append(f"({keys}) > ({marks})")
            params.update({f"c{number}": value for number, value in enumerate(values)})
        hidden = ", ".join(
            f"{expression} AS {alias}" for expression, alias, _ in spec.key if alias.startswith("_")
        )
        order = ", ".join(expression for expression, _, _ in spec.key)
        query = (
            f"SELECT {spec.columns}{', ' + hidden if hidden else ''} FROM {spec.source} "
            f"WHERE {' AND '.join(conditions)} ORDER BY {order} LIMIT :limit"
        )
        rows = [dict(row) for row in self._conn.execute(text(query), params).mappings()]
        following = None
        if len(rows) > limit:
            rows = rows[:limit]
            last = rows[-1]
            following = encode_cursor(listing, [last[alias] for _, alias, _ in spec.key])
        for row in rows:
            for _, alias, _ in spec.key:
                if alias.startswith("_"):
                    row.pop(alias, None)
        return Page(rows, following)

    def one(self, listing: str, filters: Mapping[str, Any]) -> dict[str, Any] | None:
        """The first row of `listing` matching `filters`, if any."""
        found = self.page(listing, filters, limit=1).items
        return found[0] if found else None
