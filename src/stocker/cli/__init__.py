"""The `stocker` command line: parses, calls one use case, renders. No SQL, no math.

Every module in this package registers its commands on the apps of `stocker.cli.app`; they are
all imported here so adding a command is adding a module. They import only Typer and Rich at
module level (use cases are imported inside each command), so `stocker --help` is instant.
"""

from __future__ import annotations

import importlib
import pkgutil

from stocker.cli.app import app

for _module in pkgutil.iter_modules(__path__):
    if _module.name not in {"app", "errors", "render"}:
        importlib.import_module(f"{__name__}.{_module.name}")

__all__ = ["app", "main"]


def main() -> None:
    """Entry point of the `stocker` script: whatever escapes a command is one line, not a
    traceback (commands already turn their own failures into `error: …`)."""
    from stocker.cli.errors import _clear_errors

    with _clear_errors():
        app()
