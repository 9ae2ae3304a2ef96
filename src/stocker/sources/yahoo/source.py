"""Yahoo Finance: daily and intraday bars, splits, dividends, profile and fundamentals.

The source is named `yfinance` after the library its users know, but it speaks Yahoo's HTTP API
directly (through curl_cffi, impersonating Chrome: Yahoo refuses non-browser TLS fingerprints
with HTTP 429), calling the same endpoints yfinance calls (`/v8/finance/chart` with
`events=div,splits&includeAdjustedClose=true`, `/v10/finance/quoteSummary` with the modules behind
`Ticker.info`, after the cookie + `/v1/test/getcrumb` handshake). yfinance hard-codes Yahoo's
hosts and keeps process-wide caches; speaking HTTP ourselves lets the base URL be configured,
keeps the raw bytes each row came from (for `source_hash`), and maps every error shape onto
`stocker.core.errors`.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import date

from curl_cffi import requests as curl_requests

from stocker.core.errors import RateLimitedError, SourceError, UnknownSymbolError
from stocker.sources.base import DESCRIBED_INSTRUMENT_COLUMNS, FetchRequest, SourceBatch
from stocker.sources.frames import (
    corporate_actions_frame,
    daily_bars_frame,
    intraday_bars_frame,
    records_frame,
)
from stocker.sources.http import RetryPolicy
from stocker.sources.yahoo.chart import parse_chart
from stocker.sources.yahoo.client import (
    CHART_INTERVALS,
    DEFAULT_BASE_URL,
    DEFAULT_COOKIE_URL,
    IMPERSONATE,
    YahooClient,
)
from stocker.sources.yahoo.common import SOURCE_NAME, VENDOR
from stocker.sources.yahoo.fundamentals import METRIC_COLUMNS, parse_quote_summary


class YahooSource:
    """Yahoo Finance over HTTP (the `yfinance` source).

    Parameters
    ----------
    base_url, cookie_url
        Where Yahoo's API and its cookie host live (overridable for proxies and tests).
    fundamentals
        Also fetch `quoteSummary` for `instrument_info` (sector/industry) and
        `instrument_metrics`; one extra request (plus a crumb handshake) per symbol.
    as_of
        The `as_of_date` of the metrics rows; default today.
    retries, max_retry_wait_s, backoff_s
        How to ride out HTTP 429 (honouring Retry-After, giving up past `max_retry_wait_s`).
    impersonate, session
        The browser curl_cffi impersonates (default Chrome), or a ready `curl_cffi` session
        (a proxy's, a test's) used as it is.
    """

    name = SOURCE_NAME

    def __init__(
        self,
        *,
        base_url: str = DEFAULT_BASE_URL,
        cookie_url: str = DEFAULT_COOKIE_URL,
        fundamentals: bool = True,
        as_of: date | None = None,
        retries: int = 2,
        max_retry_wait_s: float = 60.0,
        backoff_s: float = 1.0,
        timeout_s: float = 30.0,
        impersonate: str = IMPERSONATE,
        session: curl_requests.Session | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.fundamentals = fundamentals
        self.as_of = as_of
        self._client = YahooClient(
            base_url=base_url,
            cookie_url=cookie_url,
            retry=RetryPolicy(retries, max_retry_wait_s, backoff_s, sleep),
            timeout_s=timeout_s,
            impersonate=impersonate,
            session=session,
        )

    def close(self) -> None:
        self._client.close()

    # -- fetch ---------------------------------------------------------------------------------

    def fetch(self, request: FetchRequest) -> SourceBatch:
        """Bars, corporate actions and (optionally) profile and fundamentals for each symbol.

        Unknown symbols are listed in `unknown_symbols` (and a warning); if every requested
        symbol is unknown the fetch raises `UnknownSymbolError`.
        """
        if request.interval not in CHART_INTERVALS:
            raise SourceError(
                f"{SOURCE_NAME}: interval {request.interval!r} is not supported; "
                f"expected one of {sorted(CHART_INTERVALS)}"
            )
        batch = SourceBatch(source=SOURCE_NAME)
        bars: list[dict[str, object]] = []
        actions: list[dict[str, object]] = []
        info: dict[str, dict[str, object]] = {}
        metrics: list[dict[str, object]] = []
        for symbol in request.symbols:
            try:
                body = self._client.get_chart(symbol, request)
            except UnknownSymbolError as error:
                batch.unknown_symbols.append(symbol)
                batch.warnings.append(str(error))
                continue
            chart = parse_chart(symbol, body, request, batch)
            bars.extend(chart.bars)
            actions.extend(chart.actions)
            info[symbol] = chart.info
            if self.fundamentals:
                self._add_fundamentals(symbol, info, metrics, batch)
        if request.symbols and len(batch.unknown_symbols) == len(request.symbols):
            raise UnknownSymbolError(
                f"{VENDOR} knows none of the requested symbols: {'; '.join(batch.warnings)}"
            )
        table = "prices_daily" if request.interval == "1d" else "prices_intraday"
        batch.frames[table] = (
            daily_bars_frame(bars) if table == "prices_daily" else intraday_bars_frame(bars)
        )
        batch.frames["corporate_actions"] = corporate_actions_frame(actions)
        batch.frames["instrument_info"] = records_frame(info.values(), DESCRIBED_INSTRUMENT_COLUMNS)
        if self.fundamentals:
            batch.frames["instrument_metrics"] = records_frame(metrics, METRIC_COLUMNS)
        return batch

    def _add_fundamentals(
        self,
        symbol: str,
        info: dict[str, dict[str, object]],
        metrics: list[dict[str, object]],
        batch: SourceBatch,
    ) -> None:
        try:
            body = self._client.get_quote_summary(symbol)
        except RateLimitedError:
            raise
        except SourceError as error:
            # Prices are worth keeping when only the profile failed; say so loudly.
            batch.warnings.append(f"{symbol}: fundamentals skipped: {error}")
            return
        profile, metric_row = parse_quote_summary(symbol, body, self.as_of)
        info[symbol] = {**info[symbol], **{k: v for k, v in profile.items() if v is not None}}
        metrics.append(metric_row)
