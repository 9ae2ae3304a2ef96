"""Alpaca market data: daily and intraday bars, splits and cash dividends, through alpaca-py.

Bars come from `StockHistoricalDataClient.get_stock_bars` (`GET /v2/stocks/bars`, which the
client pages through by `next_page_token`), corporate actions from
`CorporateActionsClient.get_corporate_actions` (`GET /v1/corporate-actions`). A response hook
on the clients' `requests` sessions keeps every page's bytes, so each row's `source_hash` is the
SHA-256 of the page it came from. Bars are requested unadjusted (`adjustment=raw`): `close` is
the raw close and `adj_close` is NaN, to be derived from the corporate actions this source
also returns.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING, Any

import requests
from alpaca.data.enums import Adjustment, CorporateActionsType, DataFeed
from alpaca.data.historical.corporate_actions import CorporateActionsClient
from alpaca.data.historical.stock import StockHistoricalDataClient
from alpaca.data.requests import CorporateActionsRequest, StockBarsRequest
from alpaca.data.timeframe import TimeFrame, TimeFrameUnit

from stocker.core.errors import SourceError, UnknownSymbolError
from stocker.sources.alpaca.common import (
    EARLIEST_DATE,
    MARKET_ZONE,
    SOURCE_NAME,
    VENDOR,
    alpaca_credentials,
    market_window,
    no_client_retries,
    recorded_pages,
)
from stocker.sources.base import FetchRequest, SourceBatch, payload_hash
from stocker.sources.frames import (
    bar_row,
    corporate_actions_frame,
    daily_bars_frame,
    intraday_bars_frame,
    records_frame,
)
from stocker.sources.http import (
    ResponseRecorder,
    RetryPolicy,
    decode_json,
)

if TYPE_CHECKING:
    from stocker.config import Credentials

TIMEFRAMES = {
    "1d": TimeFrame(1, TimeFrameUnit.Day),
    "1m": TimeFrame(1, TimeFrameUnit.Minute),
    "5m": TimeFrame(5, TimeFrameUnit.Minute),
    "15m": TimeFrame(15, TimeFrameUnit.Minute),
    "30m": TimeFrame(30, TimeFrameUnit.Minute),
    "1h": TimeFrame(1, TimeFrameUnit.Hour),
}
ACTION_TYPES = [
    CorporateActionsType.FORWARD_SPLIT,
    CorporateActionsType.REVERSE_SPLIT,
    CorporateActionsType.CASH_DIVIDEND,
]
INFO_COLUMNS = ("symbol", "currency", "source", "source_hash")


def _timestamp(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


class AlpacaSource:
    """Alpaca market data through alpaca-py.

    Parameters
    ----------
    credentials
        The key pair, from the composition root (`stocker.bootstrap`); never logged.
    data_url
        Override of `https://data.alpaca.markets` (proxies, tests).
    feed
        'iex' (free plans) or 'sip'; default the account's own.
    corporate_actions
        Also fetch splits and cash dividends for daily requests.
    """

    name = SOURCE_NAME

    def __init__(
        self,
        *,
        credentials: Credentials | None = None,
        data_url: str | None = None,
        feed: str | None = None,
        corporate_actions: bool = True,
        retries: int = 2,
        max_retry_wait_s: float = 60.0,
        backoff_s: float = 1.0,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        pair = alpaca_credentials(credentials)
        self.feed = DataFeed(feed) if feed else None
        self.corporate_actions = corporate_actions
        self._retry = RetryPolicy(retries, max_retry_wait_s, backoff_s, sleep)
        self._recorder = ResponseRecorder()
        self._bars_client = StockHistoricalDataClient(pair.key, pair.secret, url_override=data_url)
        self._actions_client = CorporateActionsClient(pair.key, pair.secret, url_override=data_url)
        for client in (self._bars_client, self._actions_client):
            no_client_retries(client)
            self._recorder.attach(client._session)

    def fetch(self, request: FetchRequest) -> SourceBatch:
        """Bars for every symbol (all pages), plus splits and dividends for daily requests."""
        timeframe = TIMEFRAMES.get(request.interval)
        if timeframe is None:
            raise SourceError(
                f"{SOURCE_NAME}: interval {request.interval!r} is not supported; "
                f"expected one of {sorted(TIMEFRAMES)}"
            )
        symbols = list(dict.fromkeys(request.symbols))
        start, end = market_window(request.start, request.end, timedelta(microseconds=1))
        bars_request = StockBarsRequest(
            symbol_or_symbols=symbols,
            timeframe=timeframe,
            start=start,
            end=end,
            adjustment=Adjustment.RAW,
            feed=self.feed,
        )
        what = f"{', '.join(symbols)} {request.interval} bars"
        pages = self._call(lambda: self._bars_client.get_stock_bars(bars_request), what)

        batch = SourceBatch(source=SOURCE_NAME)
        bars, currencies = self._bar_rows(pages, request.interval, what)
        seen = {row["symbol"] for row in bars}
        batch.unknown_symbols = [symbol for symbol in symbols if symbol not in seen]
        for symbol in batch.unknown_symbols:
            batch.warnings.append(
                f"{VENDOR} returned no {request.interval} bars for {symbol!r} between "
                f"{start.date()} and {end.date() if end else 'now'}: unknown symbol, or no "
                "trading in the range"
            )
        if symbols and len(batch.unknown_symbols) == len(symbols):
            raise UnknownSymbolError("; ".join(batch.warnings))
        if request.interval == "1d":
            batch.frames["prices_daily"] = daily_bars_frame(bars)
        else:
            batch.frames["prices_intraday"] = intraday_bars_frame(bars)
        batch.frames["instrument_info"] = records_frame(
            (
                {
                    "symbol": symbol,
                    "currency": currency,
                    "source": SOURCE_NAME,
                    "source_hash": source_hash,
                }
                for symbol, (currency, source_hash) in currencies.items()
                if symbol in seen
            ),
            INFO_COLUMNS,
        )
        if self.corporate_actions and request.interval == "1d":
            known = [symbol for symbol in symbols if symbol in seen]
            batch.frames["corporate_actions"] = self._corporate_actions(known, request)
        return batch

    # -- calls ---------------------------------------------------------------------------------

    def _call(self, call: Callable[[], object], what: str) -> list[requests.Response]:
        """Run one alpaca-py call; return the pages it received, or raise a Stocker error."""
        return recorded_pages(self._recorder, self._retry, call, what)

    # -- parsing -------------------------------------------------------------------------------

    @staticmethod
    def _bar_rows(
        pages: Iterable[requests.Response], interval: str, what: str
    ) -> tuple[list[dict[str, object]], dict[str, tuple[str, str]]]:
        rows: list[dict[str, object]] = []
        currencies: dict[str, tuple[str, str]] = {}
        for page in pages:
            payload = decode_json(vendor=VENDOR, body=page.content, what=what)
            source_hash = payload_hash(page.content)
            for symbol, bars in (payload.get("bars") or {}).items():
                currencies.setdefault(symbol, (payload.get("currency") or "USD", source_hash))
                for bar in bars or []:
                    row = bar_row(
                        symbol=symbol,
                        moment=_timestamp(bar["t"]),
                        interval=interval,
                        prices=(bar["o"], bar["h"], bar["l"], bar["c"]),
                        volume=round(bar["v"]),
                        # daily bars are stamped at midnight New York time
                        exchange_zone=MARKET_ZONE,
                        source=SOURCE_NAME,
                        source_hash=source_hash,
                    )
                    rows.append(row)
        return rows, currencies

    def _corporate_actions(self, symbols: list[str], request: FetchRequest) -> Any:
        if not symbols:
            return corporate_actions_frame([])
        actions_request = CorporateActionsRequest(
            symbols=symbols,
            types=ACTION_TYPES,
            start=request.start or EARLIEST_DATE,
            end=request.end or date.today(),
        )
        what = f"{', '.join(symbols)} corporate actions"
        pages = self._call(
            lambda: self._actions_client.get_corporate_actions(actions_request), what
        )
        rows: list[dict[str, object]] = []
        for page in pages:
            payload = decode_json(vendor=VENDOR, body=page.content, what=what)
            source_hash = payload_hash(page.content)
            actions: Mapping[str, Any] = payload.get("corporate_actions") or {}
            for kind in ("forward_splits", "reverse_splits"):
                for split in actions.get(kind) or []:
                    rows.append(
                        {
                            "symbol": split["symbol"],
                            "date": date.fromisoformat(split["ex_date"]),
                            "action_type": "SPLIT",
                            "value": float(split["new_rate"]) / float(split["old_rate"]),
                            "source": SOURCE_NAME,
                            "source_hash": source_hash,
                        }
                    )
            for dividend in actions.get("cash_dividends") or []:
                rows.append(
                    {
                        "symbol": dividend["symbol"],
                        "date": date.fromisoformat(dividend["ex_date"]),
                        "action_type": "DIVIDEND",
                        "value": float(dividend["rate"]),
                        "source": SOURCE_NAME,
                        "source_hash": source_hash,
                    }
                )
        return corporate_actions_frame(rows)
