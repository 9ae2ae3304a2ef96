"""`stocker ledger verify|rebuild|journal`: check and rebuild the state derived from the journal."""

from __future__ import annotations

import json
from typing import Annotated

import typer

from stocker.cli.app import app, app_of, console
from stocker.cli.errors import clear_errors

ledger_app = typer.Typer(
    help="Double-entry ledger: verify invariants, rebuild state, show entries."
)
app.add_typer(ledger_app, name="ledger")

AsJson = Annotated[bool, typer.Option("--json", help="Print the report as JSON.")]


@ledger_app.command("verify")
@clear_errors
def verify_command(
    ctx: typer.Context,
    portfolio: str | None = typer.Option(None, "--portfolio", help="One portfolio (default all)."),
    as_json: AsJson = False,
) -> None:
    """Check every ledger invariant and print what breaks (exit 1 then)."""
    from stocker.trading.ledger import verify

    report = verify(app_of(ctx).uow(), portfolio)
    if as_json:
        typer.echo(json.dumps(report.as_json(), indent=2))
    else:
        console.print(
            f"{len(report.portfolios)} portfolio(s), {report.entries} entries, "
            f"{report.states} state rows checked",
            highlight=False,
        )
        for problem in report.problems:
            console.print(f"broken: {problem}", markup=False, highlight=False, style="red")
        if report.ok:
            console.print("every ledger invariant holds", style="green")
    if not report.ok:
        raise typer.Exit(1)


@ledger_app.command("rebuild")
@clear_errors
def rebuild_command(
    ctx: typer.Context,
    portfolio: str = typer.Argument(..., help="Portfolio id."),
    as_json: AsJson = False,
) -> None:
    """Recompute holdings and state from the journal; list the values that differed."""
    from stocker.trading.ledger import rebuild

    report = rebuild(app_of(ctx).uow(), portfolio)
    if as_json:
        typer.echo(json.dumps(report.as_json(), indent=2))
        return
    console.print(
        f"{portfolio}: {report.days} day(s) recomputed, {len(report.differences)} value(s) "
        "differed",
        highlight=False,
    )
    for difference in report.differences:
        console.print(f"replaced: {difference}", markup=False, highlight=False)


@ledger_app.command("journal")
@clear_errors
def journal_command(
    ctx: typer.Context,
    portfolio: str = typer.Argument(..., help="Portfolio id."),
    limit: int | None = typer.Option(None, "--limit", min=1, help="Only the last N entries."),
) -> None:
    """The portfolio's journal entries and their postings, oldest first."""
    from rich.table import Table

    from stocker.trading.ledger import journal

    entries = journal(app_of(ctx).uow(), portfolio, limit)
    table = Table(title=f"Ledger of {portfolio}")
    for column in ("date", "kind", "account", "symbol", "quantity", "amount", "description"):
        table.add_column(
            column,
            justify="right" if column in ("quantity", "amount") else "left",
            # identifiers a user copies are never cut; the description folds instead
            no_wrap=column != "description",
            overflow="fold",
        )
    for entry in entries:
        for number, posting in enumerate(entry.postings):
            first = number == 0
            table.add_row(
                entry.date.isoformat() if first else "",
                entry.kind if first else "",
                posting.account,
                posting.symbol or "",
                str(posting.quantity) if posting.quantity else "",
                f"{posting.amount} {posting.currency}",
                (entry.description or "") if first else "",
            )
    console.print(table)
    if not entries:
        console.print(f"no ledger entries for {portfolio}")
