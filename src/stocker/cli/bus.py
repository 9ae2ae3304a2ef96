"""`stocker bus relay|status|dead-letters`."""

from __future__ import annotations

import threading

import typer

from stocker.cli.app import app, app_of, console
from stocker.cli.errors import clear_errors

bus_app = typer.Typer(help="Redis Streams bus: outbox relay, stream status, dead letters.")
app.add_typer(bus_app, name="bus")


@bus_app.command("relay")
@clear_errors
def relay(
    ctx: typer.Context,
    once: bool = typer.Option(False, "--once", help="One pass (recover + publish), then exit."),
    poll_interval_s: float = typer.Option(
        0.5, "--poll-interval-s", help="Idle wait between passes."
    ),
    batch_size: int = typer.Option(500, "--batch-size", min=1, help="Outbox rows per transaction."),
) -> None:
    """Publish the outbox to Redis, republishing whatever Redis lost; runs until Ctrl-C."""
    outbox_relay = app_of(ctx).bus().relay()
    if once:
        report = outbox_relay.run_once(batch_size)
        console.print(f"republished {report.recovered} lost events, published {report.published}")
        return
    stop = threading.Event()
    console.print("relaying the outbox to Redis; Ctrl-C stops")
    try:
        outbox_relay.run(
            stop,
            poll_interval_s=poll_interval_s,
            batch_size=batch_size,
            on_wait=lambda reason: console.print(
                f"waiting: {reason}", markup=False, highlight=False, style="yellow"
            ),
        )
    except KeyboardInterrupt:
        stop.set()
        console.print("stopped")


@bus_app.command("status")
@clear_errors
def status(ctx: typer.Context) -> None:
    """Per stream: entries, consumer groups, pending messages, unpublished outbox rows."""
    from rich.table import Table

    bus = app_of(ctx).bus()
    settings = bus.settings
    prefix = f" (keys prefixed {settings.stream_prefix!r})" if settings.stream_prefix else ""
    table = Table(title=f"Bus streams{prefix}")
    for column in ("stream", "length", "groups", "pending", "unpublished", "dead letters"):
        left = column in ("stream", "groups")
        table.add_column(column, justify="left" if left else "right", no_wrap=column == "stream")
    for item in bus.status():
        groups = ", ".join(f"{group.name} ({group.pending})" for group in item.groups)
        table.add_row(
            item.stream,
            str(item.length),
            groups or "-",
            str(item.pending),
            str(item.unpublished),
            str(item.dead_letters),
        )
    console.print(table)
    obstacle = bus.obstacle()
    if obstacle:
        console.print(f"relay waiting: {obstacle}", markup=False, highlight=False, style="yellow")


@bus_app.command("dead-letters")
@clear_errors
def list_dead_letters(
    ctx: typer.Context,
    stream: str | None = typer.Argument(None, help="A stream such as market-bars; all if omitted."),
    limit: int = typer.Option(20, "--limit", min=1, help="Newest entries per stream."),
    max_chars: int = typer.Option(
        300, "--max-chars", min=0, help="Cut longer fields, showing their size (0: in full)."
    ),
) -> None:
    """List dead-lettered messages with the error that sent them there."""
    letters = [letter.cut(max_chars) for letter in app_of(ctx).bus().dead_letters(stream, limit)]
    if not letters:
        console.print("no dead letters")
        return
    for letter in letters:
        console.print(
            f"{letter.stream} {letter.message_id or letter.dead_letter_id}  group "
            f"{letter.group or '-'}  deliveries {letter.deliveries}  at {letter.dead_at}",
            style="bold",
            markup=False,
            highlight=False,
        )
        console.print(f"  error: {letter.error}", markup=False, highlight=False, soft_wrap=True)
        for name, value in letter.fields.items():
            console.print(f"  {name}: {value}", markup=False, highlight=False, soft_wrap=True)
