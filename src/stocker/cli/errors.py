"""Turn Stocker's own errors into one clear line and a non-zero exit, not a traceback."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import wraps
from typing import ParamSpec, TypeVar

import typer

from stocker.cli.app import err_console
from stocker.core.errors import StockerError

P = ParamSpec("P")
R = TypeVar("R")


@contextmanager
def _clear_errors() -> Iterator[None]:
    try:
        yield
    except StockerError as exc:
        err_console.print(f"[bold red]error:[/] {exc}")
        raise typer.Exit(code=2) from exc


def clear_errors(func: Callable[P, R]) -> Callable[P, R]:
    """Decorate a command so a StockerError prints as `error: …` and exits with status 2."""

    @wraps(func)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        with _clear_errors():
            return func(*args, **kwargs)

    return wrapper
