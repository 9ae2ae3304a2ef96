"""The one place a source is chosen by name.

`get_source("yfinance")`, `get_source("csv", path="bars.csv", table="prices_daily")`, ...
Vendor modules are imported only when their source is asked for, so listing or using the file
sources never loads alpaca-py or kiteconnect.
"""

from __future__ import annotations

import importlib
import inspect
from datetime import date
from typing import Any

from stocker.core.errors import SourceError
from stocker.sources.base import Source

# name -> (module, class, fixed options)
SOURCES: dict[str, tuple[str, str, dict[str, Any]]] = {
    "yfinance": ("stocker.sources.yahoo", "YahooSource", {}),
    "alpaca": ("stocker.sources.alpaca", "AlpacaSource", {}),
    "kite": ("stocker.sources.kite", "KiteSource", {}),
    "csv": ("stocker.sources.files", "FileSource", {"format": "csv"}),
    "parquet": ("stocker.sources.files", "FileSource", {"format": "parquet"}),
    "screener-in": ("stocker.sources.screener_in", "ScreenerInSource", {}),
}
SOURCE_NAMES = tuple(SOURCES)
ALIASES = {
    "yahoo": "yfinance",
    "zerodha": "kite",
    "screener": "screener-in",
    "screener_in": "screener-in",
    "screenerin": "screener-in",
}
DATE_OPTIONS = {"as_of"}


def source_name(name: str) -> str:
    """The registered name for `name` (case-insensitive, common aliases accepted)."""
    key = name.strip().lower()
    key = ALIASES.get(key, key)
    if key not in SOURCES:
        raise SourceError(f"unknown source {name!r}; valid names: {', '.join(SOURCE_NAMES)}")
    return key


def get_source(name: str, **options: Any) -> Source:
    """Build the source called `name` with its options.

    Raises `SourceError` for an unknown name (listing the valid ones), an option the source
    does not take (listing those it does), or whatever the source itself refuses (missing
    credentials, a missing file, a missing `as_of`).
    """
    key = source_name(name)
    module_name, class_name, fixed = SOURCES[key]
    source_class = getattr(importlib.import_module(module_name), class_name)
    parameters = inspect.signature(source_class.__init__).parameters
    accepted = [p for p in parameters if p != "self" and p not in fixed]
    unknown = sorted(set(options) - set(accepted))
    if unknown:
        raise SourceError(
            f"source {key!r} does not take option(s) {', '.join(unknown)}; "
            f"it takes: {', '.join(accepted)}"
        )
    for option in DATE_OPTIONS & set(options):
        if isinstance(options[option], str):
            try:
                options[option] = date.fromisoformat(options[option])
            except ValueError as error:
                raise SourceError(
                    f"option {option}={options[option]!r} is not a date (expected YYYY-MM-DD)"
                ) from error
    required = [
        p.name
        for p in parameters.values()
        if p.name != "self"
        and p.default is inspect.Parameter.empty
        and p.kind is not inspect.Parameter.VAR_KEYWORD
        and p.name not in options
    ]
    if required:
        raise SourceError(f"source {key!r} needs option(s) {', '.join(required)}")
    return source_class(**fixed, **options)
