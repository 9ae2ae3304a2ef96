"""The double-entry ledger and the state derived from it.

`ledger_entries` and `ledger_postings` are append-only (the database refuses UPDATE and DELETE
and checks at commit that each entry balances per currency); `holdings` and `portfolio_state`
are derived rows, replaced whole for a date. Entries are written in one INSERT per table per
batch; an entry whose id or fill id is already stored is not written again (the caller compares
it with what it meant to write).
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from decimal import Decimal
from typing import Any

from sqlalchemy import Connection, RowMapping, text

from stocker.core.ledger import Entry, Holding, PortfolioState, Position, Posting
from stocker.core.ledger.records import POSITIONS, ZERO, position_account

_ENTRY_COLUMNS = (
    "e.entry_id::text AS entry_id, e.portfolio_id, e.date, e.kind, e.fill_id, "
    "e.corrects_entry_id::text AS corrects_entry_id, e.description"
)
_INSERT_ENTRIES = text(
    """
    INSERT INTO ledger_entries
        (entry_id, portfolio_id, date, kind, fill_id, corrects_entry_id, description)
    SELECT * FROM unnest(
        CAST(:entry_id AS uuid[]), CAST(:portfolio_id AS varchar[]), CAST(:date AS date[]),
        CAST(:kind AS varchar[]), CAST(:fill_id AS varchar[]),
        CAST(:corrects_entry_id AS uuid[]), CAST(:description AS text[]))
    ON CONFLICT DO NOTHING
    RETURNING entry_id::text
    """
)
_INSERT_POSTINGS = text(
    """
    INSERT INTO ledger_postings (entry_id, account, symbol, quantity, amount, currency)
    SELECT * FROM unnest(
        CAST(:entry_id AS uuid[]), CAST(:account AS varchar[]), CAST(:symbol AS varchar[]),
        CAST(:quantity AS numeric[]), CAST(:amount AS numeric[]), CAST(:currency AS varchar[]))
    """
)
_POSTINGS_OF = text(
    "SELECT entry_id::text AS entry_id, account, symbol, quantity, amount, currency "
    "FROM ledger_postings WHERE entry_id = ANY(CAST(:ids AS uuid[])) ORDER BY id"
)
_BALANCES = text(
    """
    SELECT p.account, p.symbol, p.currency,
           coalesce(sum(p.quantity), 0) AS quantity, sum(p.amount) AS amount
    FROM ledger_postings p JOIN ledger_entries e ON e.entry_id = p.entry_id
    WHERE e.portfolio_id = :portfolio_id
      AND (CAST(:through AS date) IS NULL OR e.date <= CAST(:through AS date))
      AND (CAST(:before AS date) IS NULL OR e.date < CAST(:before AS date))
      AND (CAST(:accounts AS varchar[]) IS NULL OR p.account = ANY(CAST(:accounts AS varchar[])))
    GROUP BY p.account, p.symbol, p.currency
    ORDER BY p.account, p.symbol, p.currency
    """
)
_CLOSES = text(
    """
    SELECT wanted.symbol, latest.close
    FROM unnest(CAST(:symbols AS VARCHAR[])) AS wanted(symbol)
    CROSS JOIN LATERAL (
        SELECT close FROM prices_daily
        WHERE prices_daily.symbol = wanted.symbol AND prices_daily.date <= :day
        ORDER BY prices_daily.date DESC LIMIT 1
    ) AS latest
    """
)
_STATE_COLUMNS = (
    "portfolio_id, date, nav, cash, gross_exposure, net_exposure, realized_pnl, "
    "unrealized_pnl, drawdown, high_water_mark"
)
_UPSERT_STATE = text(
    f"""
    INSERT INTO portfolio_state ({_STATE_COLUMNS})
    VALUES (:portfolio_id, :date, :nav, :cash, :gross_exposure, :net_exposure, :realized_pnl,
            :unrealized_pnl, :drawdown, :high_water_mark)
    ON CONFLICT (portfolio_id, date) DO UPDATE SET
        nav = EXCLUDED.nav, cash = EXCLUDED.cash, gross_exposure = EXCLUDED.gross_exposure,
        net_exposure = EXCLUDED.net_exposure, realized_pnl = EXCLUDED.realized_pnl,
        unrealized_pnl = EXCLUDED.unrealized_pnl, drawdown = EXCLUDED.drawdown,
        high_water_mark = EXCLUDED.high_water_mark
    """
)
_DELETE_HOLDINGS = text("DELETE FROM holdings WHERE portfolio_id = :portfolio_id AND date = :date")
_INSERT_HOLDINGS = text(
    """
    INSERT INTO holdings (portfolio_id, date, symbol, qty, cost_basis, market_value)
    SELECT :portfolio_id, :date, * FROM unnest(
        CAST(:symbol AS varchar[]), CAST(:qty AS numeric[]), CAST(:cost_basis AS numeric[]),
        CAST(:market_value AS numeric[]))
    """
)
_HOLDING_COLUMNS = "portfolio_id, date, symbol, qty, cost_basis, market_value"


def _state(row: RowMapping) -> PortfolioState:
    return PortfolioState(**{key: row[key] for key in _STATE_COLUMNS.split(", ")})


def _holding(row: RowMapping) -> Holding:
    return Holding(**{key: row[key] for key in _HOLDING_COLUMNS.split(", ")})


class LedgerRepository:
    """ledger_entries and ledger_postings (append-only), holdings and portfolio_state."""

    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    # -- the journal ------------------------------------------------------------------------

    def lock(self, portfolio_id: str) -> None:
        """Serialize ledger writers of one portfolio until the transaction ends."""
        self._conn.execute(
            text("SELECT pg_advisory_xact_lock(hashtext(:key))"),
            {"key": f"ledger:{portfolio_id}"},
        )

    def append(self, entries: Sequence[Entry]) -> list[uuid.UUID]:
        """Write `entries` and their postings; returns the ids written (not those already stored,
        by entry id or fill id)."""
        if not entries:
            return []
        inserted = self._conn.execute(
            _INSERT_ENTRIES,
            {
                "entry_id": [str(e.entry_id) for e in entries],
                "portfolio_id": [e.portfolio_id for e in entries],
                "date": [e.date for e in entries],
                "kind": [e.kind for e in entries],
                "fill_id": [e.fill_id for e in entries],
                "corrects_entry_id": [
                    str(e.corrects_entry_id) if e.corrects_entry_id else None for e in entries
                ],
                "description": [e.description for e in entries],
            },
        ).scalars()
        written = {uuid.UUID(value) for value in inserted}
        postings = [(e.entry_id, p) for e in entries if e.entry_id in written for p in e.postings]
        if postings:
            self._conn.execute(
                _INSERT_POSTINGS,
                {
                    "entry_id": [str(entry_id) for entry_id, _ in postings],
                    "account": [p.account for _, p in postings],
                    "symbol": [p.symbol for _, p in postings],
                    "quantity": [
                        p.quantity if p.quantity or p.account.startswith(POSITIONS) else None
                        for _, p in postings
                    ],
                    "amount": [p.amount for _, p in postings],
                    "currency": [p.currency for _, p in postings],
                },
            )
        return [e.entry_id for e in entries if e.entry_id in written]

    def entry_for_fill(self, fill_id: str) -> Entry | None:
        """The entry that posted broker fill `fill_id`, if any."""
        return self._one("e.fill_id = :key", fill_id)

    def entries_for_fills(self, fill_ids: Iterable[str]) -> dict[str, Entry]:
        """fill_id → the entry that posted it, for those of `fill_ids` already posted."""
        ids = sorted(set(fill_ids))
        if not ids:
            return {}
        found = self._entries("WHERE e.fill_id = ANY(:ids)", {"ids": ids})
        return {entry.fill_id: entry for entry in found if entry.fill_id is not None}

    def entry(self, entry_id: uuid.UUID) -> Entry | None:
        """The entry with id `entry_id`, if stored."""
        return self._one("e.entry_id = CAST(:key AS uuid)", str(entry_id))

    def _one(self, where: str, key: str) -> Entry | None:
        found = self._entries(f"WHERE {where}", {"key": key})
        return found[0] if found else None

    def entries(self, portfolio_id: str) -> list[Entry]:
        """Every entry of a portfolio, in date order then the order written."""
        return self._entries("WHERE e.portfolio_id = :portfolio_id", {"portfolio_id": portfolio_id})

    def _entries(self, where: str, parameters: Mapping[str, Any]) -> list[Entry]:
        rows = (
            self._conn.execute(
                text(
                    f"SELECT {_ENTRY_COLUMNS} FROM ledger_entries e {where} ORDER BY e.date, e.id"
                ),
                parameters,
            )
            .mappings()
            .all()
        )
        if not rows:
            return []
        postings: dict[str, list[Posting]] = defaultdict(list)
        for row in self._conn.execute(
            _POSTINGS_OF, {"ids": [row["entry_id"] for row in rows]}
        ).mappings():
            postings[row["entry_id"]].append(
                Posting(
                    account=row["account"],
                    currency=row["currency"],
                    amount=row["amount"],
                    symbol=row["symbol"],
                    quantity=row["quantity"] if row["quantity"] is not None else ZERO,
                )
            )
        return [
            Entry(
                entry_id=uuid.UUID(row["entry_id"]),
                portfolio_id=row["portfolio_id"],
                date=row["date"],
                kind=row["kind"],
                postings=tuple(postings[row["entry_id"]]),
                fill_id=row["fill_id"],
                corrects_entry_id=(
                    uuid.UUID(row["corrects_entry_id"]) if row["corrects_entry_id"] else None
                ),
                description=row["description"],
            )
            for row in rows
        ]

    def raw_entries(self, portfolio_id: str) -> list[tuple[uuid.UUID, str, list[Posting]]]:
        """Entries as stored, without validation (for verify): id, kind and postings."""
        rows = self._conn.execute(
            text(
                "SELECT e.entry_id::text AS entry_id, e.kind FROM ledger_entries e "
                "WHERE e.portfolio_id = :p ORDER BY e.date, e.id"
            ),
            {"p": portfolio_id},
        ).all()
        postings: dict[str, list[Posting]] = defaultdict(list)
        for row in self._conn.execute(
            _POSTINGS_OF, {"ids": [entry_id for entry_id, _ in rows]}
        ).mappings():
            postings[row["entry_id"]].append(
                Posting(
                    row["account"],
                    row["currency"],
                    row["amount"],
                    row["symbol"],
                    row["quantity"] if row["quantity"] is not None else ZERO,
                )
            )
        return [(uuid.UUID(entry_id), kind, postings[entry_id]) for entry_id, kind in rows]

    def balances(
        self,
        portfolio_id: str,
        *,
        through: dt.date | None = None,
        before: dt.date | None = None,
        accounts: Sequence[str] | None = None,
    ) -> list[Posting]:
        """The journal summed per account, symbol and currency: one posting each (entries dated
        on or before `through`, or strictly before `before`, when given)."""
        rows = self._conn.execute(
            _BALANCES,
            {
                "portfolio_id": portfolio_id,
                "through": through,
                "before": before,
                "accounts": list(accounts) if accounts is not None else None,
            },
        ).all()
        return [
            Posting(account, currency, Decimal(amount), symbol, Decimal(quantity))
            for account, symbol, currency, quantity, amount in rows
        ]

    def positions(
        self, portfolio_id: str, symbols: Iterable[str], *, before: dt.date | None = None
    ) -> dict[str, Position]:
        """Shares and cost of each symbol in the journal (flat when never held); entries dated
        before `before` only, when given: what was held at an ex-date."""
        names = sorted(set(symbols))
        found = {name: Position(name) for name in names}
        for posting in self.balances(
            portfolio_id, before=before, accounts=[position_account(name) for name in names]
        ):
            symbol = posting.account[len(POSITIONS) :]
            held = found[symbol]
            found[symbol] = Position(
                symbol, held.quantity + posting.quantity, held.cost + posting.amount
            )
        return found

    def position(
        self, portfolio_id: str, symbol: str, *, before: dt.date | None = None
    ) -> Position:
        """Shares and cost of `symbol` in the journal (see `positions`)."""
        return self.positions(portfolio_id, [symbol], before=before)[symbol]

    def portfolios(self) -> list[str]:
        """Every portfolio with a journal, derived state or fills."""
        return list(
            self._conn.execute(
                text(
                    "SELECT portfolio_id FROM ledger_entries UNION "
                    "SELECT portfolio_id FROM portfolio_state UNION "
                    "SELECT o.portfolio_id FROM fills f JOIN orders o ON o.order_id = f.order_id "
                    "ORDER BY 1"
                )
            ).scalars()
        )

    def fill_counts(self, portfolio_id: str) -> dict[str, int]:
        """fill_id → how many entries of the portfolio post it (1 when sound)."""
        rows = self._conn.execute(
            text(
                "SELECT fill_id, count(*) FROM ledger_entries WHERE portfolio_id = :p "
                "AND fill_id IS NOT NULL GROUP BY fill_id"
            ),
            {"p": portfolio_id},
        ).all()
        return {fill_id: count for fill_id, count in rows}

    def unposted_fills(self, portfolio_id: str) -> list[str]:
        """Fills of the portfolio's orders that no ledger entry posts yet."""
        return list(
            self._conn.execute(
                text(
                    "SELECT f.fill_id FROM fills f JOIN orders o ON o.order_id = f.order_id "
                    "WHERE o.portfolio_id = :p AND NOT EXISTS "
                    "(SELECT 1 FROM ledger_entries e WHERE e.fill_id = f.fill_id) "
                    "ORDER BY f.date, f.fill_id"
                ),
                {"p": portfolio_id},
            ).scalars()
        )

    # -- prices ------------------------------------------------------------------------------

    def closes(self, symbols: Iterable[str], day: dt.date) -> dict[str, Decimal]:
        """The last stored close of each symbol on or before `day` (prices_daily.close)."""
        names = sorted(set(symbols))
        if not names:
            return {}
        rows = self._conn.execute(_CLOSES, {"symbols": names, "day": day}).all()
        return {symbol: Decimal(close) for symbol, close in rows}

    def close_on(self, symbol: str, day: dt.date) -> Decimal | None:
        """The stored close of `symbol` on exactly `day` (None when that session has no bar)."""
        close = self._conn.execute(
            text("SELECT close FROM prices_daily WHERE symbol = :symbol AND date = :day"),
            {"symbol": symbol, "day": day},
        ).scalar_one_or_none()
        return None if close is None else Decimal(close)

    def actions_on(self, day: dt.date) -> list[tuple[str, str, Decimal]]:
        """The stored corporate actions with ex-date `day`: (symbol, SPLIT | DIVIDEND, value),
        dividends before splits (a same-day dividend is paid per share as held before the
        split)."""
        rows = self._conn.execute(
            text(
                "SELECT symbol, action_type, value FROM corporate_actions WHERE date = :day "
                "ORDER BY symbol, action_type = 'SPLIT', action_type"
            ),
            {"day": day},
        ).all()
        return [(symbol, kind, Decimal(value)) for symbol, kind, value in rows]

    # -- derived state -----------------------------------------------------------------------

    def write_state(self, holdings: Sequence[Holding], state: PortfolioState) -> None:
        """Replace the portfolio's holdings and state rows of `state.date`."""
        key = {"portfolio_id": state.portfolio_id, "date": state.date}
        self._conn.execute(_DELETE_HOLDINGS, key)
        if holdings:
            self._conn.execute(
                _INSERT_HOLDINGS,
                {
                    **key,
                    "symbol": [h.symbol for h in holdings],
                    "qty": [h.qty for h in holdings],
                    "cost_basis": [h.cost_basis for h in holdings],
                    "market_value": [h.market_value for h in holdings],
                },
            )
        self._conn.execute(
            _UPSERT_STATE, {k: getattr(state, k) for k in _STATE_COLUMNS.split(", ")}
        )

    def states(self, portfolio_id: str) -> list[PortfolioState]:
        """Every stored state row of a portfolio, by date."""
        rows = self._conn.execute(
            text(
                f"SELECT {_STATE_COLUMNS} FROM portfolio_state "
                "WHERE portfolio_id = :p ORDER BY date"
            ),
            {"p": portfolio_id},
        ).mappings()
        return [_state(row) for row in rows]

    def state_before(self, portfolio_id: str, day: dt.date) -> PortfolioState | None:
        """The latest stored state strictly before `day`."""
        row = (
            self._conn.execute(
                text(
                    f"SELECT {_STATE_COLUMNS} FROM portfolio_state WHERE portfolio_id = :p "
                    "AND date < :day ORDER BY date DESC LIMIT 1"
                ),
                {"p": portfolio_id, "day": day},
            )
            .mappings()
            .first()
        )
        return _state(row) if row is not None else None

    def holdings(self, portfolio_id: str) -> dict[dt.date, tuple[Holding, ...]]:
        """Every stored holdings row of a portfolio, grouped by date (symbols in order)."""
        rows = self._conn.execute(
            text(
                f"SELECT {_HOLDING_COLUMNS} FROM holdings WHERE portfolio_id = :p "
                "ORDER BY date, symbol"
            ),
            {"p": portfolio_id},
        ).mappings()
        grouped: dict[dt.date, list[Holding]] = defaultdict(list)
        for row in rows:
            grouped[row["date"]].append(_holding(row))
        return {day: tuple(items) for day, items in grouped.items()}
