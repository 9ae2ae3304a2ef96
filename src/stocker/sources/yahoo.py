"""Yahoo Finance: daily and intraday bars, splits, dividends, profile and fundamentals.

The source is named `yfinance` after the library its users know, but it speaks Yahoo's HTTP API
directly with httpx, calling the same endpoints yfinance calls (`/v8/finance/chart` with
`events=div,splits&includeAdjustedClose=true`, `/v10/finance/quoteSummary` with the modules behind
`Ticker.info`, after the cookie + `/v1/test/getcrumb` handshake). yfinance hard-codes Yahoo's
hosts and keeps process-wide caches; speaking HTTP ourselves lets the base URL be configured,
keeps the raw bytes each row came from (for `source_hash`), and maps every error shape onto
`stocker.core.errors`.
"""

from __future__ import annotations

import contextlib
import math
import time
from collections.abc import Callable, Mapping
from datetime import UTC, date, datetime, timedelta, timezone, tzinfo
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import httpx

from stocker.core.errors import RateLimitedError, SourceError, UnknownSymbolError
from stocker.sources.base import (
    DESCRIBED_INSTRUMENT_COLUMNS,
    FetchRequest,
    RawReject,
    SourceBatch,
    payload_hash,
)
from stocker.sources.frames import (
    corporate_actions_frame,
    daily_bars_frame,
    intraday_bars_frame,
    records_frame,
)
from stocker.sources.http import (
    decode_json,
    error_for_status,
    with_rate_limit_retries,
)

SOURCE_NAME = "yfinance"
VENDOR = "Yahoo Finance"
DEFAULT_BASE_URL = "https://query1.finance.yahoo.com"
DEFAULT_COOKIE_URL = "https://fc.yahoo.com"
# A browser-like agent: Yahoo answers 429 to obvious scripts more readily.
USER_AGENT = (
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/124.0 Safari/537.36"
)
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
# Yahoo exchange codes -> the exchange names Stocker's calendars understand.
EXCHANGES = {
    "NMS": "NASDAQ",
    "NGM": "NASDAQ",
    "NCM": "NASDAQ",
    "NAS": "NASDAQ",
    "NASDAQ": "NASDAQ",
    "NYQ": "NYSE",
    "NYSE": "NYSE",
    "PCX": "NYSEARCA",
    "ARCA": "NYSEARCA",
    "ASE": "AMEX",
    "AMEX": "AMEX",
    "BTS": "BATS",
    "NSI": "NSE",
    "NSE": "NSE",
    "BSE": "BSE",
    "BOM": "BSE",
}


def _percent_to_fraction(value: float) -> float:
    return value / 100.0


def _yield_to_fraction(value: float) -> float:
    # summaryDetail gives a fraction; Yahoo's v7 quote (and so recent `Ticker.info`) a percent.
    # No dividend yield exceeds 100 %, so a value above 1 can only be a percent.
    return value / 100.0 if value > 1.0 else value


# instrument_metrics column <- (Yahoo field as in `Ticker.info`, modules to look in, transform)
METRIC_FIELDS: tuple[tuple[str, str, tuple[str, ...], Callable[[float], float] | None], ...] = (
    ("market_cap", "marketCap", ("price", "summaryDetail"), None),
    ("enterprise_value", "enterpriseValue", ("defaultKeyStatistics",), None),
    ("shares_outstanding", "sharesOutstanding", ("defaultKeyStatistics",), None),
    ("float_shares", "floatShares", ("defaultKeyStatistics",), None),
    ("beta", "beta", ("summaryDetail", "defaultKeyStatistics"), None),
    ("pe_ttm", "trailingPE", ("summaryDetail",), None),
    ("pe_forward", "forwardPE", ("summaryDetail", "defaultKeyStatistics"), None),
    ("price_to_book", "priceToBook", ("defaultKeyStatistics",), None),
    ("price_to_sales", "priceToSalesTrailing12Months", ("summaryDetail",), None),
    ("peg_ratio", "pegRatio", ("defaultKeyStatistics",), None),
    ("peg_ratio", "trailingPegRatio", ("defaultKeyStatistics",), None),
    ("ev_to_ebitda", "enterpriseToEbitda", ("defaultKeyStatistics",), None),
    ("dividend_yield", "dividendYield", ("summaryDetail",), _yield_to_fraction),
    ("dividend_rate", "dividendRate", ("summaryDetail",), None),
    ("payout_ratio", "payoutRatio", ("summaryDetail",), None),
    ("revenue", "totalRevenue", ("financialData",), None),
    ("ebitda", "ebitda", ("financialData",), None),
    ("net_income", "netIncomeToCommon", ("defaultKeyStatistics",), None),
    ("free_cash_flow", "freeCashflow", ("financialData",), None),
    ("gross_margin", "grossMargins", ("financialData",), None),
    ("operating_margin", "operatingMargins", ("financialData",), None),
    ("net_margin", "profitMargins", ("financialData", "defaultKeyStatistics"), None),
    ("ebitda_margin", "ebitdaMargins", ("financialData",), None),
    ("roe", "returnOnEquity", ("financialData",), None),
    ("roa", "returnOnAssets", ("financialData",), None),
    ("revenue_growth_yoy", "revenueGrowth", ("financialData",), None),
    ("earnings_growth_yoy", "earningsGrowth", ("financialData",), None),
    ("debt_to_equity", "debtToEquity", ("financialData",), _percent_to_fraction),
    ("current_ratio", "currentRatio", ("financialData",), None),
    ("quick_ratio", "quickRatio", ("financialData",), None),
)
METRIC_COLUMNS = (
    "symbol",
    "as_of_date",
    "period_type",
    "source",
    "currency",
    *dict.fromkeys(column for column, *_ in METRIC_FIELDS),
    "fcf_yield",
    "sector",
    "industry",
    "source_hash",
)


def _raw(value: Any) -> Any:
    """A quoteSummary value: plain with `formatted=false`, `{"raw":..,"fmt":..}` otherwise."""
    if isinstance(value, Mapping):
        return value.get("raw")
    return value


def _number(value: Any) -> float | None:
    value = _raw(value)
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    number = float(value)
    return number if math.isfinite(number) else None


def _exchange(code: str | None) -> str | None:
    if not code:
        return None
    return EXCHANGES.get(code.upper(), code)


def _status_error(response: httpx.Response, what: str) -> SourceError | None:
    """The Stocker error for `response`'s HTTP status, or None for a success."""
    return error_for_status(
        vendor=VENDOR,
        status=response.status_code,
        headers=response.headers,
        body=response.content,
        what=what,
    )


def _earliest(interval: str) -> int:
    """Where an open-ended request starts: all history for daily bars, Yahoo's window else."""
    if interval == "1d":
        return EARLIEST_EPOCH_S
    lookback = INTRADAY_LOOKBACK_DAYS.get(interval, 59)
    return int((datetime.now(UTC) - timedelta(days=lookback)).timestamp())


def _within(day: date, request: FetchRequest) -> bool:
    return (request.start is None or day >= request.start) and (
        request.end is None or day <= request.end
    )


def _split_factor_after(day: date, splits: list[dict[str, object]]) -> float:
    """Product of the ratios of the splits that take effect after `day`."""
    factor = 1.0
    for split in splits:
        if split["date"] > day:  # type: ignore[operator]
            factor *= split["value"]  # type: ignore[operator]
    return factor


def _epoch_s(day: date) -> int:
    return int(datetime(day.year, day.month, day.day, tzinfo=UTC).timestamp())


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
        transport: httpx.BaseTransport | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.cookie_url = cookie_url
        self.fundamentals = fundamentals
        self.as_of = as_of
        self.retries = retries
        self.max_retry_wait_s = max_retry_wait_s
        self.backoff_s = backoff_s
        self._sleep = sleep
        self._client = httpx.Client(
            timeout=timeout_s,
            transport=transport,
            headers={"User-Agent": USER_AGENT, "Accept": "application/json,text/plain,*/*"},
            follow_redirects=True,
        )
        self._crumb: str | None = None

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
                body = self._get_chart(symbol, request)
            except UnknownSymbolError as error:
                batch.unknown_symbols.append(symbol)
                batch.warnings.append(str(error))
                continue
            chart = self._parse_chart(symbol, body, request, batch)
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
            body = self._get_quote_summary(symbol)
        except RateLimitedError:
            raise
        except SourceError as error:
            # Prices are worth keeping when only the profile failed; say so loudly.
            batch.warnings.append(f"{symbol}: fundamentals skipped: {error}")
            return
        profile, metric_row = self._parse_quote_summary(symbol, body)
        info[symbol] = {**info[symbol], **{k: v for k, v in profile.items() if v is not None}}
        metrics.append(metric_row)

    # -- HTTP ----------------------------------------------------------------------------------

    def _get(self, url: str, params: Mapping[str, Any], what: str) -> httpx.Response:
        def attempt() -> httpx.Response:
            try:
                response = self._client.get(url, params=dict(params))
            except httpx.HTTPError as error:
                raise SourceError(f"{VENDOR} could not be reached for {what}: {error}") from error
            if response.status_code == 429:
                raise error_for_status(
                    vendor=VENDOR,
                    status=429,
                    headers=response.headers,
                    body=response.content,
                    what=what,
                ) or SourceError(what)
            return response

        return with_rate_limit_retries(
            attempt,
            retries=self.retries,
            max_wait_s=self.max_retry_wait_s,
            backoff_s=self.backoff_s,
            sleep=self._sleep,
        )

    def _get_chart(self, symbol: str, request: FetchRequest) -> bytes:
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

    def _raise_for_chart_error(self, symbol: str, response: httpx.Response, what: str) -> None:
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
        with contextlib.suppress(httpx.HTTPError):
            self._client.get(self.cookie_url)
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

    def _get_quote_summary(self, symbol: str) -> bytes:
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

    # -- parsing -------------------------------------------------------------------------------

    def _parse_chart(
        self, symbol: str, body: bytes, request: FetchRequest, batch: SourceBatch
    ) -> _Chart:
        """Rows of one chart response, with Yahoo's split adjustment undone.

        Yahoo's chart open/high/low/close/volume and dividend amounts are adjusted for every
        later split (`adjclose` also for dividends). `prices_daily.close` is the raw close and
        `corporate_actions` the cash paid per share on the ex-date, so each value is multiplied
        (volume divided) by the product of the ratios of the splits after its date.
        """
        interval = request.interval
        what = f"{symbol} {interval} bars"
        payload = decode_json(vendor=VENDOR, body=body, what=what)
        source_hash = payload_hash(body)
        try:
            result = payload["chart"]["result"][0]
            meta = result["meta"]
        except (KeyError, IndexError, TypeError) as error:
            raise SourceError(
                f"{VENDOR} chart response for {what} lacks chart.result[0].meta ({error!r})"
            ) from error
        zone = self._zone(meta, symbol)
        timestamps = result.get("timestamp") or []
        indicators = result.get("indicators") or {}
        quote = (indicators.get("quote") or [{}])[0]
        adjclose = ((indicators.get("adjclose") or [{}])[0]).get("adjclose")
        fields = ("open", "high", "low", "close", "volume")
        columns = {name: quote.get(name) for name in fields}
        for name, values in [*columns.items(), ("adjclose", adjclose)]:
            if timestamps and values is not None and len(values) != len(timestamps):
                raise SourceError(
                    f"{VENDOR} sent a partial chart for {what}: {len(timestamps)} timestamps but "
                    f"{len(values)} {name} values"
                )
            if timestamps and values is None and name != "adjclose":
                raise SourceError(f"{VENDOR} chart for {what} has no {name} series")
        table = "prices_daily" if interval == "1d" else "prices_intraday"
        chart = _Chart()
        events = result.get("events") or {}
        splits = self._splits(symbol, events, zone, source_hash, batch)
        seen: dict[object, int] = {}
        for index, epoch_s in enumerate(timestamps):
            values = {name: columns[name][index] for name in fields}
            moment = datetime.fromtimestamp(epoch_s, zone)
            if not _within(moment.date(), request):
                continue
            missing = [name for name, value in values.items() if value is None]
            if missing:
                batch.rejects.append(
                    RawReject(
                        table=table,
                        raw_row={"symbol": symbol, "timestamp": epoch_s, **values},
                        reasons=(
                            f"{VENDOR} gave null {', '.join(missing)} for {symbol} at "
                            f"{moment.isoformat()}",
                        ),
                        row_number=index,
                    )
                )
                continue
            factor = _split_factor_after(moment.date(), splits)
            row: dict[str, object] = {
                "symbol": symbol,
                **{name: values[name] * factor for name in ("open", "high", "low", "close")},
                "volume": round(values["volume"] / factor),
                "source": SOURCE_NAME,
                "source_hash": source_hash,
            }
            if table == "prices_daily":
                adjusted = adjclose[index] if adjclose is not None else None
                row["date"] = moment.date()
                row["adj_close"] = float("nan") if adjusted is None else adjusted
                key: object = row["date"]
            else:
                row["timestamp"] = moment.astimezone(UTC)
                row["interval"] = interval
                key = row["timestamp"]
            # Yahoo sometimes repeats the live bar; keep the last copy.
            if key in seen:
                chart.bars[seen[key]] = row
            else:
                seen[key] = len(chart.bars)
                chart.bars.append(row)
        for event in (events.get("dividends") or {}).values():
            ex_date = datetime.fromtimestamp(event["date"], zone).date()
            if not _within(ex_date, request):
                continue
            chart.actions.append(
                {
                    "symbol": symbol,
                    "date": ex_date,
                    "action_type": "DIVIDEND",
                    "value": event["amount"] * _split_factor_after(ex_date, splits),
                    "source": SOURCE_NAME,
                    "source_hash": source_hash,
                }
            )
        chart.actions.extend(
            split
            for split in splits
            if _within(split["date"], request)  # type: ignore[arg-type]
        )
        chart.info = {
            "symbol": symbol,
            "name": meta.get("longName") or meta.get("shortName"),
            "sector": None,
            "industry": None,
            "exchange": _exchange(meta.get("exchangeName")),
            "currency": meta.get("currency"),
            "source": SOURCE_NAME,
            "source_hash": source_hash,
        }
        return chart

    @staticmethod
    def _splits(
        symbol: str,
        events: Mapping[str, Any],
        zone: tzinfo,
        source_hash: str,
        batch: SourceBatch,
    ) -> list[dict[str, object]]:
        """Split rows (value = new shares per old share) from the chart's `events.splits`."""
        splits: list[dict[str, object]] = []
        for event in (events.get("splits") or {}).values():
            numerator, denominator = event.get("numerator"), event.get("denominator")
            if not numerator or not denominator:
                batch.rejects.append(
                    RawReject(
                        table="corporate_actions",
                        raw_row={"symbol": symbol, **event},
                        reasons=(
                            f"{VENDOR} split for {symbol} lacks numerator/denominator "
                            f"(splitRatio {event.get('splitRatio')!r})",
                        ),
                    )
                )
                continue
            splits.append(
                {
                    "symbol": symbol,
                    "date": datetime.fromtimestamp(event["date"], zone).date(),
                    "action_type": "SPLIT",
                    "value": float(numerator) / float(denominator),
                    "source": SOURCE_NAME,
                    "source_hash": source_hash,
                }
            )
        return splits

    @staticmethod
    def _zone(meta: Mapping[str, Any], symbol: str) -> tzinfo:
        name = meta.get("exchangeTimezoneName")
        if name:
            try:
                return ZoneInfo(name)
            except (ZoneInfoNotFoundError, ValueError):
                pass
        offset_s = meta.get("gmtoffset")
        if isinstance(offset_s, int):
            return timezone(timedelta(seconds=offset_s))
        raise SourceError(
            f"{VENDOR} chart meta for {symbol} names no usable exchangeTimezoneName or gmtoffset"
        )

    def _parse_quote_summary(
        self, symbol: str, body: bytes
    ) -> tuple[dict[str, object], dict[str, object]]:
        what = f"{symbol} quoteSummary"
        payload = decode_json(vendor=VENDOR, body=body, what=what)
        source_hash = payload_hash(body)
        try:
            modules: Mapping[str, Any] = payload["quoteSummary"]["result"][0]
        except (KeyError, IndexError, TypeError) as error:
            raise SourceError(f"{VENDOR} {what} lacks quoteSummary.result[0]") from error

        def field(key: str, module_names: tuple[str, ...]) -> Any:
            for module_name in module_names:
                module = modules.get(module_name) or {}
                value = _raw(module.get(key))
                if value is not None and value != {}:
                    return value
            return None

        profile = modules.get("assetProfile") or {}
        currency = field("currency", ("price", "summaryDetail")) or field(
            "financialCurrency", ("financialData",)
        )
        info: dict[str, object] = {
            "name": field("longName", ("price", "quoteType"))
            or field("shortName", ("price", "quoteType")),
            "sector": profile.get("sector"),
            "industry": profile.get("industry"),
            "exchange": _exchange(field("exchange", ("price", "quoteType"))),
            "currency": currency,
            "source_hash": source_hash,
        }
        row: dict[str, object] = {
            "symbol": symbol,
            "as_of_date": self.as_of or date.today(),
            "period_type": "DAILY",
            "source": SOURCE_NAME,
            "currency": currency,
            "sector": profile.get("sector"),
            "industry": profile.get("industry"),
            "source_hash": source_hash,
        }
        for column, key, module_names, transform in METRIC_FIELDS:
            if row.get(column) is not None:
                continue
            number = _number(field(key, module_names))
            if number is not None and transform is not None:
                number = transform(number)
            row[column] = number
        for column in ("shares_outstanding", "float_shares"):
            if row.get(column) is not None:
                row[column] = int(row[column])  # type: ignore[call-overload]
        free_cash_flow, market_cap = row.get("free_cash_flow"), row.get("market_cap")
        row["fcf_yield"] = (
            free_cash_flow / market_cap  # type: ignore[operator]
            if free_cash_flow is not None and market_cap
            else None
        )
        return info, row


class _Chart:
    """What one chart response yields for one symbol."""

    def __init__(self) -> None:
        self.bars: list[dict[str, object]] = []
        self.actions: list[dict[str, object]] = []
        self.info: dict[str, object] = {}
