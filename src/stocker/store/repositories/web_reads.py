"""Read models of the web app's pages (`stocker.web.queries`): plain rows for pages, each query
one SELECT, bounded by a LIMIT where a table can grow."""

from __future__ import annotations

from sqlalchemy import Connection, text


def _web_rows(conn: Connection, sql: str, parameters: dict[str, object]) -> list[dict[str, object]]:
    return [dict(row) for row in conn.execute(text(sql), parameters).mappings()]


class WebReads:
    """Read models of the web app's pages (dashboard, data coverage, orders)."""

    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    def trading_portfolios(self) -> list[str]:
        """Trading portfolios with a stored state or an order, by id."""
        rows = _web_rows(
            self._conn,
            "SELECT portfolio_id FROM portfolio_state UNION SELECT portfolio_id FROM orders "
            "ORDER BY 1",
            {},
        )
        return [str(row["portfolio_id"]) for row in rows]

    def state_history(self, portfolio_id: str) -> list[dict[str, object]]:
        """Daily NAV, drawdown and exposures of a trading portfolio, oldest first."""
        return _web_rows(
            self._conn,
            "SELECT date, nav, cash, gross_exposure, net_exposure, drawdown, realized_pnl, "
            "unrealized_pnl FROM portfolio_state WHERE portfolio_id = :p ORDER BY date",
            {"p": portfolio_id},
        )

    def holdings_on(self, portfolio_id: str, day: object) -> list[dict[str, object]]:
        """A trading portfolio's holdings on a date (largest market value first)."""
        return _web_rows(
            self._conn,
            "SELECT * FROM holdings WHERE portfolio_id = :p AND date = :d",
            {"p": portfolio_id, "d": day},
        )

    def latest_signal_date(self) -> object:
        rows = _web_rows(self._conn, "SELECT max(date) AS day FROM signals", {})
        return rows[0]["day"] if rows else None

    def signals_on(self, day: object, limit: int = 500) -> list[dict[str, object]]:
        """Every strategy version's signals of a date."""
        return _web_rows(
            self._conn,
            "SELECT strategy_version, symbol, date, lookback_return, ewma_vol, direction, "
            "target_weight FROM signals WHERE date = :d ORDER BY strategy_version, symbol "
            "LIMIT :n",
            {"d": day, "n": limit},
        )

    def targets_on(self, portfolio_id: str, day: object) -> list[dict[str, object]]:
        """A portfolio's target exposures decided on a date."""
        return _web_rows(
            self._conn,
            "SELECT symbol, target_exposure, scaling_factor, is_capped, reason FROM "
            "target_exposures WHERE portfolio_id = :p AND date = :d ORDER BY symbol",
            {"p": portfolio_id, "d": day},
        )

    def latest_target_date(self, portfolio_id: str) -> object:
        rows = _web_rows(
            self._conn,
            "SELECT max(date) AS day FROM target_exposures WHERE portfolio_id = :p",
            {"p": portfolio_id},
        )
        return rows[0]["day"] if rows else None

    def orders(self, portfolio_id: str | None = None, limit: int = 200) -> list[dict[str, object]]:
        """The latest orders (newest session first): filled quantity, average price, and the
        statuses the order went through in order (its lifecycle)."""
        return _web_rows(
            self._conn,
            "SELECT o.order_id, o.portfolio_id, o.date, o.symbol, o.side, o.qty, o.type, "
            "o.status, coalesce(f.filled, 0) AS filled_qty, f.avg_price, "
            "coalesce(f.commission, 0) AS commission, (SELECT string_agg(e.status, ' → ' "
            "ORDER BY e.created_at) FROM order_events e WHERE e.order_id = o.order_id) "
            "AS lifecycle FROM orders o LEFT JOIN ("
            "SELECT order_id, sum(qty) AS filled, sum(qty * price) / nullif(sum(qty), 0) "
            "AS avg_price, sum(commission) AS commission FROM fills GROUP BY order_id) f "
            "ON f.order_id = o.order_id "
            "WHERE CAST(:p AS varchar) IS NULL OR o.portfolio_id = CAST(:p AS varchar) "
            "ORDER BY o.date DESC, o.portfolio_id, o.symbol LIMIT :n",
            {"p": portfolio_id, "n": limit},
        )

    def coverage(self) -> list[dict[str, object]]:
        """Daily bars per symbol and source: rows and first and last dates."""
        return _web_rows(
            self._conn,
            "SELECT symbol, source, count(*) AS rows, min(date) AS first, max(date) AS last "
            "FROM prices_daily GROUP BY symbol, source ORDER BY symbol, source",
            {},
        )

    def sectors(self) -> list[str]:
        """Every sector label of the instrument master."""
        rows = _web_rows(
            self._conn,
            "SELECT DISTINCT sector FROM instrument_info WHERE sector IS NOT NULL ORDER BY 1",
            {},
        )
        return [str(row["sector"]) for row in rows]

    def table_exists(self, table: str) -> bool:
        rows = _web_rows(self._conn, "SELECT to_regclass(:t) IS NOT NULL AS found", {"t": table})
        return bool(rows and rows[0]["found"])

    def latest_bar_date(self) -> object:
        """The newest date of any daily bar (the default date of a screen or optimization)."""
        rows = _web_rows(self._conn, "SELECT max(date) AS day FROM prices_daily", {})
        return rows[0]["day"] if rows else None

    def research_portfolios(self) -> list[dict[str, object]]:
        """Research portfolios with their group, optimizer and latest rebalance date."""
        return _web_rows(
            self._conn,
            "SELECT p.code, p.name, u.name AS group_name, p.optimizer_type AS method, "
            "(SELECT max(w.date) FROM portfolio_weights w WHERE w.portfolio_id = p.id) "
            "AS latest_weights FROM portfolios p LEFT JOIN instrument_universe u "
            "ON u.id = p.group_id ORDER BY p.code",
            {},
        )

    def open_breaks(self, limit: int = 200) -> list[dict[str, object]]:
        """Unresolved reconciliation breaks with the broker, newest first."""
        return _web_rows(
            self._conn,
            "SELECT id, portfolio_id, kind, symbol, reason, found_at FROM reconciliation_breaks "
            "WHERE resolved_at IS NULL ORDER BY found_at DESC, id DESC LIMIT :n",
            {"n": limit},
        )

    def halts(self) -> dict[str, dict[str, object]]:
        """Halted portfolios (the kill switch) with why and since when."""
        rows = _web_rows(
            self._conn, "SELECT portfolio_id, reason, halted_at FROM trading_halts", {}
        )
        return {str(row["portfolio_id"]): row for row in rows}
