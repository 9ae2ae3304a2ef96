"""The interface every market-data source implements, and what it returns.

A source turns a vendor's wire format into plain DataFrames whose columns are the target tables'
column names. It validates nothing beyond parsing: validation and quarantine happen in one place
(`stocker.data.validation`) for every source alike. Every row carries `source` and `source_hash`
(SHA-256 of the raw payload it came from) so each stored fact can be traced to its bytes.

Vendor adapters never read the environment: the composition root (`stocker.bootstrap`) hands
each one its `Credentials`, and `require_credentials` words the error when there are none.
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date
from typing import TYPE_CHECKING, Protocol, runtime_checkable

import pandas as pd

from stocker.core.errors import SourceError
from stocker.core.tables import (
    CORPORATE_ACTIONS,
    INSTRUMENT_INFO,
    INSTRUMENT_METRICS,
    MARKET_SENTIMENT,
    METRIC_VALUE_COLUMNS,
    PRICES_DAILY,
    PRICES_INTRADAY,
    PROVENANCE_COLUMNS,
)

if TYPE_CHECKING:
    from stocker.config import Credentials

# The columns a source fills, from the one description of each table (`stocker.core.tables`).
DAILY_BAR_COLUMNS = PRICES_DAILY.columns
TRACE_COLUMNS = PROVENANCE_COLUMNS
"""Where a row came from: the source's name and the SHA-256 of its raw payload."""
INTRADAY_BAR_FIELDS = PRICES_INTRADAY.required
"""An intraday bar's facts: every one is required (`stocker.data.validation`)."""
INTRADAY_BAR_COLUMNS = PRICES_INTRADAY.columns
CORPORATE_ACTION_COLUMNS = CORPORATE_ACTIONS.columns
INSTRUMENT_COLUMNS = tuple(c for c in INSTRUMENT_INFO.columns if c not in PROVENANCE_COLUMNS)
"""The instrument master's facts, as `stocker.data.instruments` reads them back."""
INSTRUMENT_INFO_COLUMNS = INSTRUMENT_INFO.columns
DESCRIBED_INSTRUMENT_COLUMNS = (
    "symbol",
    "name",
    "sector",
    "industry",
    "exchange",
    "currency",
    *TRACE_COLUMNS,
)
"""What a fundamentals source tells about an instrument: no asset class or active flag, which
stay as the master has them."""
INSTRUMENT_METRICS_KEY_COLUMNS = INSTRUMENT_METRICS.key
INSTRUMENT_METRICS_VALUE_COLUMNS = METRIC_VALUE_COLUMNS
MARKET_SENTIMENT_COLUMNS = MARKET_SENTIMENT.columns


def payload_hash(payload: bytes) -> str:
    """SHA-256 hex digest of a raw vendor payload."""
    return hashlib.sha256(payload).hexdigest()


@dataclass(frozen=True)
class FetchRequest:
    """What to fetch: symbols, an inclusive date range, a bar interval ('1d', '1m', '5m', '1h')."""

    symbols: tuple[str, ...]
    start: date | None = None
    end: date | None = None
    interval: str = "1d"


@dataclass(frozen=True)
class RawReject:
    """A row the source could not even parse, kept verbatim with why."""

    table: str
    raw_row: dict[str, object]
    reasons: tuple[str, ...]
    row_number: int | None = None


@dataclass
class SourceBatch:
    """Everything one fetch produced, as frames keyed by target table name.

    Keys are table names (`prices_daily`, `prices_intraday`, `corporate_actions`,
    `instrument_info`, `instrument_metrics`, `market_sentiment`); a missing key means the source
    returned nothing of that kind.
    """

    source: str
    frames: dict[str, pd.DataFrame] = field(default_factory=dict)
    rejects: list[RawReject] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    # Requested symbols the vendor did not know; the batch still carries the others' rows.
    unknown_symbols: list[str] = field(default_factory=list)

    def frame(self, table: str) -> pd.DataFrame | None:
        return self.frames.get(table)


@runtime_checkable
class Source(Protocol):
    """A market-data source. Required: `name` and `fetch`."""

    name: str

    def fetch(self, request: FetchRequest) -> SourceBatch:
        """Fetch bars (and whatever else the vendor offers) for the request."""
        ...


@runtime_checkable
class LiveBarFeed(Protocol):
    """Bars as a vendor streams them. Required: `name` and `run`.

    `run` calls `sink(frame)` with one `prices_intraday` frame (`INTRADAY_BAR_COLUMNS`) per
    group of bars the vendor delivered together, on the calling thread, until `stop_event` is
    set; an exception from `sink` stops the feed and propagates from `run`.
    """

    name: str

    def run(
        self,
        symbols: Iterable[str],
        sink: Callable[[pd.DataFrame], None],
        stop_event: threading.Event,
    ) -> None:
        """Stream bars for `symbols` into `sink` until `stop_event` is set."""
        ...


@dataclass(frozen=True)
class CredentialNames:
    """The settings that hold a vendor's key pair, as error messages name them.

    `key` and `secret` are the plain names (``ALPACA_API_KEY``); Stocker's settings read
    them with the ``STOCKER_`` prefix and, for the vendors' own tools' sake, without it.
    """

    key: str
    secret: str

    @property
    def settings(self) -> tuple[str, str]:
        return f"STOCKER_{self.key}", f"STOCKER_{self.secret}"

    def __str__(self) -> str:
        key, secret = self.settings
        return f"{key} and {secret} (or {self.key} and {self.secret})"


def require_credentials(
    credentials: Credentials | None, names: CredentialNames, *, needs: str
) -> Credentials:
    """The key pair, or a `SourceError` saying which settings to set (never any secret)."""
    if credentials is None or not credentials.key or not credentials.secret:
        raise SourceError(f"{needs}: set {names}")
    return credentials
