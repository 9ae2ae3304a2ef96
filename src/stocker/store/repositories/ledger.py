"""The double-entry ledger and the state derived from it."""

from __future__ import annotations

from sqlalchemy import Connection


class LedgerRepository:
    """ledger_entries and ledger_postings (append-only), holdings and portfolio_state."""

    def __init__(self, conn: Connection) -> None:
        self._conn = conn
