"""`stocker trade halt|resume|breaks|reconcile|send|daemon`: live trading (docs/live_trading.md).

The live broker is the composition root's (`STOCKER_BROKER=alpaca`); halt, resume and the
breaks work without one.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer

from stocker.cli.app import app_of, console
from stocker.cli.errors import clear_errors
from stocker.cli.trade import Strategies, trade_app

AsJson = Annotated[bool, typer.Option("--json", help="Print the result as JSON.")]
breaks_app = typer.Typer(help="Reconciliation breaks: disagreements with the broker.")
trade_app.add_typer(breaks_app, name="breaks")


def _live_broker(application: Any, *, required: bool = True) -> Any:
    """The composition root's broker when it is a live one."""
    from stocker.core.errors import ConfigError

    broker = application.broker
    if getattr(broker, "live", False):
        return broker
    if required:
        raise ConfigError(
            "this needs a live broker: set STOCKER_BROKER=alpaca (and its keys; "
            "STOCKER_ALPACA_TRADING_URL / STOCKER_ALPACA_STREAM_URL for the stand-in)"
        )
    return None


@trade_app.command("halt")
@clear_errors
def halt_command(
    ctx: typer.Context,
    portfolio: str = typer.Argument(..., help="Portfolio id."),
    reason: str = typer.Option("halted by the operator", "--reason", help="Why (recorded)."),
    as_json: AsJson = False,
) -> None:
    """Kill switch: stop new orders for PORTFOLIO and cancel its open broker orders."""
    from stocker.trading.reconcile import halt

    application = app_of(ctx)
    live = (
        _live_broker(application, required=False)
        if application.settings.broker != "paper"
        else None
    )
    canceled = halt(application.uow, portfolio, reason, live)
    if as_json:
        typer.echo(json.dumps({"portfolio": portfolio, "halted": True, "canceled": canceled}))
    else:
        console.print(f"{portfolio}: halted; {len(canceled)} open order(s) canceled")


@trade_app.command("resume")
@clear_errors
def resume_command(
    ctx: typer.Context,
    portfolio: str = typer.Argument(..., help="Portfolio id."),
    as_json: AsJson = False,
) -> None:
    """Lift the kill switch of PORTFOLIO (open breaks still halt it until resolved)."""
    from stocker.trading.reconcile import resume

    was, open_breaks = resume(app_of(ctx).uow, portfolio)
    if as_json:
        typer.echo(
            json.dumps({"portfolio": portfolio, "was_halted": was, "open_breaks": open_breaks})
        )
        return
    state = "resumed" if was else "was not halted"
    tail = f"; {open_breaks} open break(s) still halt it" if open_breaks else ""
    console.print(f"{portfolio}: {state}{tail}")


@breaks_app.command("list")
@clear_errors
def breaks_list_command(
    ctx: typer.Context,
    portfolio: str | None = typer.Option(None, "--portfolio", help="Only this portfolio."),
    include_resolved: bool = typer.Option(False, "--all", help="Resolved ones too."),
    as_json: AsJson = False,
) -> None:
    """The reconciliation breaks, with both sides and the reason."""
    from stocker.trading.reconcile import break_json, list_breaks

    rows = list_breaks(app_of(ctx).uow, portfolio, include_resolved=include_resolved)
    if as_json:
        typer.echo(json.dumps([break_json(row) for row in rows], indent=2))
        return
    if not rows:
        console.print("no open breaks")
    for row in rows:
        state = f"resolved ({row.resolution})" if row.resolved_at else "open"
        console.print(
            f"#{row.id} {row.portfolio_id} {row.kind} {row.symbol or ''} [{state}]: "
            f"{row.reason}; ours {row.ours} broker {row.broker}",
            markup=False,
            highlight=False,
        )


@breaks_app.command("resolve")
@clear_errors
def breaks_resolve_command(
    ctx: typer.Context,
    break_id: int = typer.Argument(..., help="The break's id (`stocker trade breaks list`)."),
    side: str = typer.Option(
        ..., "--side", help="Who is right: broker (post a correcting entry) or ours."
    ),
    note: str = typer.Option("", "--note", help="Why (recorded)."),
    as_json: AsJson = False,
) -> None:
    """Close a break; `--side broker` posts the correcting ledger entry."""
    from stocker.trading.reconcile import break_json, resolve_break

    application = app_of(ctx)
    row = resolve_break(
        application.uow, break_id, side, note or f"{side} is right", day=application.clock.today()
    )
    if as_json:
        typer.echo(json.dumps(break_json(row), indent=2))
    else:
        entry = f"; correcting entry {row.correcting_entry_id}" if row.correcting_entry_id else ""
        console.print(f"#{row.id} resolved ({row.resolution}){entry}")


@trade_app.command("reconcile")
@clear_errors
def reconcile_command(
    ctx: typer.Context,
    portfolio: str = typer.Argument(..., help="Portfolio id."),
    as_json: AsJson = False,
) -> None:
    """Backfill from the live broker and compare orders, fills and positions with it."""
    from stocker.trading.reconcile import reconcile

    application = app_of(ctx)
    report = reconcile(application.uow, _live_broker(application), portfolio)
    if as_json:
        typer.echo(
            json.dumps(
                {
                    "portfolio": portfolio,
                    "new_breaks": report.new_breaks,
                    "open_breaks": report.open_breaks,
                    "halted": report.halted,
                }
            )
        )
    else:
        console.print(
            f"{portfolio}: {report.new_breaks} new break(s), {report.open_breaks} open"
            + (" — trading halted" if report.halted else "")
        )


@trade_app.command("send")
@clear_errors
def send_command(
    ctx: typer.Context,
    portfolio: str | None = typer.Option(None, "--portfolio", help="Only this portfolio."),
    wait: float = typer.Option(2.0, "--wait", help="Seconds to apply the broker's updates."),
    as_json: AsJson = False,
) -> None:
    """Send the due orders to the live broker and apply its updates for --wait seconds."""
    import time

    from stocker.trading.live_broker import LiveTrading

    application = app_of(ctx)
    live = LiveTrading(application.uow, _live_broker(application))
    live.pump()
    report = live.submit(portfolio_id=portfolio)
    deadline = time.monotonic() + wait
    while time.monotonic() < deadline:
        live.pump(0.2)
    result = {
        "submitted": len(report.submitted),
        "halted": len(report.halted),
        "refused": report.refused,
        "canceled_opposite": len(report.canceled_opposite),
        "unreachable": report.unreachable,
    }
    if as_json:
        typer.echo(json.dumps(result, indent=2))
    else:
        console.print(
            f"{result['submitted']} sent, {result['halted']} held (halted), "
            f"{len(report.refused)} refused"
            + (f"; broker unreachable: {report.unreachable}" if report.unreachable else "")
        )


@trade_app.command("daemon")
@clear_errors
def daemon_command(
    ctx: typer.Context,
    start: str = typer.Option(..., "--from", help="First session to run (YYYY-MM-DD)."),
    strategy: Strategies = None,
    poll: float = typer.Option(60.0, "--poll", help="Seconds between looks at the clock."),
    once: bool = typer.Option(False, "--once", help="Run the due sessions, then exit."),
    source: str | None = typer.Option(
        None,
        "--source",
        envvar="STOCKER_DAEMON_SOURCE",
        help="Source of each session's bars (default: where the universe's bars came from).",
    ),
    source_option: list[str] = typer.Option(  # noqa: B008
        [],
        "--source-option",
        help="KEY=VALUE option of the source, repeatable; {session} stands for the date.",
    ),
    stored_bars: bool = typer.Option(
        False, "--stored-bars", help="Ingest nothing: use the bars already stored."
    ),
    as_json: AsJson = False,
) -> None:
    """Each portfolio's daily cycle after every session's close, until Ctrl-C."""
    import datetime as dt
    import threading

    from stocker.trading.daemon import SessionBars, TradingDaemon, live_cycle
    from stocker.trading.days import load_pipeline

    application = app_of(ctx)
    try:
        first = dt.date.fromisoformat(start)
    except ValueError:
        raise typer.BadParameter(
            f"{start!r} is not a date (YYYY-MM-DD)", param_hint="--from"
        ) from None
    options = {}
    for item in source_option:
        key, equals, value = item.partition("=")
        if not equals or not key.strip():
            raise typer.BadParameter(f"{item!r} is not KEY=VALUE", param_hint="--source-option")
        options[key.strip()] = value
    paths = strategy or [Path("strategies")]
    broker = _live_broker(application)
    stages, _ = load_pipeline(application.uow, paths)
    bars = None if stored_bars else SessionBars(application.source, source, options)
    daemon = TradingDaemon(
        application.uow,
        tuple(setup.portfolio_id for setup in stages.portfolios),
        application.clock,
        live_cycle(application.uow, broker, paths, bars=bars),
        first=first,
    )
    if once:
        ran = daemon.run_once()
        if as_json:
            typer.echo(json.dumps([{"portfolio": p, "session": d.isoformat()} for p, d in ran]))
        else:
            console.print(f"{len(ran)} session(s) run")
        return
    stop = threading.Event()
    console.print("trading daemon running; Ctrl-C to stop")
    try:
        daemon.run(stop, poll)
    except KeyboardInterrupt:
        stop.set()
