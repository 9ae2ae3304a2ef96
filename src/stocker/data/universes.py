"""User-managed universes: `instrument_universe`, its members, and `strategy_universe`.

A universe is a named, optionally ordered list of symbols; SigmaQLab sees the same rows as
`groups` / `group_members`, with `position` as the screener rank. Nothing here is hard-deleted:
deleting a universe or removing a member sets `is_deleted`, and adding a removed member (or
creating a deleted universe's name again) revives the row, so ids stay stable for everything that
referenced them.

Rules enforced here:
- at most one live universe is global (`is_global`), under a table lock so two writers cannot
  both make one global;
- a universe a strategy is assigned to cannot be deleted (reassign the strategy first);
- every member symbol must be registered in `instrument_info`;
- live members' positions are unique within a universe (1 = first).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import pandas as pd
from sqlalchemy import Connection, Row, text

from stocker.core.errors import DataError
from stocker.data.instruments import require_known
from stocker.store.bulk import upsert

NAME_CHARACTERS = 100
STRATEGY_ID_CHARACTERS = 100
NAMES_LISTED_IN_ERRORS = 10


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
class MemberChange:
    """What `add_members` / `set_members` / `remove_members` did."""

    added: int
    revived: int
    repositioned: int
    removed: int
    unchanged: int


@dataclass(frozen=True)
class StrategyAssignment:
    """One row of `strategy_universe`, with the universe's name."""

    strategy_id: str
    universe: str
    updated_at: dt.datetime | None


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


def _checked_name(name: str, field: str = "name") -> str:
    cleaned = name.strip()
    if not cleaned or len(cleaned) > NAME_CHARACTERS:
        raise DataError(
            f"{field}: got {name!r}, expected 1 to {NAME_CHARACTERS} characters (not blank)"
        )
    return cleaned


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


def list_universes(conn: Connection) -> list[Universe]:
    """Every live universe, by name."""
    rows = conn.execute(text(_UNIVERSES_SQL.format(condition="")))
    return [_universe(row) for row in rows]


def _unknown_universe(conn: Connection, name: str) -> DataError:
    known = [universe.name for universe in list_universes(conn)]
    listed = ", ".join(known[:NAMES_LISTED_IN_ERRORS]) if known else "none yet"
    return DataError(
        f"universe: {name!r} does not exist; known universes: {listed} "
        f"(create it with `stocker universe create {name}`)"
    )


def get_universe(conn: Connection, name: str, *, for_update: bool = False) -> Universe:
    """The live universe called `name`, or `DataError` listing the known ones."""
    if for_update:
        conn.execute(
            text(
                "SELECT id FROM instrument_universe WHERE name = :name AND is_deleted IS NOT TRUE "
                "FOR UPDATE"
            ),
            {"name": name},
        )
    row = conn.execute(
        text(_UNIVERSES_SQL.format(condition="AND u.name = :name")), {"name": name}
    ).one_or_none()
    if row is None:
        raise _unknown_universe(conn, name)
    return _universe(row)


def members(conn: Connection, name: str) -> list[Member]:
    """Live members of universe `name`, by position (unranked last) then symbol."""
    universe = get_universe(conn, name)
    rows = conn.execute(
        text(
            "SELECT symbol, position FROM instrument_universe_member "
            "WHERE universe_id = :id AND is_deleted IS NOT TRUE "
            "ORDER BY position NULLS LAST, symbol"
        ),
        {"id": universe.id},
    )
    return [Member(symbol=row.symbol, position=row.position) for row in rows]


def member_symbols(conn: Connection, name: str) -> list[str]:
    """Live member symbols of universe `name`, in universe order."""
    return [member.symbol for member in members(conn, name)]


def _lock_for_global(conn: Connection) -> None:
    # SHARE ROW EXCLUSIVE conflicts with itself: two writers making a universe global serialize.
    conn.execute(text("LOCK TABLE instrument_universe IN SHARE ROW EXCLUSIVE MODE"))


def _make_only_global(conn: Connection, universe_id: int) -> None:
    conn.execute(
        text(
            "UPDATE instrument_universe SET is_global = (id = :id), updated_at = NOW() "
            "WHERE is_global IS DISTINCT FROM (id = :id)"
        ),
        {"id": universe_id},
    )


def create_universe(
    conn: Connection,
    name: str,
    description: str | None = None,
    *,
    symbols: Sequence[str] = (),
    ranked: bool = False,
    is_global: bool = False,
) -> Universe:
    """Create universe `name` (optionally with members, ranked in the given order).

    Creating the name of a deleted universe revives that row, empty, with the new description.
    """
    name = _checked_name(name)
    if is_global:
        _lock_for_global(conn)
    existing = conn.execute(
        text("SELECT id, is_deleted FROM instrument_universe WHERE name = :name FOR UPDATE"),
        {"name": name},
    ).one_or_none()
    if existing is not None and not existing.is_deleted:
        raise DataError(
            f"universe: {name!r} already exists; choose another name or add members to it"
        )
    if existing is not None:
        universe_id = int(existing.id)
        conn.execute(
            text(
                "UPDATE instrument_universe SET is_deleted = FALSE, is_global = FALSE, "
                "description = :description, updated_at = NOW() WHERE id = :id"
            ),
            {"id": universe_id, "description": description},
        )
        conn.execute(
            text(
                "UPDATE instrument_universe_member SET is_deleted = TRUE, position = NULL, "
                "updated_at = NOW() WHERE universe_id = :id AND is_deleted IS NOT TRUE"
            ),
            {"id": universe_id},
        )
    else:
        universe_id = int(
            conn.execute(
                text(
                    "INSERT INTO instrument_universe (name, description, is_global, is_deleted) "
                    "VALUES (:name, :description, FALSE, FALSE) RETURNING id"
                ),
                {"name": name, "description": description},
            ).scalar_one()
        )
    if is_global:
        _make_only_global(conn, universe_id)
    if symbols:
        set_members(conn, name, symbols, ranked=ranked)
    return get_universe(conn, name)


def rename_universe(conn: Connection, name: str, new_name: str) -> Universe:
    """Rename a live universe; the new name must not be taken (by a live or deleted universe)."""
    new_name = _checked_name(new_name, "new_name")
    universe = get_universe(conn, name, for_update=True)
    if new_name == universe.name:
        return universe
    taken = conn.execute(
        text("SELECT is_deleted FROM instrument_universe WHERE name = :name"), {"name": new_name}
    ).one_or_none()
    if taken is not None:
        state = "a deleted universe" if taken.is_deleted else "another universe"
        raise DataError(f"new_name: {new_name!r} is already used by {state}; choose another name")
    conn.execute(
        text("UPDATE instrument_universe SET name = :new_name, updated_at = NOW() WHERE id = :id"),
        {"id": universe.id, "new_name": new_name},
    )
    return get_universe(conn, new_name)


def delete_universe(conn: Connection, name: str) -> None:
    """Soft-delete a universe (and drop its global flag); refused while a strategy uses it."""
    universe = get_universe(conn, name, for_update=True)
    if universe.strategies:
        assigned = ", ".join(universe.strategies)
        raise DataError(
            f"universe: {name!r} is assigned to strategy {assigned}; reassign it first "
            f"(`stocker universe assign-strategy STRATEGY OTHER_UNIVERSE`)"
        )
    conn.execute(
        text(
            "UPDATE instrument_universe SET is_deleted = TRUE, is_global = FALSE, "
            "updated_at = NOW() WHERE id = :id"
        ),
        {"id": universe.id},
    )


def set_global(conn: Connection, name: str) -> Universe:
    """Make `name` the one global universe (the previous global one stops being global)."""
    _lock_for_global(conn)
    universe = get_universe(conn, name)
    _make_only_global(conn, universe.id)
    return get_universe(conn, name)


def global_universe(conn: Connection) -> Universe | None:
    """The global universe, if one is set."""
    rows = conn.execute(text(_UNIVERSES_SQL.format(condition="AND u.is_global")))
    found = [_universe(row) for row in rows]
    return found[0] if found else None


def _normalized_symbols(symbols: Sequence[str]) -> list[str]:
    cleaned = [symbol.strip() for symbol in symbols]
    blank = [index for index, symbol in enumerate(cleaned) if not symbol]
    if blank:
        raise DataError(f"symbols: entry {blank[0]} is blank; expected ticker symbols")
    repeated = sorted({symbol for symbol in cleaned if cleaned.count(symbol) > 1})
    if repeated:
        raise DataError(f"symbols: {', '.join(repeated)} given more than once; list each once")
    return cleaned


def _current_members(conn: Connection, universe_id: int) -> pd.DataFrame:
    rows = conn.execute(
        text(
            "SELECT symbol, is_deleted IS TRUE AS is_deleted, position "
            "FROM instrument_universe_member WHERE universe_id = :id"
        ),
        {"id": universe_id},
    ).fetchall()
    return pd.DataFrame(rows, columns=["symbol", "is_deleted", "position"]).set_index("symbol")


def _classified(
    current: pd.DataFrame, symbols: list[str], positions: list[int | None]
) -> MemberChange:
    """How writing `symbols` at `positions` changes the stored members (before any write)."""
    added = revived = repositioned = unchanged = 0
    for symbol, position in zip(symbols, positions, strict=True):
        if symbol not in current.index:
            added += 1
        elif current.at[symbol, "is_deleted"]:
            revived += 1
        elif _same_position(current.at[symbol, "position"], position):
            unchanged += 1
        else:
            repositioned += 1
    return MemberChange(
        added=added, revived=revived, repositioned=repositioned, removed=0, unchanged=unchanged
    )


def _write_members(
    conn: Connection, universe_id: int, symbols: list[str], positions: list[int | None]
) -> None:
    rows = pd.DataFrame(
        {
            "universe_id": universe_id,
            "symbol": symbols,
            "is_deleted": False,
            "position": pd.array(positions, dtype="Int64"),
        }
    )
    if len(rows):
        upsert(conn, "instrument_universe_member", rows, key=("universe_id", "symbol"))


def _same_position(stored: Any, wanted: int | None) -> bool:
    missing = stored is None or bool(pd.isna(stored))
    if wanted is None:
        return missing
    return not missing and int(stored) == wanted


def add_members(
    conn: Connection, name: str, symbols: Sequence[str], *, ranked: bool = False
) -> MemberChange:
    """Add (or revive) members of `name`.

    With `ranked`, the given symbols that are new, revived or not yet ranked are placed after the
    universe's last position, in the given order; already ranked members keep their position.
    """
    wanted = _normalized_symbols(symbols)
    require_known(conn, wanted)
    universe = get_universe(conn, name, for_update=True)
    current = _current_members(conn, universe.id)
    live = current[~current["is_deleted"].astype(bool)]
    positions: list[int | None] = []
    next_position = int(live["position"].max()) + 1 if live["position"].notna().any() else 1
    for symbol in wanted:
        kept = live["position"].get(symbol) if symbol in live.index else None
        if kept is not None and not pd.isna(kept):
            positions.append(int(kept))
        elif ranked:
            positions.append(next_position)
            next_position += 1
        else:
            positions.append(None)
    change = _classified(current, wanted, positions)
    _write_members(conn, universe.id, wanted, positions)
    _touch(conn, universe.id)
    return change


def set_members(
    conn: Connection, name: str, symbols: Sequence[str], *, ranked: bool = True
) -> MemberChange:
    """Make the live members of `name` exactly `symbols` (ranked 1..n in order, by default).

    This is how a screener saves its result: members not listed are soft-deleted.
    """
    wanted = _normalized_symbols(symbols)
    require_known(conn, wanted)
    universe = get_universe(conn, name, for_update=True)
    positions: list[int | None] = (
        list(range(1, len(wanted) + 1)) if ranked else [None] * len(wanted)
    )
    current = _current_members(conn, universe.id)
    change = _classified(current, wanted, positions)
    removed = conn.execute(
        text(
            "UPDATE instrument_universe_member SET is_deleted = TRUE, position = NULL, "
            "updated_at = NOW() WHERE universe_id = :id AND is_deleted IS NOT TRUE "
            "AND NOT (symbol = ANY(:symbols))"
        ),
        {"id": universe.id, "symbols": wanted},
    ).rowcount
    # Positions are unique among live members: clear the listed ones before rewriting them, so
    # a reordering never collides with a position another member still holds.
    conn.execute(
        text(
            "UPDATE instrument_universe_member SET position = NULL "
            "WHERE universe_id = :id AND symbol = ANY(:symbols) AND position IS NOT NULL"
        ),
        {"id": universe.id, "symbols": wanted},
    )
    _write_members(conn, universe.id, wanted, positions)
    _touch(conn, universe.id)
    return MemberChange(
        added=change.added,
        revived=change.revived,
        repositioned=change.repositioned,
        removed=int(removed),
        unchanged=change.unchanged,
    )


def remove_members(conn: Connection, name: str, symbols: Sequence[str]) -> MemberChange:
    """Soft-delete members of `name`; symbols that are not live members raise `DataError`."""
    wanted = _normalized_symbols(symbols)
    universe = get_universe(conn, name, for_update=True)
    current = _current_members(conn, universe.id)
    live = set(current.index[~current["is_deleted"].astype(bool)])
    absent = [symbol for symbol in wanted if symbol not in live]
    if absent:
        raise DataError(
            f"symbols: {', '.join(absent)} not a member of universe {name!r}; "
            f"see `stocker universe show {name}`"
        )
    removed = conn.execute(
        text(
            "UPDATE instrument_universe_member SET is_deleted = TRUE, position = NULL, "
            "updated_at = NOW() WHERE universe_id = :id AND symbol = ANY(:symbols)"
        ),
        {"id": universe.id, "symbols": wanted},
    ).rowcount
    _touch(conn, universe.id)
    return MemberChange(added=0, revived=0, repositioned=0, removed=int(removed), unchanged=0)


def _touch(conn: Connection, universe_id: int) -> None:
    conn.execute(
        text("UPDATE instrument_universe SET updated_at = NOW() WHERE id = :id"),
        {"id": universe_id},
    )


def assign_strategy(conn: Connection, strategy_id: str, universe_name: str) -> str | None:
    """Assign (or reassign) a strategy to a universe; returns the previous universe's name."""
    strategy_id = _checked_name(strategy_id, "strategy_id")
    universe = get_universe(conn, universe_name)
    previous = conn.execute(
        text(
            "SELECT u.name FROM strategy_universe s "
            "JOIN instrument_universe u ON u.id = s.universe_id "
            "WHERE s.strategy_id = :strategy FOR UPDATE OF s"
        ),
        {"strategy": strategy_id},
    ).scalar_one_or_none()
    conn.execute(
        text(
            "INSERT INTO strategy_universe (strategy_id, universe_id) VALUES (:strategy, :id) "
            "ON CONFLICT (strategy_id) DO UPDATE SET universe_id = EXCLUDED.universe_id, "
            "updated_at = NOW() WHERE strategy_universe.universe_id "
            "IS DISTINCT FROM EXCLUDED.universe_id"
        ),
        {"strategy": strategy_id, "id": universe.id},
    )
    return previous


def unassign_strategy(conn: Connection, strategy_id: str) -> bool:
    """Remove a strategy's universe assignment; returns whether it had one."""
    result = conn.execute(
        text("DELETE FROM strategy_universe WHERE strategy_id = :strategy"),
        {"strategy": strategy_id},
    )
    return bool(result.rowcount)


def strategy_assignments(conn: Connection) -> list[StrategyAssignment]:
    """Every strategy → universe assignment, by strategy."""
    rows = conn.execute(
        text(
            "SELECT s.strategy_id, u.name AS universe, COALESCE(s.updated_at, s.created_at) "
            "AS updated_at FROM strategy_universe s "
            "JOIN instrument_universe u ON u.id = s.universe_id ORDER BY s.strategy_id"
        )
    )
    return [StrategyAssignment(row.strategy_id, row.universe, row.updated_at) for row in rows]


def universe_for_strategy(conn: Connection, strategy_id: str) -> Universe:
    """The universe assigned to `strategy_id`, or `DataError` if it has none."""
    name = conn.execute(
        text(
            "SELECT u.name FROM strategy_universe s "
            "JOIN instrument_universe u ON u.id = s.universe_id "
            "WHERE s.strategy_id = :strategy AND u.is_deleted IS NOT TRUE"
        ),
        {"strategy": strategy_id},
    ).scalar_one_or_none()
    if name is None:
        raise DataError(
            f"strategy_id: {strategy_id!r} has no universe; assign one with "
            f"`stocker universe assign-strategy {strategy_id} UNIVERSE`"
        )
    return get_universe(conn, name)
