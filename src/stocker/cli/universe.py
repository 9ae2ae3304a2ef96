"""`stocker universe …`: create, list, show, rename, delete, add, remove, set-global,
assign-strategy, strategies."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

from stocker.cli.app import app, console
from stocker.cli.errors import clear_errors
from stocker.config import get_settings
from stocker.data import universes
from stocker.data.universes import MemberChange
from stocker.store.db import get_engine

universe_app = typer.Typer(
    help="Universes (SigmaQLab groups): named, optionally ranked lists of symbols.",
    no_args_is_help=True,
)
app.add_typer(universe_app, name="universe")

Name = Annotated[str, typer.Argument(help="Universe name.")]
Symbols = Annotated[list[str], typer.Argument(help="Ticker symbols, e.g. AAPL MSFT.")]
Ranked = Annotated[
    bool, typer.Option("--ranked", help="Rank the symbols in the order given (1 = first).")
]


def _symbols(values: list[str]) -> list[str]:
    """Split comma-separated arguments and upper-case them."""
    return [part.strip().upper() for value in values for part in value.split(",") if part.strip()]


def _render_change(name: str, change: MemberChange) -> None:
    parts = [
        f"{count} {label}"
        for count, label in (
            (change.added, "added"),
            (change.revived, "revived"),
            (change.repositioned, "re-ranked"),
            (change.removed, "removed"),
            (change.unchanged, "unchanged"),
        )
        if count
    ]
    console.print(f"{name}: {', '.join(parts) or 'no change'}")


@universe_app.command("create")
@clear_errors
def create(
    name: Name,
    description: str | None = typer.Option(None, "--description", help="What it is for."),
    symbols: str = typer.Option("", "--symbols", help="Comma-separated members, ranked in order."),
    unranked: bool = typer.Option(False, "--unranked", help="Do not rank the --symbols."),
    is_global: bool = typer.Option(False, "--global", help="Make it the global universe."),
) -> None:
    """Create a universe, optionally with (ranked) members."""
    with get_engine(get_settings()).begin() as conn:
        universe = universes.create_universe(
            conn,
            name,
            description,
            symbols=_symbols([symbols]),
            ranked=not unranked,
            is_global=is_global,
        )
    flag = " (global)" if universe.is_global else ""
    console.print(f"created universe {universe.name}{flag} with {universe.member_count} members")


@universe_app.command("list")
@clear_errors
def list_command() -> None:
    """List universes with member counts, the global flag and assigned strategies."""
    with get_engine(get_settings()).connect() as conn:
        found = universes.list_universes(conn)
    table = Table(title="Universes")
    for column in ("name", "members", "global", "strategies", "description"):
        table.add_column(column, justify="right" if column == "members" else "left")
    for universe in found:
        table.add_row(
            universe.name,
            f"{universe.member_count:,}",
            "yes" if universe.is_global else "",
            ", ".join(universe.strategies),
            universe.description or "",
        )
    console.print(table)


@universe_app.command("show")
@clear_errors
def show(name: Name) -> None:
    """Show a universe's members in rank order."""
    with get_engine(get_settings()).connect() as conn:
        universe = universes.get_universe(conn, name)
        listed = universes.members(conn, name)
    title = f"{universe.name}{' (global)' if universe.is_global else ''}"
    table = Table(title=title, caption=universe.description)
    table.add_column("position", justify="right")
    table.add_column("symbol")
    for member in listed:
        table.add_row("" if member.position is None else str(member.position), member.symbol)
    console.print(table)


@universe_app.command("rename")
@clear_errors
def rename(name: Name, new_name: Annotated[str, typer.Argument(help="New name.")]) -> None:
    """Rename a universe."""
    with get_engine(get_settings()).begin() as conn:
        universe = universes.rename_universe(conn, name, new_name)
    console.print(f"renamed {name} to {universe.name}")


@universe_app.command("delete")
@clear_errors
def delete(name: Name) -> None:
    """Delete a universe (soft: its rows stay, marked deleted)."""
    with get_engine(get_settings()).begin() as conn:
        universes.delete_universe(conn, name)
    console.print(f"deleted universe {name}")


@universe_app.command("add")
@clear_errors
def add(name: Name, symbols: Symbols, ranked: Ranked = False) -> None:
    """Add members (re-adding a removed member revives it)."""
    with get_engine(get_settings()).begin() as conn:
        change = universes.add_members(conn, name, _symbols(symbols), ranked=ranked)
    _render_change(name, change)


@universe_app.command("remove")
@clear_errors
def remove(name: Name, symbols: Symbols) -> None:
    """Remove members (soft: marked deleted)."""
    with get_engine(get_settings()).begin() as conn:
        change = universes.remove_members(conn, name, _symbols(symbols))
    _render_change(name, change)


@universe_app.command("set-global")
@clear_errors
def set_global(name: Name) -> None:
    """Make a universe the global one (only one can be)."""
    with get_engine(get_settings()).begin() as conn:
        universes.set_global(conn, name)
    console.print(f"{name} is now the global universe")


@universe_app.command("assign-strategy")
@clear_errors
def assign_strategy(
    strategy_id: Annotated[str, typer.Argument(help="Strategy identifier.")], name: Name
) -> None:
    """Assign (or reassign) a strategy to a universe."""
    with get_engine(get_settings()).begin() as conn:
        previous = universes.assign_strategy(conn, strategy_id, name)
    moved = f" (was {previous})" if previous and previous != name else ""
    console.print(f"strategy {strategy_id} trades universe {name}{moved}")


@universe_app.command("strategies")
@clear_errors
def strategies() -> None:
    """List which universe each strategy trades."""
    with get_engine(get_settings()).connect() as conn:
        assignments = universes.strategy_assignments(conn)
    table = Table(title="Strategy universes")
    table.add_column("strategy")
    table.add_column("universe")
    table.add_column("since")
    for assignment in assignments:
        since = f"{assignment.updated_at:%Y-%m-%d %H:%M}" if assignment.updated_at else ""
        table.add_row(assignment.strategy_id, assignment.universe, since)
    console.print(table)
