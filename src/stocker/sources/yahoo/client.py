"""Yahoo's HTTP API as Stocker calls it: the chart and quoteSummary endpoints, the cookie and
crumb handshake quoteSummary needs, rate limits ridden out by the shared `RetryPolicy`, and
Yahoo's error shapes (`{"chart": {"error": ...}}`, HTTP status) turned into Stocker errors.

Since 2025 Yahoo answers HTTP 429 to clients whose TLS fingerprint is not a browser's, whatever
their User-Agent (yfinance issues #2422 and #2472; yfinance moved to curl_cffi in PR #2430). The
client therefore speaks through a `curl_cffi` session impersonating Chrome: TLS handshake,
HTTP/2 settings and default headers all Chrome's. The raw bytes of every answer are kept for
`source_hash`, as with any HTTP client.
"""

from __future__ import annotations

import contextlib
from collections.abc import Mapping
from datetime import UTC, date, datetime, timedelta
from typing import Any

from curl_cffi import requests as curl_requests
from curl_cffi.requests.exceptions import RequestException

from stocker.core.errors import SourceError, UnknownSymbolError
from stocker.sources.base import FetchRequest
from stocker.sources.http import RetryPolicy, error_for_status, unreachable
from stocker.sources.yahoo.common import VENDOR

DEFAULT_BASE_URL = "https://query1.finance.yahoo.com"
DEFAULT_COOKIE_URL = "https://fc.yahoo.com"
IMPERSONATE = "chrome"
"""curl_cffi's name for its newest Chrome profile: the fingerprint Yahoo sees."""
# Stocker interval -> Yahoo chart interval.
CHART_INTERVALS = {
    "1d": "1d",
    "1m": "1m",
    "2m": "2m",
    "5m": "5m",
    "15m": "15m",
    "30m": "30m",
    "1h": "60m",
    "90m": "90m",
}
# How far back Yahoo serves intraday bars (1m: 7 days per request, 1h: 730 days, others 60).
INTRADAY_LOOKBACK_DAYS = {"1m": 7, "1h": 729}
# yfinance asks for history from 1900 when no start is given (period="max").
EARLIEST_EPOCH_S = -2208994789
QUOTE_SUMMARY_MODULES = (
    "assetProfile",
    "summaryDetail",
    "defaultKeyStatistics",
    "financialData",
    "quoteType",
    "price",
)


Response = curl_requests.Response


def _headers(response: Response) -> dict[str, str]:
    return {str(name): str(value) for name, value in response.headers.items() if value is not None}


def _status_error(response: Response, what: str) -> SourceError | None:
    """The Stocker error for `response`'s HTTP status, or None for a success."""
    return error_for_status(
        vendor=VENDOR,
        status=response.status_code,
        headers=_headers(response),
        body=response.content,
        what=what,
    )


def _earliest(interval: str) -> int:
    """Where an open-ended request starts: all history for daily bars, Yahoo's window else."""
    if interval == "1d":
        return EARLIEST_EPOCH_S
    lookback = INTRADAY_LOOKBACK_DAYS.get(interval, 59)
    return int((datetime.now(UTC) - timedelta(days=lookback)).timestamp())


def _epoch_s(day: date) -> int:
    return int(datetime(day.year, day.month, day.day, tzinfo=UTC).timestamp())


class YahooClient:
    """One HTTP session with Yahoo (cookie and crumb included); returns raw response bodies.

    `session` is any `curl_cffi.requests.Session` (tests and proxies pass their own); by
    default one impersonating `impersonate` (Chrome), which is what keeps Yahoo from answering
    429 to every request.
    """

    def __init__(
        self,
        *,
        base_url: str,
        cookie_url: str,
        retry: RetryPolicy,
        timeout_s: float,
        impersonate: str = IMPERSONATE,
        session: curl_requests.Session | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.cookie_url = cookie_url
        self._retry = retry
        self._timeout_s = timeout_s
        self._owns_session = session is None
        # No User-Agent of our own: the impersonated browser's must match its fingerprint.
        self.session = session or curl_requests.Session(impersonate=impersonate)
        self._crumb: str | None = None

    def close(self) -> None:
        if self._owns_session:
            self.session.close()

    def _send(self, url: str, params: Mapping[str, Any] | None = None) -> Response:
        return self.session.get(
            url, params=dict(params or {}), timeout=self._timeout_s, allow_redirects=True
        )

    def _get(self, url: str, params: Mapping[str, Any], what: str) -> Response:
        def attempt() -> Response:
            try:
                response = self._send(url, params)
            except RequestException as error:
                raise unreachable(VENDOR, what, error) from error
            if response.status_code == 429:
                raise error_for_status(
                    vendor=VENDOR,
                    status=429,
                    headers=_headers(response),
                    body=response.content,
                    what=what,
                ) or SourceError(what)
            return response

        return self._retry.run(attempt)

    def get_chart(self, symbol: str, request: FetchRequest) -> bytes:
        """The chart response body for `symbol` (bars, dividends, splits) up to now."""
        params: dict[str, object] = {
            "period1": _epoch_s(request.start) if request.start else _earliest(request.interval),
            # Always up to now: Yahoo's prices are split-adjusted, and undoing that needs every
            # split after the first bar, not only those inside the requested range.
            "period2": int(datetime.now(UTC).timestamp()),
            "interval": CHART_INTERVALS[request.interval],
            "events": "div,splits",
            "includeAdjustedClose": "true",
            "includePrePost": "false",
        }
        what = f"{symbol} {request.interval} bars"
        response = self._get(f"{self.base_url}/v8/finance/chart/{symbol}", params, what)
        self._raise_for_chart_error(symbol, response, what)
        return response.content

    def _raise_for_chart_error(self, symbol: str, response: Response, what: str) -> None:
        """Turn Yahoo's `{"chart":{"result":null,"error":{...}}}` into the right error."""
        vendor_error: Mapping[str, Any] | None = None
        if "json" in response.headers.get("content-type", "") or response.content[:1] == b"{":
            try:
                payload = response.json()
            except ValueError:
                payload = None
            if isinstance(payload, Mapping):
                chart = payload.get("chart")
                if isinstance(chart, Mapping) and isinstance(chart.get("error"), Mapping):
                    vendor_error = chart["error"]
        if vendor_error is not None:
            code = str(vendor_error.get("code", ""))
            description = str(vendor_error.get("description", ""))
            if code == "Not Found" or response.status_code == 404:
                raise UnknownSymbolError(
                    f"{VENDOR} does not know symbol {symbol!r}: {description or code}"
                )
            raise SourceError(
                f"{VENDOR} rejected the request for {what} (HTTP {response.status_code}, "
                f"{code}): {description}"
            )
        error = _status_error(response, what)
        if error is not None:
            if response.status_code == 404:
                raise UnknownSymbolError(f"{VENDOR} does not know symbol {symbol!r}: {error}")
            raise error

    def _get_crumb(self, refresh: bool = False) -> str:
        """The anti-CSRF crumb quoteSummary needs, fetched after Yahoo sets its cookie."""
        if self._crumb is not None and not refresh:
            return self._crumb
        # The cookie host answers 404 but sets the session cookie the crumb is bound to.
        with contextlib.suppress(RequestException):
            self._send(self.cookie_url)
        what = "the quoteSummary crumb"
        response = self._get(f"{self.base_url}/v1/test/getcrumb", {}, what)
        error = _status_error(response, what)
        crumb = response.text.strip()
        if error is not None or not crumb or "<" in crumb or " " in crumb:
            raise SourceError(
                f"{VENDOR} did not hand out a crumb (HTTP {response.status_code}: "
                f"{response.text[:120]!r}); fundamentals need one"
            ) from error
        self._crumb = crumb
        return crumb

    def get_quote_summary(self, symbol: str) -> bytes:
        """The quoteSummary response body (profile and key statistics) for `symbol`."""
        what = f"{symbol} quoteSummary"
        url = f"{self.base_url}/v10/finance/quoteSummary/{symbol}"
        params = {
            "modules": ",".join(QUOTE_SUMMARY_MODULES),
            "formatted": "false",
            "corsDomain": "finance.yahoo.com",
            "symbol": symbol,
        }
        response = self._get(url, {**params, "crumb": self._get_crumb()}, what)
        if response.status_code == 401:
            # A stale crumb: Yahoo answers 401 "Invalid Crumb"; fetch a new one once.
            response = self._get(url, {**params, "crumb": self._get_crumb(refresh=True)}, what)
        payload: Any = None
        with contextlib.suppress(ValueError):
            payload = response.json()
        summary = payload.get("quoteSummary") if isinstance(payload, Mapping) else None
        if isinstance(summary, Mapping) and isinstance(summary.get("error"), Mapping):
            code = str(summary["error"].get("code", ""))
            description = str(summary["error"].get("description", ""))
            if code == "Not Found" or response.status_code == 404:
                raise UnknownSymbolError(f"{VENDOR} has no quote for {symbol!r}: {description}")
            raise SourceError(f"{VENDOR} rejected {what} ({code}): {description}")
        error = _status_error(response, what)
        if error is not None:
            raise error
        return response.content
