"""The `alpaca` source: alpaca-py's clients against Alpaca's wire format on loopback HTTP."""

from __future__ import annotations

import json
from datetime import date

import pandas as pd
import pytest
from alpaca.data.models import BarSet
from vendor_loopback import LoopbackServer, Reply, vendor_bytes

from stocker.config import Credentials
from stocker.core.errors import RateLimitedError, SourceError, UnknownSymbolError
from stocker.sources.alpaca.historical import AlpacaSource
from stocker.sources.base import DAILY_BAR_COLUMNS, FetchRequest, payload_hash

BARS = "/v2/stocks/bars"
ACTIONS = "/v1/corporate-actions"
pytestmark = pytest.mark.filterwarnings("ignore:The inplace keyword")

KEY, SECRET = "PKTESTKEY1234567890", "s3cr3t-never-printed"
CREDENTIALS = Credentials(KEY, SECRET)
REQUEST = FetchRequest(("AAPL", "MSFT"), start=date(2020, 8, 3), end=date(2021, 2, 2))


def _source(server: LoopbackServer, **options: object) -> AlpacaSource:
    return AlpacaSource(credentials=CREDENTIALS, data_url=server.url, retries=0, **options)


def test_alpaca_daily_follows_next_page_token_and_hashes_each_page(
    loopback: LoopbackServer,
) -> None:
    page1, page2 = (vendor_bytes(f"alpaca/bars_daily_page{n}.json") for n in (1, 2))
    actions = vendor_bytes("alpaca/corporate_actions.json")
    loopback.add(BARS, Reply(body=page1), Reply(body=page2))
    loopback.add(ACTIONS, Reply(body=actions))

    batch = _source(loopback).fetch(REQUEST)

    bars = batch.frames["prices_daily"]
    assert list(bars.columns) == list(DAILY_BAR_COLUMNS)
    # alpaca-py's own models are the oracle for the values on the wire.
    raw = {
        "AAPL": json.loads(page1)["bars"]["AAPL"],
        "MSFT": json.loads(page1)["bars"]["MSFT"] + json.loads(page2)["bars"]["MSFT"],
    }
    oracle = BarSet(raw).df.reset_index()
    assert bars["symbol"].tolist() == oracle["symbol"].tolist()
    assert bars["date"].tolist() == [
        t.tz_convert("America/New_York").date() for t in oracle["timestamp"]
    ]
    for column in ("open", "high", "low", "close", "volume"):
        assert bars[column].tolist() == pytest.approx(oracle[column].tolist()), column
    assert bars["adj_close"].isna().all()
    assert bars["source_hash"].tolist() == [payload_hash(page1)] * 3 + [payload_hash(page2)]
    assert set(bars["source"]) == {"alpaca"}

    first, second = loopback.requests_to(BARS)
    assert "page_token" not in first.query
    assert second.query["page_token"] == [json.loads(page1)["next_page_token"]]
    assert first.query["symbols"] == ["AAPL,MSFT"]
    assert first.query["timeframe"] == ["1Day"] and first.query["adjustment"] == ["raw"]
    assert first.headers["APCA-API-KEY-ID"] == KEY

    corporate = batch.frames["corporate_actions"]
    assert corporate[["symbol", "date", "action_type", "value"]].values.tolist() == [
        ["AAPL", date(2020, 8, 31), "SPLIT", 4.0],
        ["AAPL", date(2021, 2, 5), "DIVIDEND", 0.205],
        ["MSFT", date(2021, 2, 17), "DIVIDEND", 0.56],
    ]
    assert set(corporate["source_hash"]) == {payload_hash(actions)}
    action_query = loopback.requests_to(ACTIONS)[0].query
    assert action_query["symbols"] == ["AAPL,MSFT"]
    assert action_query["types"] == ["forward_split,reverse_split,cash_dividend"]
    assert set(batch.frames["instrument_info"]["symbol"]) == {"AAPL", "MSFT"}


def test_alpaca_intraday_returns_utc_bar_starts_and_maps_the_timeframe(
    loopback: LoopbackServer,
) -> None:
    loopback.add(BARS, Reply(body=vendor_bytes("alpaca/bars_spy_5min.json")))

    batch = _source(loopback).fetch(
        FetchRequest(("SPY",), start=date(2021, 2, 22), end=date(2021, 2, 22), interval="5m")
    )

    bars = batch.frames["prices_intraday"]
    assert bars["timestamp"].tolist() == list(
        pd.to_datetime(["2021-02-22 15:50", "2021-02-22 15:55", "2021-02-22 16:00"], utc=True)
    )
    assert set(bars["interval"]) == {"5m"}
    assert bars["volume"].tolist() == [152318, 131102, 160455]
    assert "corporate_actions" not in batch.frames
    assert loopback.requests_to(BARS)[0].query["timeframe"] == ["5Min"]
    assert not loopback.requests_to(ACTIONS)


def test_alpaca_when_keys_are_missing_names_the_settings() -> None:
    with pytest.raises(
        SourceError,
        match=r"set STOCKER_ALPACA_API_KEY and STOCKER_ALPACA_SECRET_KEY "
        r"\(or ALPACA_API_KEY and ALPACA_SECRET_KEY\)",
    ):
        AlpacaSource(credentials=None, data_url="http://127.0.0.1:9")


def test_alpaca_when_unauthorized_names_the_variables_and_never_the_secret(
    loopback: LoopbackServer,
) -> None:
    loopback.add(BARS, Reply(401, b'{"code":40110000,"message":"request is not authorized"}'))

    with pytest.raises(
        SourceError, match=r"HTTP 401.*ALPACA_API_KEY and ALPACA_SECRET_KEY"
    ) as caught:
        _source(loopback).fetch(REQUEST)

    assert "request is not authorized" in str(caught.value)
    assert SECRET not in str(caught.value) and KEY not in str(caught.value)


def test_alpaca_when_rate_limited_raises_with_retry_after_without_client_retries(
    loopback: LoopbackServer,
) -> None:
    loopback.add(
        BARS,
        Reply(
            429, b'{"code":42910000,"message":"rate limit exceeded"}', headers={"Retry-After": "3"}
        ),
    )

    with pytest.raises(RateLimitedError, match="rate limit exceeded") as caught:
        _source(loopback).fetch(REQUEST)

    assert caught.value.retry_after_s == 3.0
    assert len(loopback.requests_to(BARS)) == 1


def test_alpaca_when_rate_limited_once_retries_after_the_wait(loopback: LoopbackServer) -> None:
    loopback.add(
        BARS,
        Reply(
            429, b'{"code":42910000,"message":"rate limit exceeded"}', headers={"Retry-After": "1"}
        ),
        Reply(body=vendor_bytes("alpaca/bars_spy_5min.json")),
    )
    waits: list[float] = []

    batch = AlpacaSource(
        credentials=CREDENTIALS, data_url=loopback.url, retries=2, sleep=waits.append
    ).fetch(FetchRequest(("SPY",), start=date(2021, 2, 22), interval="5m"))

    assert waits == [1.0]
    assert len(batch.frames["prices_intraday"]) == 3


def test_alpaca_when_bars_are_empty_raises_unknown_symbol(loopback: LoopbackServer) -> None:
    loopback.add(BARS, Reply(body=vendor_bytes("alpaca/bars_empty.json")))

    with pytest.raises(UnknownSymbolError, match="no 1d bars for 'ZZZZNOPE'"):
        _source(loopback).fetch(FetchRequest(("ZZZZNOPE",), start=date(2021, 2, 1)))


def test_alpaca_when_one_symbol_has_no_bars_keeps_the_others_and_names_it(
    loopback: LoopbackServer,
) -> None:
    loopback.add(BARS, Reply(body=vendor_bytes("alpaca/bars_spy_5min.json")))

    batch = _source(loopback).fetch(
        FetchRequest(("SPY", "ZZZZNOPE"), start=date(2021, 2, 22), interval="5m")
    )

    assert batch.unknown_symbols == ["ZZZZNOPE"]
    assert set(batch.frames["prices_intraday"]["symbol"]) == {"SPY"}


def test_alpaca_when_symbol_is_invalid_raises_unknown_symbol(loopback: LoopbackServer) -> None:
    loopback.add(BARS, Reply(422, b'{"code":42210000,"message":"invalid symbol: BRK B"}'))

    with pytest.raises(UnknownSymbolError, match="invalid symbol: BRK B"):
        _source(loopback).fetch(FetchRequest(("BRK B",), start=date(2021, 2, 1)))


def test_alpaca_when_422_is_not_about_a_symbol_raises_plain_source_error(
    loopback: LoopbackServer,
) -> None:
    loopback.add(BARS, Reply(422, b'{"code":42210000,"message":"invalid timeframe"}'))

    with pytest.raises(SourceError, match=r"HTTP 422.*invalid timeframe") as caught:
        _source(loopback).fetch(REQUEST)
    assert not isinstance(caught.value, UnknownSymbolError)


def test_alpaca_when_sip_is_not_in_the_plan_suggests_the_iex_feed(loopback: LoopbackServer) -> None:
    loopback.add(
        BARS, Reply(403, b'{"message":"subscription does not permit querying recent SIP data"}')
    )

    with pytest.raises(SourceError, match="feed='iex'"):
        _source(loopback).fetch(REQUEST)


def test_alpaca_when_a_page_is_truncated_raises_source_error_with_size(
    loopback: LoopbackServer,
) -> None:
    page1 = vendor_bytes("alpaca/bars_daily_page1.json")
    loopback.add(
        BARS, Reply(body=page1), Reply(body=vendor_bytes("alpaca/bars_daily_page2.json")[:50])
    )

    with pytest.raises(
        SourceError, match=r"invalid or truncated JSON for AAPL, MSFT 1d bars \(50 bytes"
    ):
        _source(loopback).fetch(REQUEST)
