"""`stocker api-key create|list|revoke`: the API's keys (the secret is shown once, at creation)."""

from __future__ import annotations

import json
from typing import Annotated

import typer

from stocker.cli.app import app, app_of, console
from stocker.cli.errors import clear_errors

api_key_app = typer.Typer(help="API keys: create (shown once), list, revoke.")
app.add_typer(api_key_app, name="api-key")

AsJson = Annotated[bool, typer.Option("--json", help="Print the result as JSON.")]


@api_key_app.command("create")
@clear_errors
def create(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="What the key is for (shown in `list`).")],
    scope: Annotated[
        list[str],
        typer.Option("--scope", help="read, research, trade or admin (repeatable)."),
    ] = ["read"],  # noqa: B006 - Typer reads the default, it is never mutated
    as_json: AsJson = False,
) -> None:
    """Issue a key with its scopes; the key is printed once and only its hash is stored."""
    from stocker.api.auth import create_key

    key, info = create_key(app_of(ctx), name, scope)
    if as_json:
        typer.echo(json.dumps({"key": key, "key_id": info.key_id, "scopes": list(info.scopes)}))
        return
    console.print(f"key {info.key_id} ({', '.join(info.scopes)}) for {info.name!r}:", markup=False)
    typer.echo(key)
    console.print("store it now: it is not shown again (only its hash is kept)")


@api_key_app.command("list")
@clear_errors
def list_command(ctx: typer.Context, as_json: AsJson = False) -> None:
    """Keys with their scopes, creation, last use and revocation (never the secret)."""
    from rich.table import Table

    from stocker.api.auth import list_keys

    keys = list_keys(app_of(ctx))
    if as_json:
        rows = [
            {
                "key_id": key.key_id,
                "name": key.name,
                "scopes": list(key.scopes),
                "created_at": key.created_at.isoformat(),
                "last_used_at": key.last_used_at.isoformat() if key.last_used_at else None,
                "revoked_at": key.revoked_at.isoformat() if key.revoked_at else None,
            }
            for key in keys
        ]
        typer.echo(json.dumps(rows, indent=2))
        return
    table = Table(title="API keys")
    for column in ("key id", "name", "scopes", "created", "last used", "revoked"):
        table.add_column(column)
    for key in keys:
        table.add_row(
            key.key_id,
            key.name,
            ", ".join(key.scopes),
            f"{key.created_at:%Y-%m-%d %H:%M}",
            f"{key.last_used_at:%Y-%m-%d %H:%M}" if key.last_used_at else "",
            f"{key.revoked_at:%Y-%m-%d %H:%M}" if key.revoked_at else "",
        )
    console.print(table)


@api_key_app.command("revoke")
@clear_errors
def revoke(
    ctx: typer.Context,
    key_id: Annotated[str, typer.Argument(help="The key's id (from `list`) or the whole key.")],
) -> None:
    """Revoke a key: every request with it is refused from now on."""
    from stocker.api.auth import revoke_key

    revoke_key(app_of(ctx), key_id)
    console.print("key revoked")
