"""Screens as of a date, and screens saved as ordered groups (SigmaQLab 11.5, rules 1 and 5).

`screen` parses the expression in the core (`stocker.core.screener`: errors point at the
position and name the nearest field), compiles it in the store to parameterized SQL and reads
only rows dated on or before the day (see `stocker.store.repositories.screens`). `save_group`
writes the result as a universe ranked 1..n in result order (position = rank, rule 5) through the
universe use cases, after checking rule 1: every symbol has an instrument record and a sector.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import TYPE_CHECKING

import pandas as pd

from stocker.core.errors import DataError
from stocker.core.screener import Screen, parse
from stocker.data.universes import Universe, create_universe, found_universe, set_members
from stocker.store.screen_sql import compile_screen

if TYPE_CHECKING:
    from stocker.store.uow import SqlUnitOfWork

SYMBOLS_LISTED_IN_ERRORS = 20


@dataclass(frozen=True)
class ScreenResult:
    """The symbols that passed a screen on `day`, in rank order.

    `rows` has ``rank`` (1 = first), ``symbol``, every field of the catalogue and the as-of dates
    each row's values come from (``fundamentals_date``, ``factors_date``, ``risk_date``);
    `columns` are the ones worth showing (rank, symbol, sector and the fields the screen names).
    """

    screen: Screen
    day: dt.date
    universe: str | None
    rows: pd.DataFrame
    as_of: dict[str, dt.date | None]

    @property
    def expression(self) -> str:
        return self.screen.expression

    @property
    def symbols(self) -> list[str]:
        return [str(symbol) for symbol in self.rows["symbol"]]

    @property
    def columns(self) -> list[str]:
        named = [name for name in self.screen.fields() if name not in ("symbol", "sector")]
        return ["rank", "symbol", "sector", *named]


def screen(
    uow: SqlUnitOfWork, expression: str, *, day: dt.date, universe: str | None = None
) -> ScreenResult:
    """Run `expression` as of `day` (over the members of `universe`, if given)."""
    parsed = parse(expression)
    compiled = compile_screen(parsed)
    with uow:
        universe_id = None if universe is None else found_universe(uow, universe).id
        rows = uow.screens.run(compiled, day, universe_id=universe_id)
        as_of = uow.screens.latest_dates(day)
    rows.insert(0, "rank", range(1, len(rows) + 1))
    return ScreenResult(parsed, day, universe, rows, as_of)


def _missing_records(uow: SqlUnitOfWork, result: ScreenResult) -> str | None:
    """Rule 1: why `result` cannot be saved (symbols without a record or a sector), if so."""
    unknown = uow.instruments.unknown(result.symbols)
    sectors = result.rows.set_index("symbol")["sector"]
    no_sector = [
        symbol
        for symbol in result.symbols
        if symbol not in unknown and (pd.isna(sectors[symbol]) or not str(sectors[symbol]).strip())
    ]
    problems = []
    for label, symbols in (("no instrument record", unknown), ("no sector", no_sector)):
        if symbols:
            listed = ", ".join(symbols[:SYMBOLS_LISTED_IN_ERRORS])
            more = len(symbols) - SYMBOLS_LISTED_IN_ERRORS
            problems.append(f"{label}: {listed}{f' and {more} more' if more > 0 else ''}")
    return "; ".join(problems) or None


def save_group(
    uow: SqlUnitOfWork,
    name: str,
    result: ScreenResult,
    *,
    description: str | None = None,
    replace: bool = False,
) -> Universe:
    """Save `result` as group (universe) `name`, ranked in result order (position = rank).

    Refused (rule 1, SigmaQLab 11.10) when a symbol has no instrument record or no sector as of
    the screen's day, naming them; refused when the result is empty, and when the group exists
    unless `replace` (then its members become exactly the result, in order). The writing is the
    universe use cases' (`create_universe`, `set_members`), each one transaction.
    """
    if not result.symbols:
        raise DataError(f"screen: {result.expression!r} found no symbols on {result.day}; no group")
    with uow:
        problem = _missing_records(uow, result)
        exists = uow.universes.named(name.strip()) is not None
    if problem:
        raise DataError(
            f"group {name!r}: not saved, every member needs a symbol record and a sector "
            f"(SigmaQLab rule 11.10.1); {problem}"
        )
    if exists and not replace:
        raise DataError(
            f"group {name!r} already exists; pass replace=True (--replace) to overwrite its "
            f"members, or choose another name"
        )
    if exists:
        set_members(uow, name.strip(), result.symbols, ranked=True)
        with uow:
            return found_universe(uow, name.strip())
    description = description or f"screen on {result.day}: {result.expression}"
    return create_universe(uow, name, description, symbols=result.symbols, ranked=True)


def screen_to_group(
    uow: SqlUnitOfWork,
    expression: str,
    *,
    day: dt.date,
    group: str,
    universe: str | None = None,
    replace: bool = False,
) -> tuple[ScreenResult, Universe]:
    """`screen`, then `save_group` of its result (what `stocker screen --save-group` does)."""
    result = screen(uow, expression, day=day, universe=universe)
    return result, save_group(uow, group, result, replace=replace)
