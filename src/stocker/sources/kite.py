"""Zerodha Kite Connect: daily and intraday candles for NSE/BSE instruments, via kiteconnect.

Symbols are trading symbols ('INFY', or 'BSE:INFY' for another exchange than the default);
`KiteConnect.instruments(exchange)` (the `/instruments/<exchange>` CSV dump) maps them to the
instrument tokens `historical_data` needs. Kite limits how many days one historical request may
span per interval, so long ranges are fetched in chunks; each row's `source_hash` is the SHA-256
of its chunk's response. Candle times are IST (+05:30): daily candles become dates, intraday
candles UTC timestamps. Kite has no adjusted close (`adj_close` is NaN) and no corporate actions.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from datetime import date, datetime, timedelta
from datetime import time as clock_time
from functools import partial
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

import requests
from kiteconnect import KiteConnect
from kiteconnect import exceptions as kite_errors

from stocker.core.errors import RateLimitedError, SourceError, UnknownSymbolError
from stocker.sources.base import (
    CredentialNames,
    FetchRequest,
    SourceBatch,
    payload_hash,
    require_credentials,
)
from stocker.sources.frames import (
    bar_row,
    daily_bars_frame,
    intraday_bars_frame,
    records_frame,
)
from stocker.sources.http import (
    ResponseRecorder,
    RetryPolicy,
    decode_json,
    error_for_status,
    unreachable,
)

if TYPE_CHECKING:
    from stocker.config import Credentials

SOURCE_NAME = "kite"
VENDOR = "Kite Connect"
CREDENTIALS = CredentialNames("KITE_API_KEY", "KITE_ACCESS_TOKEN")
IST = ZoneInfo("Asia/Kolkata")
INTERVALS = {
    "1d": "day",
    "1m": "minute",
    "3m": "3minute",
    "5m": "5minute",
    "10m": "10minute",
    "15m": "15minute",
    "30m": "30minute",
    "1h": "60minute",
}
# The longest span Kite serves in one historical request, per interval.
MAX_DAYS_PER_REQUEST = {
    "minute": 60,
    "3minute": 100,
    "5minute": 100,
    "10minute": 100,
    "15minute": 200,
    "30minute": 200,
    "60minute": 400,
    "day": 2000,
}
INFO_COLUMNS = ("symbol", "name", "exchange", "currency", "source", "source_hash")


def kite_credentials(credentials: Credentials | None) -> Credentials:
    """The API key and today's access token from the composition root, or an error naming the
    settings to set."""
    return require_credentials(
        credentials,
        CREDENTIALS,
        needs=(
            f"{VENDOR} needs an API key and an access token (the access token comes from the "
            "login flow and expires daily around 6 AM IST)"
        ),
    )


def _chunks(start: date, end: date, max_days: int) -> Iterator[tuple[date, date]]:
    """Consecutive inclusive [from, to] date ranges of at most `max_days` days."""
    cursor = start
    while cursor <= end:
        chunk_end = min(end, cursor + timedelta(days=max_days - 1))
        yield cursor, chunk_end
        cursor = chunk_end + timedelta(days=1)


class KiteSource:
    """Zerodha Kite Connect candles.

    Parameters
    ----------
    credentials
        The API key and the day's access token, from the composition root; never logged.
    root
        Override of `https://api.kite.trade` (proxies, tests).
    exchange
        Exchange of bare symbols ('NSE' or 'BSE').
    """

    name = SOURCE_NAME

    def __init__(
        self,
        *,
        credentials: Credentials | None = None,
        root: str | None = None,
        exchange: str = "NSE",
        timeout_s: float = 7.0,
        retries: int = 2,
        max_retry_wait_s: float = 60.0,
        backoff_s: float = 1.0,
        sleep: Callable[[float], None] = time.sleep,
        today: Callable[[], date] = date.today,
    ) -> None:
        pair = kite_credentials(credentials)
        self.exchange = exchange.upper()
        self._retry = RetryPolicy(retries, max_retry_wait_s, backoff_s, sleep)
        self._today = today
        self._kite = KiteConnect(pair.key, access_token=pair.secret, root=root, timeout=timeout_s)
        self._recorder = ResponseRecorder()
        self._recorder.attach(self._kite.reqsession)
        self._instruments: dict[str, tuple[dict[str, dict[str, Any]], str]] = {}

    def fetch(self, request: FetchRequest) -> SourceBatch:
        """Candles for each symbol, in as many requests as Kite's span limits require."""
        interval = INTERVALS.get(request.interval)
        if interval is None:
            raise SourceError(
                f"{SOURCE_NAME}: interval {request.interval!r} is not supported; "
                f"expected one of {sorted(INTERVALS)}"
            )
        end = request.end or self._today()
        start = request.start or end - timedelta(days=MAX_DAYS_PER_REQUEST[interval] - 1)
        batch = SourceBatch(source=SOURCE_NAME)
        bars: list[dict[str, object]] = []
        info: list[dict[str, object]] = []
        for requested in dict.fromkeys(request.symbols):
            exchange, _, symbol = requested.rpartition(":")
            exchange = (exchange or self.exchange).upper()
            instruments, dump_hash = self._instrument_dump(exchange)
            instrument = instruments.get(symbol.upper())
            if instrument is None:
                batch.unknown_symbols.append(requested)
                batch.warnings.append(
                    f"{VENDOR} lists no instrument {symbol!r} on {exchange} "
                    f"({len(instruments)} instruments in its dump)"
                )
                continue
            try:
                bars.extend(
                    self._candles(
                        symbol.upper(), instrument, interval, request.interval, start, end
                    )
                )
            except UnknownSymbolError as error:
                batch.unknown_symbols.append(requested)
                batch.warnings.append(str(error))
                continue
            info.append(
                {
                    "symbol": symbol.upper(),
                    "name": instrument.get("name") or None,
                    "exchange": exchange,
                    "currency": "INR",
                    "source": SOURCE_NAME,
                    "source_hash": dump_hash,
                }
            )
        if request.symbols and len(batch.unknown_symbols) == len(set(request.symbols)):
            raise UnknownSymbolError("; ".join(batch.warnings))
        if request.interval == "1d":
            batch.frames["prices_daily"] = daily_bars_frame(bars)
        else:
            batch.frames["prices_intraday"] = intraday_bars_frame(bars)
        batch.frames["instrument_info"] = records_frame(info, INFO_COLUMNS)
        return batch

    # -- calls ---------------------------------------------------------------------------------

    def _call(self, call: Callable[[], Any], what: str) -> tuple[Any, requests.Response]:
        """Run one kiteconnect call; return its result and the response it parsed."""

        def attempt() -> tuple[Any, requests.Response]:
            self._recorder.clear()
            try:
                result = call()
            except kite_errors.KiteException as error:
                raise self._translate(error, what) from error
            except requests.RequestException as error:
                raise unreachable(VENDOR, what, error) from error
            return result, self._recorder.responses[-1]

        return self._retry.run(attempt)

    def _translate(self, error: Any, what: str) -> SourceError:
        response = self._recorder.responses[-1] if self._recorder.responses else None
        status = response.status_code if response is not None else int(error.code)
        message = str(error)
        if status == 429:
            # Slowing down comes first whatever exception kiteconnect chose for it.
            if response is None:
                return RateLimitedError(
                    f"{VENDOR} rate-limited the request for {what} (HTTP 429): {message}"
                )
            return self._status_error(response, what) or RateLimitedError(message)
        if isinstance(error, kite_errors.DataException) and response is not None:
            # kiteconnect raises DataException for a body it cannot parse; say what arrived.
            try:
                decode_json(vendor=VENDOR, body=response.content, what=what)
            except SourceError as decoded:
                return decoded
        if isinstance(error, kite_errors.TokenException):
            return SourceError(
                f"{VENDOR} refused the session for {what} (HTTP {status}, TokenException: "
                f"{message}); set {CREDENTIALS} to the API key and a fresh access token (tokens "
                "expire daily around 6 AM IST)"
            )
        if isinstance(error, kite_errors.PermissionException):
            return SourceError(
                f"{VENDOR} denied {what} (HTTP {status}, PermissionException: {message}); the "
                f"app behind {CREDENTIALS.settings[0]} needs the historical data subscription"
            )
        if isinstance(error, kite_errors.InputException) and any(
            word in message.lower() for word in ("token", "instrument", "symbol")
        ):
            return UnknownSymbolError(
                f"{VENDOR} does not know the instrument for {what}: {message}"
            )
        translated = self._status_error(response, what) if response is not None else None
        return translated or SourceError(
            f"{VENDOR} failed for {what} ({type(error).__name__}): {message}"
        )

    @staticmethod
    def _status_error(response: requests.Response, what: str) -> SourceError | None:
        return error_for_status(
            vendor=VENDOR,
            status=response.status_code,
            headers=response.headers,
            body=response.content,
            what=what,
            credentials=CREDENTIALS,
        )

    def _instrument_dump(self, exchange: str) -> tuple[dict[str, dict[str, Any]], str]:
        """Trading symbol -> instrument row of the exchange's dump, fetched once per source."""
        if exchange not in self._instruments:
            rows, response = self._call(
                lambda: self._kite.instruments(exchange), f"the {exchange} instrument list"
            )
            by_symbol = {str(row["tradingsymbol"]).upper(): row for row in rows}
            self._instruments[exchange] = (by_symbol, payload_hash(response.content))
        return self._instruments[exchange]

    def _candles(
        self,
        symbol: str,
        instrument: dict[str, Any],
        interval: str,
        stocker_interval: str,
        start: date,
        end: date,
    ) -> list[dict[str, object]]:
        token = int(instrument["instrument_token"])
        rows: list[dict[str, object]] = []
        for chunk_start, chunk_end in _chunks(start, end, MAX_DAYS_PER_REQUEST[interval]):
            what = f"{symbol} {interval} candles {chunk_start}..{chunk_end}"
            candles, response = self._call(
                partial(
                    self._kite.historical_data,
                    token,
                    datetime.combine(chunk_start, clock_time(0, 0, 0)),
                    datetime.combine(chunk_end, clock_time(23, 59, 59)),
                    interval,
                ),
                what,
            )
            source_hash = payload_hash(response.content)
            for candle in candles:
                moment: datetime = candle["date"]
                if moment.tzinfo is None:
                    moment = moment.replace(tzinfo=IST)
                row = bar_row(
                    symbol=symbol,
                    moment=moment,
                    interval=stocker_interval,
                    prices=(candle["open"], candle["high"], candle["low"], candle["close"]),
                    volume=int(candle["volume"]),
                    exchange_zone=IST,
                    source=SOURCE_NAME,
                    source_hash=source_hash,
                )
                rows.append(row)
        return rows
