"""The `stocker` command line: parses, calls one use case, renders. No SQL, no math.

Every module in this package registers its commands on the apps of `stocker.cli.app`;
they are all imported here so adding a command is adding a module.
"""

from __future__ import annotations

import importlib
import pkgutil

from stocker.cli.app import app

for _module in pkgutil.iter_modules(__path__):
    if _module.name not in {"app", "errors"}:
        importlib.import_module(f"{__name__}.{_module.name}")

__all__ = ["app", "main"]


def main() -> None:
    """Entry point of the `stocker` script."""
    app()
