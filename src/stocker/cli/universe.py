"""`stocker universe …`: create, list, show, rename, delete, add, remove, set-global,
assign-strategy, strategies."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table

from stocker.cli.app import app, app_of, console
from stocker.cli.errors import clear_errors

if TYPE_CHECKING:
    from stocker.data.universes import MemberChange

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
    ctx: typer.Context,
    name: Name,
    description: str | None = typer.Option(None, "--description", help="What it is for."),
    symbols: str = typer.Option("", "--symbols", help="Comma-separated members, ranked in order."),
    unranked: bool = typer.Option(False, "--unranked", help="Do not rank the --symbols."),
    is_global: bool = typer.Option(False, "--global", help="Make it the global universe."),
) -> None:
    """Create a universe, optionally with (ranked) members."""
    from stocker.data.universes import create_universe

    universe = create_universe(
        app_of(ctx).uow(),
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
def list_command(ctx: typer.Context) -> None:
    """List universes with member counts, the global flag and assigned strategies."""
    from stocker.data.universes import list_universes

    found = list_universes(app_of(ctx).uow())
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
def show(ctx: typer.Context, name: Name) -> None:
    """Show a universe's members in rank order."""
    from stocker.data.universes import universe_members

    universe, listed = universe_members(app_of(ctx).uow(), name)
    title = f"{universe.name}{' (global)' if universe.is_global else ''}"
    table = Table(title=title, caption=universe.description)
    table.add_column("position", justify="right")
    table.add_column("symbol")
    for member in listed:
        table.add_row("" if member.position is None else str(member.position), member.symbol)
    console.print(table)


@universe_app.command("rename")
@clear_errors
def rename(
    ctx: typer.Context, name: Name, new_name: Annotated[str, typer.Argument(help="New name.")]
) -> None:
    """Rename a universe."""
    from stocker.data.universes import rename_universe

    universe = rename_universe(app_of(ctx).uow(), name, new_name)
    console.print(f"renamed {name} to {universe.name}")


@universe_app.command("delete")
@clear_errors
def delete(ctx: typer.Context, name: Name) -> None:
    """Delete a universe (soft: its rows stay, marked deleted)."""
    from stocker.data.universes import delete_universe

    delete_universe(app_of(ctx).uow(), name)
    console.print(f"deleted universe {name}")


@universe_app.command("add")
@clear_errors
def add(ctx: typer.Context, name: Name, symbols: Symbols, ranked: Ranked = False) -> None:
    """Add members (re-adding a removed member revives it)."""
    from stocker.data.universes import add_members

    change = add_members(app_of(ctx).uow(), name, _symbols(symbols), ranked=ranked)
    _render_change(name, change)


@universe_app.command("remove")
@clear_errors
def remove(ctx: typer.Context, name: Name, symbols: Symbols) -> None:
    """Remove members (soft: marked deleted)."""
    from stocker.data.universes import remove_members

    change = remove_members(app_of(ctx).uow(), name, _symbols(symbols))
    _render_change(name, change)


@universe_app.command("set-global")
@clear_errors
def set_global(ctx: typer.Context, name: Name) -> None:
    """Make a universe the global one (only one can be)."""
    from stocker.data.universes import set_global as make_global

    make_global(app_of(ctx).uow(), name)
    console.print(f"{name} is now the global universe")


@universe_app.command("assign-strategy")
@clear_errors
def assign_strategy(
    ctx: typer.Context,
    strategy_id: Annotated[str, typer.Argument(help="Strategy identifier.")],
    name: Name,
) -> None:
    """Assign (or reassign) a strategy to a universe."""
    from stocker.data.universes import assign_strategy as assign

    previous = assign(app_of(ctx).uow(), strategy_id, name)
    moved = f" (was {previous})" if previous and previous != name else ""
    console.print(f"strategy {strategy_id} trades universe {name}{moved}")


@universe_app.command("strategies")
@clear_errors
def strategies(ctx: typer.Context) -> None:
    """List which universe each strategy trades."""
    from stocker.data.universes import strategy_assignments

    assignments = strategy_assignments(app_of(ctx).uow())
    table = Table(title="Strategy universes")
    table.add_column("strategy")
    table.add_column("universe")
    table.add_column("since")
    for assignment in assignments:
        since = f"{assignment.updated_at:%Y-%m-%d %H:%M}" if assignment.updated_at else ""
        table.add_row(assignment.strategy_id, assignment.universe, since)
    console.print(table)
