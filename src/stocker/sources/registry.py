"""The one place a source (or a live feed) is chosen by name.

`get_source("yfinance")`, `get_source("csv", path="bars.csv", table="prices_daily")`, ...
Vendor modules are imported only when their source is asked for, so listing or using the file
sources never loads alpaca-py or kiteconnect. A source that takes `credentials` gets
`credentials(<registered name>)` from the caller (the composition root passes
`App.credentials`, which reads them from the settings); nothing here reads the environment.
"""

from __future__ import annotations

import importlib
import inspect
from collections.abc import Callable
from datetime import date
from typing import TYPE_CHECKING, Any

from stocker.core.errors import SourceError
from stocker.sources.base import LiveBarFeed, Source
from stocker.sources.news import LiveNewsFeed, NewsSource

if TYPE_CHECKING:
    from stocker.config import Credentials

CredentialLookup = Callable[[str], "Credentials | None"]
"""vendor name -> its key pair, if configured (`stocker.bootstrap.App.credentials`)."""

# name -> (module, class, fixed options)
SOURCES: dict[str, tuple[str, str, dict[str, Any]]] = {
    "yfinance": ("stocker.sources.yahoo", "YahooSource", {}),
    "alpaca": ("stocker.sources.alpaca.historical", "AlpacaSource", {}),
    "kite": ("stocker.sources.kite", "KiteSource", {}),
    "csv": ("stocker.sources.files", "FileSource", {"format": "csv"}),
    "parquet": ("stocker.sources.files", "FileSource", {"format": "parquet"}),
    "screener-in": ("stocker.sources.screener_in", "ScreenerInSource", {}),
}
SOURCE_NAMES = tuple(SOURCES)
LIVE_FEEDS: dict[str, tuple[str, str]] = {
    "alpaca": ("stocker.sources.alpaca.stream", "AlpacaLiveFeed"),
}
NEWS_SOURCES: dict[str, tuple[str, str]] = {
    "alpaca": ("stocker.sources.alpaca.news", "AlpacaNewsSource"),
    "file": ("stocker.sources.files.news", "NewsFileSource"),
}
LIVE_NEWS_FEEDS: dict[str, tuple[str, str]] = {
    "alpaca": ("stocker.sources.alpaca.news", "AlpacaNewsFeed"),
}
CREDENTIALS_PARAMETER = "credentials"
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


def get_source(name: str, credentials: CredentialLookup | None = None, **options: Any) -> Source:
    """Build the source called `name` with its options.

    Raises `SourceError` for an unknown name (listing the valid ones), an option the source
    does not take (listing those it does), or whatever the source itself refuses (missing
    credentials, a missing file, a missing `as_of`).
    """
    key = source_name(name)
    module_name, class_name, fixed = SOURCES[key]
    source_class = getattr(importlib.import_module(module_name), class_name)
    return _build(key, source_class, fixed, credentials, options)


def get_live_feed(
    name: str = "alpaca", credentials: CredentialLookup | None = None, **options: Any
) -> LiveBarFeed:
    """Build the live bar feed called `name` (today only ``alpaca``) with its options."""
    key = ALIASES.get(name.strip().lower(), name.strip().lower())
    if key not in LIVE_FEEDS:
        raise SourceError(f"no live feed {name!r}; valid names: {', '.join(LIVE_FEEDS)}")
    module_name, class_name = LIVE_FEEDS[key]
    feed_class = getattr(importlib.import_module(module_name), class_name)
    return _build(key, feed_class, {}, credentials, options)


def get_news_source(
    name: str, credentials: CredentialLookup | None = None, **options: Any
) -> NewsSource:
    """Build the news source called `name` (``alpaca``, or ``file`` with ``path``)."""
    key = name.strip().lower()
    if key not in NEWS_SOURCES:
        raise SourceError(f"no news source {name!r}; valid names: {', '.join(NEWS_SOURCES)}")
    module_name, class_name = NEWS_SOURCES[key]
    source_class = getattr(importlib.import_module(module_name), class_name)
    return _build(key, source_class, {}, credentials, options)


def get_live_news_feed(
    name: str = "alpaca", credentials: CredentialLookup | None = None, **options: Any
) -> LiveNewsFeed:
    """Build the live news feed called `name` (today only ``alpaca``)."""
    key = name.strip().lower()
    if key not in LIVE_NEWS_FEEDS:
        raise SourceError(f"no live news feed {name!r}; valid names: {', '.join(LIVE_NEWS_FEEDS)}")
    module_name, class_name = LIVE_NEWS_FEEDS[key]
    feed_class = getattr(importlib.import_module(module_name), class_name)
    return _build(key, feed_class, {}, credentials, options)


def _build(
    key: str,
    adapter_class: type,
    fixed: dict[str, Any],
    credentials: CredentialLookup | None,
    options: dict[str, Any],
) -> Any:
    """`adapter_class(**fixed, **options)`, options checked against its signature, with the
    vendor's credentials when it takes them."""
    parameters = inspect.signature(adapter_class).parameters
    takes_credentials = CREDENTIALS_PARAMETER in parameters
    accepted = [
        p for p in parameters if p not in {"self", CREDENTIALS_PARAMETER} and p not in fixed
    ]
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
        if p.name not in {"self", CREDENTIALS_PARAMETER}
        and p.default is inspect.Parameter.empty
        and p.kind is not inspect.Parameter.VAR_KEYWORD
        and p.name not in options
    ]
    if required:
        raise SourceError(f"source {key!r} needs option(s) {', '.join(required)}")
    if takes_credentials:
        options = {**options, CREDENTIALS_PARAMETER: credentials(key) if credentials else None}
    return adapter_class(**fixed, **options)
