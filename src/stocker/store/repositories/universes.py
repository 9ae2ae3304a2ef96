"""Named universes, their ranked members and strategy mappings.

Every statement here runs in the unit of work's transaction; the rules (one global universe, no
deleting a universe a strategy uses, unique live positions) are the use case's, in
`stocker.data.universes`. Nothing is hard-deleted: rows are marked `is_deleted` and revived.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import pandas as pd
from sqlalchemy import Connection, Row, text

from stocker.store.bulk import upsert


@dataclass(frozen=True)
class Universe:
    """A live universe with its member count and the strategies assigned to it."""

    id: int
    name: str
    description: str | None
    is_global: bool
    member_count: int
    strategies: tuple[str, ...]
    created_at: dt.datetime | None
    updated_at: dt.datetime | None


@dataclass(frozen=True)
class Member:
    """A live member; `position` is its rank (1 = first) or None when the universe is unordered."""

    symbol: str
    position: int | None


@dataclass(frozen=True)
class StrategyAssignment:
    """One row of `strategy_universe`, with the universe's name."""

    strategy_id: str
    universe: str
    updated_at: dt.datetime | None


@dataclass(frozen=True)
class StoredName:
    """A universe row found by name, live or deleted."""

    id: int
    is_deleted: bool


_UNIVERSES_SQL = """
SELECT u.id, u.name, u.description, COALESCE(u.is_global, FALSE) AS is_global,
       (SELECT count(*) FROM instrument_universe_member m
        WHERE m.universe_id = u.id AND m.is_deleted IS NOT TRUE) AS member_count,
       ARRAY(SELECT s.strategy_id FROM strategy_universe s
             WHERE s.universe_id = u.id ORDER BY s.strategy_id) AS strategies,
       u.created_at, u.updated_at
FROM instrument_universe u
WHERE u.is_deleted IS NOT TRUE {condition}
ORDER BY u.name
"""
_SOFT_DELETE_MEMBERS = (
    "UPDATE instrument_universe_member SET is_deleted = TRUE, position = NULL, "
    "updated_at = NOW() WHERE universe_id = :id AND is_deleted IS NOT TRUE"
)
_STRATEGY_UNIVERSE = (
    "SELECT u.name FROM strategy_universe s JOIN instrument_universe u ON u.id = s.universe_id "
    "WHERE s.strategy_id = :strategy"
)


def _universe(row: Row[Any]) -> Universe:
    return Universe(
        id=int(row.id),
        name=row.name,
        description=row.description,
        is_global=bool(row.is_global),
        member_count=int(row.member_count),
        strategies=tuple(row.strategies),
        created_at=row.created_at,
        updated_at=row.updated_at,
    )


class UniverseRepository:
    """instrument_universe, instrument_universe_member and strategy_universe."""

    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    # --- universes ------------------------------------------------------------------------------

    def all(self) -> list[Universe]:
        """Every live universe, by name."""
        rows = self._conn.execute(text(_UNIVERSES_SQL.format(condition="")))
        return [_universe(row) for row in rows]

    def named(self, name: str, *, for_update: bool = False) -> Universe | None:
        """The live universe called `name` (its row locked with `for_update`), if any."""
        if for_update:
            self._conn.execute(
                text(
                    "SELECT id FROM instrument_universe WHERE name = :name "
                    "AND is_deleted IS NOT TRUE FOR UPDATE"
                ),
                {"name": name},
            )
        row = self._conn.execute(
            text(_UNIVERSES_SQL.format(condition="AND u.name = :name")), {"name": name}
        ).one_or_none()
        return None if row is None else _universe(row)

    def global_universe(self) -> Universe | None:
        """The live universe flagged global, if one is."""
        rows = self._conn.execute(text(_UNIVERSES_SQL.format(condition="AND u.is_global")))
        found = [_universe(row) for row in rows]
        return found[0] if found else None

    def stored_name(self, name: str, *, for_update: bool = False) -> StoredName | None:
        """The row (live or deleted) holding `name`, if any."""
        lock = " FOR UPDATE" if for_update else ""
        row = self._conn.execute(
            text(f"SELECT id, is_deleted FROM instrument_universe WHERE name = :name{lock}"),
            {"name": name},
        ).one_or_none()
        return None if row is None else StoredName(int(row.id), bool(row.is_deleted))

    def insert(self, name: str, description: str | None) -> int:
        """A new live, non-global universe; returns its id."""
        return int(
            self._conn.execute(
                text(
                    "INSERT INTO instrument_universe (name, description, is_global, is_deleted) "
                    "VALUES (:name, :description, FALSE, FALSE) RETURNING id"
                ),
                {"name": name, "description": description},
            ).scalar_one()
        )

    def revive(self, universe_id: int, description: str | None) -> None:
        """Make a deleted universe live again, empty, non-global, with a new description."""
        self._conn.execute(
            text(
                "UPDATE instrument_universe SET is_deleted = FALSE, is_global = FALSE, "
                "description = :description, updated_at = NOW() WHERE id = :id"
            ),
            {"id": universe_id, "description": description},
        )
        self._conn.execute(text(_SOFT_DELETE_MEMBERS), {"id": universe_id})

    def rename(self, universe_id: int, new_name: str) -> None:
        self._conn.execute(
            text(
                "UPDATE instrument_universe SET name = :new_name, updated_at = NOW() WHERE id = :id"
            ),
            {"id": universe_id, "new_name": new_name},
        )

    def soft_delete(self, universe_id: int) -> None:
        """Mark a universe deleted (dropping its global flag); its members stay as they are."""
        self._conn.execute(
            text(
                "UPDATE instrument_universe SET is_deleted = TRUE, is_global = FALSE, "
                "updated_at = NOW() WHERE id = :id"
            ),
            {"id": universe_id},
        )

    def lock_for_global(self) -> None:
        """Serialize writers that make a universe global (the lock mode conflicts with itself)."""
        self._conn.execute(text("LOCK TABLE instrument_universe IN SHARE ROW EXCLUSIVE MODE"))

    def make_only_global(self, universe_id: int) -> None:
        """Flag `universe_id` global and every other universe not."""
        self._conn.execute(
            text(
                "UPDATE instrument_universe SET is_global = (id = :id), updated_at = NOW() "
                "WHERE is_global IS DISTINCT FROM (id = :id)"
            ),
            {"id": universe_id},
        )

    def touch(self, universe_id: int) -> None:
        """Record that a universe's membership changed."""
        self._conn.execute(
            text("UPDATE instrument_universe SET updated_at = NOW() WHERE id = :id"),
            {"id": universe_id},
        )

    # --- members --------------------------------------------------------------------------------

    def members(self, universe_id: int) -> list[Member]:
        """Live members, by position (unranked last) then symbol."""
        rows = self._conn.execute(
            text(
                "SELECT symbol, position FROM instrument_universe_member "
                "WHERE universe_id = :id AND is_deleted IS NOT TRUE "
                "ORDER BY position NULLS LAST, symbol"
            ),
            {"id": universe_id},
        )
        return [Member(symbol=row.symbol, position=row.position) for row in rows]

    def member_rows(self, universe_id: int) -> pd.DataFrame:
        """Every member row, live or deleted: index ``symbol``, columns ``is_deleted, position``."""
        rows = self._conn.execute(
            text(
                "SELECT symbol, is_deleted IS TRUE AS is_deleted, position "
                "FROM instrument_universe_member WHERE universe_id = :id"
            ),
            {"id": universe_id},
        ).fetchall()
        return pd.DataFrame(rows, columns=["symbol", "is_deleted", "position"]).set_index("symbol")

    def write_members(
        self, universe_id: int, symbols: Sequence[str], positions: Sequence[int | None]
    ) -> None:
        """Insert or revive `symbols` as live members at `positions`."""
        rows = pd.DataFrame(
            {
                "universe_id": universe_id,
                "symbol": list(symbols),
                "is_deleted": False,
                "position": pd.array(list(positions), dtype="Int64"),
            }
        )
        if len(rows):
            upsert(self._conn, "instrument_universe_member", rows, key=("universe_id", "symbol"))

    def remove_unlisted(self, universe_id: int, kept: Sequence[str]) -> int:
        """Soft-delete live members not in `kept`; returns how many."""
        result = self._conn.execute(
            text(f"{_SOFT_DELETE_MEMBERS} AND NOT (symbol = ANY(:symbols))"),
            {"id": universe_id, "symbols": list(kept)},
        )
        return int(result.rowcount)

    def clear_positions(self, universe_id: int, symbols: Sequence[str]) -> None:
        """Unrank `symbols`, so rewriting positions never collides with one still held."""
        self._conn.execute(
            text(
                "UPDATE instrument_universe_member SET position = NULL "
                "WHERE universe_id = :id AND symbol = ANY(:symbols) AND position IS NOT NULL"
            ),
            {"id": universe_id, "symbols": list(symbols)},
        )

    def remove(self, universe_id: int, symbols: Sequence[str]) -> int:
        """Soft-delete the given members; returns how many rows changed."""
        result = self._conn.execute(
            text(
                "UPDATE instrument_universe_member SET is_deleted = TRUE, position = NULL, "
                "updated_at = NOW() WHERE universe_id = :id AND symbol = ANY(:symbols)"
            ),
            {"id": universe_id, "symbols": list(symbols)},
        )
        return int(result.rowcount)

    # --- strategies -----------------------------------------------------------------------------

    def strategy_universe(self, strategy_id: str, *, for_update: bool = False) -> str | None:
        """The name of the universe `strategy_id` is assigned to (deleted or not), if any."""
        lock = " FOR UPDATE OF s" if for_update else ""
        return self._conn.execute(
            text(_STRATEGY_UNIVERSE + lock), {"strategy": strategy_id}
        ).scalar_one_or_none()

    def live_strategy_universe(self, strategy_id: str) -> str | None:
        """The name of the live universe `strategy_id` is assigned to, if any."""
        return self._conn.execute(
            text(_STRATEGY_UNIVERSE + " AND u.is_deleted IS NOT TRUE"), {"strategy": strategy_id}
        ).scalar_one_or_none()

    def assign(self, strategy_id: str, universe_id: int) -> None:
        """Point `strategy_id` at `universe_id` (touching the row only when it changes)."""
        self._conn.execute(
            text(
                "INSERT INTO strategy_universe (strategy_id, universe_id) VALUES (:strategy, :id) "
                "ON CONFLICT (strategy_id) DO UPDATE SET universe_id = EXCLUDED.universe_id, "
                "updated_at = NOW() WHERE strategy_universe.universe_id "
                "IS DISTINCT FROM EXCLUDED.universe_id"
            ),
            {"strategy": strategy_id, "id": universe_id},
        )

    def unassign(self, strategy_id: str) -> bool:
        """Remove `strategy_id`'s assignment; returns whether it had one."""
        result = self._conn.execute(
            text("DELETE FROM strategy_universe WHERE strategy_id = :strategy"),
            {"strategy": strategy_id},
        )
        return bool(result.rowcount)

    def assignments(self) -> list[StrategyAssignment]:
        """Every strategy → universe assignment, by strategy."""
        rows = self._conn.execute(
            text(
                "SELECT s.strategy_id, u.name AS universe, COALESCE(s.updated_at, s.created_at) "
                "AS updated_at FROM strategy_universe s "
                "JOIN instrument_universe u ON u.id = s.universe_id ORDER BY s.strategy_id"
            )
        )
        return [StrategyAssignment(row.strategy_id, row.universe, row.updated_at) for row in rows]
