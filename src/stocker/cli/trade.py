"""`stocker trade run-day|replay|explain|workers`: the live pipeline, session by session."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Annotated, Any

import typer

from stocker.cli.app import app, app_of, console
from stocker.cli.errors import clear_errors

trade_app = typer.Typer(help="The trading pipeline: run a session, replay, explain an order.")
app.add_typer(trade_app, name="trade")

AsJson = Annotated[bool, typer.Option("--json", help="Print the result as JSON.")]
Strategies = Annotated[
    list[Path] | None,
    typer.Option(
        "--strategy",
        help="Strategy file, or a directory of them (repeatable; default ./strategies).",
    ),
]


def _paths(strategies: list[Path] | None) -> list[Path]:
    return strategies or [Path("strategies")]


def _broker(application: Any) -> Any:
    """The composition root's broker (`App.broker`)."""
    return application.broker


def _date(text: str, option: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise typer.BadParameter(
            f"{text!r} is not a date (YYYY-MM-DD)", param_hint=option
        ) from None


def _state_json(report: Any) -> dict[str, Any]:
    return {
        "date": report.day.isoformat(),
        "handled": report.handled,
        "states": {
            portfolio: {
                "nav": str(state.nav),
                "cash": str(state.cash),
                "gross_exposure": str(state.gross_exposure),
                "drawdown": str(state.drawdown),
            }
            for portfolio, state in report.states.items()
        },
    }


def _print_day(report: Any) -> None:
    for portfolio, state in report.states.items():
        console.print(
            f"{report.day} {portfolio}: NAV {state.nav:,.2f} cash {state.cash:,.2f} "
            f"gross {state.gross_exposure} drawdown {state.drawdown}",
            highlight=False,
        )
    if not report.states:
        console.print(f"{report.day}: no portfolio state (no bars or an unfunded portfolio)")


@trade_app.command("run-day")
@clear_errors
def run_day_command(
    ctx: typer.Context,
    date: str = typer.Option(..., "--date", help="Session to run (YYYY-MM-DD)."),
    strategy: Strategies = None,
    as_json: AsJson = False,
) -> None:
    """Feed one session's stored bars through every stage; print the portfolio states."""
    from stocker.trading.days import run_day_from_files

    day = _date(date, "--date")
    application = app_of(ctx)
    report = run_day_from_files(application.uow, _paths(strategy), day, _broker(application))
    if as_json:
        typer.echo(json.dumps(_state_json(report), indent=2))
    else:
        _print_day(report)


@trade_app.command("replay")
@clear_errors
def replay_command(
    ctx: typer.Context,
    start: str = typer.Option(..., "--from", help="First session (YYYY-MM-DD)."),
    end: str = typer.Option(..., "--to", help="Last session (YYYY-MM-DD)."),
    strategy: Strategies = None,
    as_json: AsJson = False,
) -> None:
    """Run every session from --from to --to through the pipeline."""
    from stocker.trading.days import replay_from_files

    application = app_of(ctx)
    reports = replay_from_files(
        application.uow,
        _paths(strategy),
        _date(start, "--from"),
        _date(end, "--to"),
        _broker(application),
    )
    if as_json:
        typer.echo(json.dumps([_state_json(report) for report in reports], indent=2))
        return
    console.print(f"{len(reports)} sessions replayed")
    if reports:
        _print_day(reports[-1])


@trade_app.command("explain")
@clear_errors
def explain_command(
    ctx: typer.Context,
    order_id: str = typer.Argument(..., help="The order's UUID."),
    as_json: AsJson = False,
) -> None:
    """Walk an order back to its target, signal and bars, and say why its size is what it is."""
    from stocker.trading.explain import explain

    explanation = explain(app_of(ctx).uow(), order_id)
    if as_json:
        typer.echo(json.dumps(explanation.as_json(), indent=2))
    else:
        for line in explanation.lines():
            console.print(line, markup=False, highlight=False)


@trade_app.command("workers")
@clear_errors
def workers_command(
    ctx: typer.Context,
    stage: str | None = typer.Option(None, "--stage", help="Run one stage's group only."),
    processes: int = typer.Option(
        1, "--processes", min=1, help="Worker processes, each a member of every stage's group."
    ),
    batch: int = typer.Option(500, "--batch", min=1, help="Entries read per poll."),
    strategy: Strategies = None,
) -> None:
    """Run the stages as bus consumers until Ctrl-C (or SIGTERM); run `stocker bus relay` too."""
    import signal
    import threading

    from stocker.core.errors import ConfigError
    from stocker.trading.days import load_pipeline
    from stocker.trading.stages import GROUPS
    from stocker.trading.workers import process_name, run_processes, run_workers

    if stage is not None and stage not in GROUPS:
        raise ConfigError(f"--stage: unknown stage {stage!r}; expected one of {', '.join(GROUPS)}")
    application = app_of(ctx)
    paths = _paths(strategy)
    _, registry = load_pipeline(application.uow, paths, _broker(application))  # checks the files
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda signum, frame: stop.set())
    console.print(
        f"{processes} worker process(es) running {stage or 'every stage'}; Ctrl-C stops them"
    )
    try:
        if processes == 1:
            totals = run_workers(
                application.uow,
                application.redis,
                application.settings.bus(),
                registry,
                stop,
                stage=stage,
                name=process_name(0),
                batch=batch,
            )
            _print_totals(totals)
        else:
            arguments = (application.settings, [str(path) for path in paths], stage, batch)
            run_processes(_worker_process, arguments, processes, stop)
    except KeyboardInterrupt:
        stop.set()


def _worker_process(
    settings: Any, paths: list[str], stage: str | None, batch: int, index: int
) -> None:
    """One worker process of `stocker trade workers --processes N` (spawned: builds its own
    App, so no connection is shared with the parent)."""
    from stocker.bootstrap import build
    from stocker.trading.days import load_pipeline
    from stocker.trading.workers import process_name, run_workers, serve_until_signalled

    application = build(settings)
    try:
        _, registry = load_pipeline(
            application.uow, [Path(path) for path in paths], _broker(application)
        )
        serve_until_signalled(
            lambda stop: _print_totals(
                run_workers(
                    application.uow,
                    application.redis,
                    application.settings.bus(),
                    registry,
                    stop,
                    stage=stage,
                    name=process_name(index),
                    batch=batch,
                )
            )
        )
    finally:
        application.close()


def _print_totals(totals: list[Any]) -> None:
    """One line per consumer when a worker stops: what it applied and skipped."""
    for total in totals:
        typer.echo(
            f"stopped {total.name}: {total.processed} applied, {total.duplicates} already "
            f"done, {total.failed} failed",
        )
