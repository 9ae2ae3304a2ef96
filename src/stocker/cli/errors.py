"""No traceback ever reaches a user: every failure becomes one clear line and a non-zero exit.

Stocker's own errors (`StockerError`) print their message; infrastructure failures (database
unreachable or not migrated, Redis unreachable) are described by the composition root with a hint;
anything else is a bug, printed as one line that says how to see the traceback
(`STOCKER_DEBUG=1`).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import wraps
from typing import Any, ParamSpec, TypeVar

import typer
from rich.markup import escape

from stocker.cli.app import err_console
from stocker.core.errors import StockerError

P = ParamSpec("P")
R = TypeVar("R")
EXIT_ERROR = 2
EXIT_BUG = 3


def describe(exc: BaseException, context: Any = None) -> tuple[str, int]:
    """The line to print for `exc` and the exit status (`context`: the command's, if known)."""
    if isinstance(exc, StockerError):
        return str(exc), EXIT_ERROR
    app = context.find_root().obj if context is not None else None
    from stocker.bootstrap import App, build

    found = (app if isinstance(app, App) else build()).describe_failure(exc)
    if found:
        return found, EXIT_ERROR
    first_line = (str(exc).strip().splitlines() or [""])[0]
    return (
        f"unexpected {type(exc).__name__}: {first_line} (a bug in Stocker; set STOCKER_DEBUG=1 "
        "to see the traceback)",
        EXIT_BUG,
    )


@contextmanager
def _clear_errors(context: Any = None) -> Iterator[None]:
    try:
        yield
    except (typer.Exit, typer.Abort, typer.TyperException, KeyboardInterrupt):
        raise  # Typer's own: usage errors, bad parameters and exits print themselves
    except Exception as exc:
        if os.environ.get("STOCKER_DEBUG"):
            raise
        message, code = describe(exc, context)
        err_console.print(f"[bold red]error:[/] {escape(message)}", highlight=False, soft_wrap=True)
        raise typer.Exit(code=code) from exc


def clear_errors(func: Callable[P, R]) -> Callable[P, R]:
    """Decorate a command so any failure prints as `error: …` (status 2, or 3 for a bug)."""

    @wraps(func)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        # Typer hands commands its own click Context (not a `typer.Context` instance)
        found = [kwargs.get("ctx"), *args]
        context = next((arg for arg in found if hasattr(arg, "find_root")), None)
        with _clear_errors(context):
            return func(*args, **kwargs)

    return wrapper
