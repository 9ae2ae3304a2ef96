"""`stocker screen EXPR`: filter symbols by fundamentals, factors and risk as of a date, and save
the result as an ordered group; `stocker groups …`: the saved groups (universe commands)."""

from __future__ import annotations

import json
import math
from datetime import datetime
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.markup import escape
from rich.table import Table

from stocker.cli import universe as universe_commands
from stocker.cli.app import app, app_of, console
from stocker.cli.errors import clear_errors

if TYPE_CHECKING:
    from stocker.data.universes import Universe
    from stocker.lab.screener import ScreenResult

SCREEN_HELP = (
    "Screen symbols as of a date and optionally save them as a ranked group.\n\n"
    "EXPR is a filter over fundamentals, factors and risk, with an optional order and limit:\n\n"
    '  pe < 20 and roe > 0.15 and sector in ("Technology", "Health Care")\n'
    "  order by composite_score desc limit 30\n\n"
    "Comparisons (<, <=, >, >=, =, !=), in (…), not in (…), between A and B, is null, "
    "is not null, and / or / not, brackets; strings in double or single quotes. "
    "`--fields` lists the names, docs/screener.md gives the rules. "
    "Only data dated on or before --date is used."
)

groups_app = typer.Typer(
    help=(
        "Saved groups (SigmaQLab groups are Stocker universes): list, show, edit, delete. "
        "list/show/delete are `stocker universe list/show/delete`; rename and add/remove "
        "members with `stocker universe rename/add/remove`."
    ),
    no_args_is_help=True,
)
app.add_typer(groups_app, name="groups")
groups_app.command("list", help="List groups (alias of `stocker universe list`).")(
    universe_commands.list_command
)
groups_app.command("show", help="Show a group in rank order (alias of `stocker universe show`).")(
    universe_commands.show
)
groups_app.command("delete", help="Delete a group (alias of `stocker universe delete`).")(
    universe_commands.delete
)


@groups_app.command("edit")
@clear_errors
def edit(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="Group name.")],
    symbols: Annotated[
        list[str], typer.Argument(help="The members in rank order, e.g. AAPL MSFT.")
    ],
) -> None:
    """Set a group's members, ranked in the order given (members not listed are removed)."""
    from stocker.data.universes import set_members

    change = set_members(app_of(ctx).uow(), name, universe_commands._symbols(symbols), ranked=True)
    universe_commands._render_change(name, change)


def _plain(value: Any) -> Any:
    """A JSON-ready value: NaN and NA become null, dates ISO strings, numpy scalars Python ones."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    if hasattr(value, "isoformat"):
        return value.isoformat()
    if hasattr(value, "item"):
        return _plain(value.item())
    return value


def _as_json(result: ScreenResult, group: Universe | None) -> str:
    rows = [
        {column: _plain(value) for column, value in record.items()}
        for record in result.rows.to_dict("records")
    ]
    document = {
        "expression": result.expression,
        "date": result.day.isoformat(),
        "universe": result.universe,
        "as_of": {key: _plain(value) for key, value in result.as_of.items()},
        "count": len(rows),
        "rows": rows,
        "group": None if group is None else {"id": group.id, "name": group.name},
    }
    return json.dumps(document, indent=2)


def _render(result: ScreenResult, group: Universe | None) -> None:
    dates = ", ".join(f"{key} {value or 'none'}" for key, value in result.as_of.items())
    table = Table(title=f"screen on {result.day} ({len(result.rows):,} symbols)", caption=dates)
    columns = result.columns
    for column in columns:
        table.add_column(column, justify="left" if column in ("symbol", "sector") else "right")
    for record in result.rows[columns].to_dict("records"):
        cells = []
        for column in columns:
            value = _plain(record[column])
            cells.append(
                "" if value is None else f"{value:,.4g}" if isinstance(value, float) else str(value)
            )
        table.add_row(*map(escape, cells))
    console.print(table)
    if group is not None:
        console.print(f"saved as group {group.name} ({group.member_count} members, ranked)")


def _render_fields() -> None:
    from stocker.core.screener import FIELDS

    table = Table(title="Screen fields")
    for column in ("field", "type", "from", "meaning"):
        table.add_column(column)
    for info in FIELDS.values():
        table.add_row(info.name, info.type, info.source, info.description)
    console.print(table)


@app.command("screen", help=SCREEN_HELP)
@clear_errors
def screen_command(
    ctx: typer.Context,
    expression: Annotated[
        str | None, typer.Argument(metavar="EXPR", help="The filter (quote it in the shell).")
    ] = None,
    day: Annotated[
        datetime | None,
        typer.Option(
            "--date", formats=["%Y-%m-%d"], help="Screen as of this date (default today)."
        ),
    ] = None,
    universe: Annotated[
        str | None, typer.Option("--universe", help="Only members of this universe (group).")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the result as JSON.")] = False,
    save_group: Annotated[
        str | None, typer.Option("--save-group", help="Save the result as this ranked group.")
    ] = None,
    replace: Annotated[
        bool, typer.Option("--replace", help="With --save-group: overwrite an existing group.")
    ] = False,
    fields: Annotated[bool, typer.Option("--fields", help="List the fields and exit.")] = False,
) -> None:
    if fields:
        _render_fields()
        return
    if expression is None:
        raise typer.BadParameter("give a screen expression (or --fields)", param_hint="EXPR")
    application = app_of(ctx)
    on = day.date() if day else application.clock.today()
    group = None
    if save_group is not None:
        from stocker.lab.screener import screen_to_group

        result, group = screen_to_group(
            application.uow(),
            expression,
            day=on,
            group=save_group,
            universe=universe,
            replace=replace,
        )
    else:
        from stocker.lab.screener import screen

        result = screen(application.uow(), expression, day=on, universe=universe)
    if as_json:
        typer.echo(_as_json(result, group))
    else:
        _render(result, group)
