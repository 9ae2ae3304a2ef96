"""Named universes, their ranked members and strategy mappings."""

from __future__ import annotations

from sqlalchemy import Connection


class UniverseRepository:
    """instrument_universe, instrument_universe_member and strategy_universe."""

    def __init__(self, conn: Connection) -> None:
        self._conn = conn
