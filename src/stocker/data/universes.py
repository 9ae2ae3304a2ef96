"""User-managed universes: `instrument_universe`, its members, and `strategy_universe`.

A universe is a named, optionally ordered list of symbols; SigmaQLab sees the same rows as
`groups` / `group_members`, with `position` as the screener rank. Nothing here is hard-deleted:
deleting a universe or removing a member sets `is_deleted`, and adding a removed member (or
creating a deleted universe's name again) revives the row, so ids stay stable for everything that
referenced them.

Each function is one use case: it opens the unit of work, works through `uow.universes` and
commits (reads only read). Rules enforced here:
- at most one live universe is global (`is_global`), under a table lock so two writers cannot
  both make one global;
- a universe a strategy is assigned to cannot be deleted (reassign the strategy first);
- every member symbol must be registered in `instrument_info`;
- live members' positions are unique within a universe (1 = first).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import pandas as pd

from stocker.core.errors import DataError
from stocker.data.instruments import require_known
from stocker.store.repositories.universes import Member, StrategyAssignment, Universe

if TYPE_CHECKING:
    from stocker.store.uow import SqlUnitOfWork

__all__ = [
    "Member",
    "MemberChange",
    "StrategyAssignment",
    "Universe",
    "add_members",
    "assign_strategy",
    "create_universe",
    "delete_universe",
    "get_universe",
    "global_universe",
    "list_universes",
    "member_symbols",
    "members",
    "remove_members",
    "rename_universe",
    "set_global",
    "set_members",
    "strategy_assignments",
    "unassign_strategy",
    "universe_for_strategy",
    "universe_members",
]

NAME_CHARACTERS = 100
STRATEGY_ID_CHARACTERS = 100
NAMES_LISTED_IN_ERRORS = 10


@dataclass(frozen=True)
class MemberChange:
    """What `add_members` / `set_members` / `remove_members` did."""

    added: int
    revived: int
    repositioned: int
    removed: int
    unchanged: int


def _checked_name(name: str, field: str = "name") -> str:
    cleaned = name.strip()
    if not cleaned or len(cleaned) > NAME_CHARACTERS:
        raise DataError(
            f"{field}: got {name!r}, expected 1 to {NAME_CHARACTERS} characters (not blank)"
        )
    return cleaned


def _unknown_universe(uow: SqlUnitOfWork, name: str) -> DataError:
    known = [universe.name for universe in uow.universes.all()]
    listed = ", ".join(known[:NAMES_LISTED_IN_ERRORS]) if known else "none yet"
    return DataError(
        f"universe: {name!r} does not exist; known universes: {listed} "
        f"(create it with `stocker universe create {name}`)"
    )


def found_universe(uow: SqlUnitOfWork, name: str, *, for_update: bool = False) -> Universe:
    """The live universe `name` in an open unit of work, or `DataError` listing the known ones
    (for use cases that need a universe inside their own transaction)."""
    universe = uow.universes.named(name, for_update=for_update)
    if universe is None:
        raise _unknown_universe(uow, name)
    return universe


def list_universes(uow: SqlUnitOfWork) -> list[Universe]:
    """Every live universe, by name."""
    with uow:
        return uow.universes.all()


def get_universe(uow: SqlUnitOfWork, name: str) -> Universe:
    """The live universe called `name`, or `DataError` listing the known ones."""
    with uow:
        return found_universe(uow, name)


def members(uow: SqlUnitOfWork, name: str) -> list[Member]:
    """Live members of universe `name`, by position (unranked last) then symbol."""
    with uow:
        return uow.universes.members(found_universe(uow, name).id)


def universe_members(uow: SqlUnitOfWork, name: str) -> tuple[Universe, list[Member]]:
    """Universe `name` and its live members (what `stocker universe show` prints), read together."""
    with uow:
        universe = found_universe(uow, name)
        return universe, uow.universes.members(universe.id)


def member_symbols(uow: SqlUnitOfWork, name: str) -> list[str]:
    """Live member symbols of universe `name`, in universe order."""
    return [member.symbol for member in members(uow, name)]


def create_universe(
    uow: SqlUnitOfWork,
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
    with uow:
        repository = uow.universes
        if is_global:
            repository.lock_for_global()
        existing = repository.stored_name(name, for_update=True)
        if existing is not None and not existing.is_deleted:
            raise DataError(
                f"universe: {name!r} already exists; choose another name or add members to it"
            )
        if existing is not None:
            universe_id = existing.id
            repository.revive(universe_id, description)
        else:
            universe_id = repository.insert(name, description)
        if is_global:
            repository.make_only_global(universe_id)
        if symbols:
            _set_members(uow, name, symbols, ranked=ranked)
        created = found_universe(uow, name)
        uow.commit()
    return created


def rename_universe(uow: SqlUnitOfWork, name: str, new_name: str) -> Universe:
    """Rename a live universe; the new name must not be taken (by a live or deleted universe)."""
    new_name = _checked_name(new_name, "new_name")
    with uow:
        universe = found_universe(uow, name, for_update=True)
        if new_name == universe.name:
            return universe
        taken = uow.universes.stored_name(new_name)
        if taken is not None:
            state = "a deleted universe" if taken.is_deleted else "another universe"
            raise DataError(
                f"new_name: {new_name!r} is already used by {state}; choose another name"
            )
        uow.universes.rename(universe.id, new_name)
        renamed = found_universe(uow, new_name)
        uow.commit()
    return renamed


def delete_universe(uow: SqlUnitOfWork, name: str) -> None:
    """Soft-delete a universe (and drop its global flag); refused while a strategy uses it."""
    with uow:
        universe = found_universe(uow, name, for_update=True)
        if universe.strategies:
            assigned = ", ".join(universe.strategies)
            raise DataError(
                f"universe: {name!r} is assigned to strategy {assigned}; reassign it first "
                f"(`stocker universe assign-strategy STRATEGY OTHER_UNIVERSE`)"
            )
        uow.universes.soft_delete(universe.id)
        uow.commit()


def set_global(uow: SqlUnitOfWork, name: str) -> Universe:
    """Make `name` the one global universe (the previous global one stops being global)."""
    with uow:
        uow.universes.lock_for_global()
        uow.universes.make_only_global(found_universe(uow, name).id)
        universe = found_universe(uow, name)
        uow.commit()
    return universe


def global_universe(uow: SqlUnitOfWork) -> Universe | None:
    """The global universe, if one is set."""
    with uow:
        return uow.universes.global_universe()


def _normalized_symbols(symbols: Sequence[str]) -> list[str]:
    cleaned = [symbol.strip() for symbol in symbols]
    blank = [index for index, symbol in enumerate(cleaned) if not symbol]
    if blank:
        raise DataError(f"symbols: entry {blank[0]} is blank; expected ticker symbols")
    repeated = sorted({symbol for symbol in cleaned if cleaned.count(symbol) > 1})
    if repeated:
        raise DataError(f"symbols: {', '.join(repeated)} given more than once; list each once")
    return cleaned


def _same_position(stored: Any, wanted: int | None) -> bool:
    missing = stored is None or bool(pd.isna(stored))
    if wanted is None:
        return missing
    return not missing and int(stored) == wanted


def _classified(
    current: pd.DataFrame, symbols: list[str], positions: list[int | None], removed: int = 0
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
        added=added,
        revived=revived,
        repositioned=repositioned,
        removed=removed,
        unchanged=unchanged,
    )


def add_members(
    uow: SqlUnitOfWork, name: str, symbols: Sequence[str], *, ranked: bool = False
) -> MemberChange:
    """Add (or revive) members of `name`.

    With `ranked`, the given symbols that are new, revived or not yet ranked are placed after the
    universe's last position, in the given order; already ranked members keep their position.
    """
    wanted = _normalized_symbols(symbols)
    with uow:
        require_known(uow, wanted)
        universe = found_universe(uow, name, for_update=True)
        current = uow.universes.member_rows(universe.id)
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
        uow.universes.write_members(universe.id, wanted, positions)
        uow.universes.touch(universe.id)
        uow.commit()
    return change


def _set_members(
    uow: SqlUnitOfWork, name: str, symbols: Sequence[str], *, ranked: bool
) -> MemberChange:
    """`set_members` inside an open unit of work (also how `create_universe` fills one)."""
    wanted = _normalized_symbols(symbols)
    require_known(uow, wanted)
    universe = found_universe(uow, name, for_update=True)
    positions: list[int | None] = (
        list(range(1, len(wanted) + 1)) if ranked else [None] * len(wanted)
    )
    current = uow.universes.member_rows(universe.id)
    removed = uow.universes.remove_unlisted(universe.id, wanted)
    # Positions are unique among live members: clear the listed ones before rewriting them, so
    # a reordering never collides with a position another member still holds.
    uow.universes.clear_positions(universe.id, wanted)
    uow.universes.write_members(universe.id, wanted, positions)
    uow.universes.touch(universe.id)
    return _classified(current, wanted, positions, removed)


def set_members(
    uow: SqlUnitOfWork, name: str, symbols: Sequence[str], *, ranked: bool = True
) -> MemberChange:
    """Make the live members of `name` exactly `symbols` (ranked 1..n in order, by default).

    This is how a screener saves its result: members not listed are soft-deleted.
    """
    with uow:
        change = _set_members(uow, name, symbols, ranked=ranked)
        uow.commit()
    return change


def remove_members(uow: SqlUnitOfWork, name: str, symbols: Sequence[str]) -> MemberChange:
    """Soft-delete members of `name`; symbols that are not live members raise `DataError`."""
    wanted = _normalized_symbols(symbols)
    with uow:
        universe = found_universe(uow, name, for_update=True)
        current = uow.universes.member_rows(universe.id)
        live = set(current.index[~current["is_deleted"].astype(bool)])
        absent = [symbol for symbol in wanted if symbol not in live]
        if absent:
            raise DataError(
                f"symbols: {', '.join(absent)} not a member of universe {name!r}; "
                f"see `stocker universe show {name}`"
            )
        removed = uow.universes.remove(universe.id, wanted)
        uow.universes.touch(universe.id)
        uow.commit()
    return MemberChange(added=0, revived=0, repositioned=0, removed=removed, unchanged=0)


def assign_strategy(uow: SqlUnitOfWork, strategy_id: str, universe_name: str) -> str | None:
    """Assign (or reassign) a strategy to a universe; returns the previous universe's name."""
    strategy_id = _checked_name(strategy_id, "strategy_id")
    with uow:
        universe = found_universe(uow, universe_name)
        previous = uow.universes.strategy_universe(strategy_id, for_update=True)
        uow.universes.assign(strategy_id, universe.id)
        uow.commit()
    return previous


def unassign_strategy(uow: SqlUnitOfWork, strategy_id: str) -> bool:
    """Remove a strategy's universe assignment; returns whether it had one."""
    with uow:
        had = uow.universes.unassign(strategy_id)
        uow.commit()
    return had


def strategy_assignments(uow: SqlUnitOfWork) -> list[StrategyAssignment]:
    """Every strategy → universe assignment, by strategy."""
    with uow:
        return uow.universes.assignments()


def universe_for_strategy(uow: SqlUnitOfWork, strategy_id: str) -> Universe:
    """The universe assigned to `strategy_id`, or `DataError` if it has none."""
    with uow:
        name = uow.universes.live_strategy_universe(strategy_id)
        if name is None:
            raise DataError(
                f"strategy_id: {strategy_id!r} has no universe; assign one with "
                f"`stocker universe assign-strategy {strategy_id} UNIVERSE`"
            )
        return found_universe(uow, name)
