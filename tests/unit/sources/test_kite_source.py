"""The `kite` source: kiteconnect's client against Kite's wire format on loopback HTTP."""

from __future__ import annotations

import json
from datetime import date

import pandas as pd
import pytest
from vendor_loopback import LoopbackServer, Reply, vendor_bytes

from stocker.config import Credentials
from stocker.core.errors import RateLimitedError, SourceError, UnknownSymbolError
from stocker.sources.base import DAILY_BAR_COLUMNS, FetchRequest, payload_hash
from stocker.sources.kite import KiteSource

INSTRUMENTS = "/instruments/NSE"
INFY_DAY = "/instruments/historical/408065/day"
INFY_5MIN = "/instruments/historical/408065/5minute"
CSV = "text/csv"
JANUARY_2024 = FetchRequest(("INFY",), start=date(2024, 1, 1), end=date(2024, 1, 3))
CREDENTIALS = Credentials("kitekey", "kitetoken")


def _source(server: LoopbackServer) -> KiteSource:
    server.add(INSTRUMENTS, Reply(body=vendor_bytes("kite/instruments_nse.csv"), content_type=CSV))
    return KiteSource(credentials=CREDENTIALS, root=server.url, retries=0)


def test_kite_daily_maps_ist_candles_to_dates_with_no_adjusted_close(
    loopback: LoopbackServer,
) -> None:
    body = vendor_bytes("kite/historical_infy_day.json")
    loopback.add(INFY_DAY, Reply(body=body))

    batch = _source(loopback).fetch(JANUARY_2024)

    bars = batch.frames["prices_daily"]
    assert list(bars.columns) == list(DAILY_BAR_COLUMNS)
    candles = json.loads(body)["data"]["candles"]
    assert bars["date"].tolist() == [date(2024, 1, 1), date(2024, 1, 2), date(2024, 1, 3)]
    assert bars[["open", "high", "low", "close", "volume"]].values.tolist() == [
        candle[1:] for candle in candles
    ]
    assert bars["adj_close"].isna().all()
    assert set(bars["source_hash"]) == {payload_hash(body)}
    assert set(bars["source"]) == {"kite"}
    request = loopback.requests_to(INFY_DAY)[0]
    assert request.query["from"] == ["2024-01-01 00:00:00"]
    assert request.query["to"] == ["2024-01-03 23:59:59"]
    assert request.headers["Authorization"] == "token kitekey:kitetoken"
    info = batch.frames["instrument_info"].iloc[0]
    assert info[["symbol", "name", "exchange", "currency"]].tolist() == [
        "INFY",
        "INFOSYS",
        "NSE",
        "INR",
    ]
    assert info["source_hash"] == payload_hash(vendor_bytes("kite/instruments_nse.csv"))


def test_kite_intraday_converts_ist_candle_starts_to_utc(loopback: LoopbackServer) -> None:
    loopback.add(INFY_5MIN, Reply(body=vendor_bytes("kite/historical_infy_5minute.json")))

    batch = _source(loopback).fetch(
        FetchRequest(("NSE:INFY",), start=date(2024, 1, 2), end=date(2024, 1, 2), interval="5m")
    )

    bars = batch.frames["prices_intraday"]
    assert bars["timestamp"].tolist() == list(
        pd.to_datetime(["2024-01-02 03:45", "2024-01-02 03:50", "2024-01-02 03:55"], utc=True)
    )
    assert set(bars["interval"]) == {"5m"} and bars["symbol"].tolist() == ["INFY"] * 3


def test_kite_when_range_exceeds_the_span_limit_fetches_in_chunks(
    loopback: LoopbackServer,
) -> None:
    first = vendor_bytes("kite/historical_infy_5minute.json")
    second = json.dumps(
        {
            "status": "success",
            "data": {
                "candles": [
                    ["2024-05-02T09:15:00+0530", 1420.0, 1425.0, 1418.0, 1421.5, 300100],
                ]
            },
        }
    ).encode()
    loopback.add(INFY_5MIN, Reply(body=first), Reply(body=second))

    batch = _source(loopback).fetch(
        FetchRequest(("INFY",), start=date(2024, 1, 2), end=date(2024, 5, 10), interval="5m")
    )

    requests = loopback.requests_to(INFY_5MIN)
    assert [(r.query["from"][0], r.query["to"][0]) for r in requests] == [
        ("2024-01-02 00:00:00", "2024-04-10 23:59:59"),
        ("2024-04-11 00:00:00", "2024-05-10 23:59:59"),
    ]
    bars = batch.frames["prices_intraday"]
    assert bars["source_hash"].tolist() == [payload_hash(first)] * 3 + [payload_hash(second)]


def test_kite_when_symbol_is_not_in_the_instrument_dump_raises_unknown_symbol(
    loopback: LoopbackServer,
) -> None:
    with pytest.raises(UnknownSymbolError, match="no instrument 'ZZZZNOPE' on NSE"):
        _source(loopback).fetch(FetchRequest(("ZZZZNOPE",), start=date(2024, 1, 1)))


def test_kite_when_one_symbol_is_unknown_keeps_the_others(loopback: LoopbackServer) -> None:
    loopback.add(INFY_DAY, Reply(body=vendor_bytes("kite/historical_infy_day.json")))

    batch = _source(loopback).fetch(
        FetchRequest(("INFY", "ZZZZNOPE"), start=date(2024, 1, 1), end=date(2024, 1, 3))
    )

    assert batch.unknown_symbols == ["ZZZZNOPE"]
    assert len(batch.frames["prices_daily"]) == 3


def test_kite_when_vendor_rejects_the_token_raises_unknown_symbol(loopback: LoopbackServer) -> None:
    loopback.add(INFY_DAY, Reply(400, vendor_bytes("kite/error_invalid_token.json")))

    with pytest.raises(UnknownSymbolError, match="invalid token"):
        _source(loopback).fetch(JANUARY_2024)


def test_kite_when_session_expired_names_the_access_token_variable(
    loopback: LoopbackServer,
) -> None:
    loopback.add(INFY_DAY, Reply(403, vendor_bytes("kite/error_token.json")))

    with pytest.raises(SourceError, match=r"TokenException.*KITE_ACCESS_TOKEN"):
        _source(loopback).fetch(JANUARY_2024)


def test_kite_when_rate_limited_raises_with_retry_after(loopback: LoopbackServer) -> None:
    loopback.add(
        INFY_DAY,
        Reply(429, vendor_bytes("kite/error_too_many_requests.json"), headers={"Retry-After": "1"}),
    )

    with pytest.raises(RateLimitedError, match="Too many requests") as caught:
        _source(loopback).fetch(JANUARY_2024)

    assert caught.value.retry_after_s == 1.0


def test_kite_when_body_is_truncated_raises_source_error_with_size(
    loopback: LoopbackServer,
) -> None:
    loopback.add(INFY_DAY, Reply(body=vendor_bytes("kite/historical_infy_day.json")[:70]))

    with pytest.raises(
        SourceError, match=r"invalid or truncated JSON for INFY day candles.*\(70 bytes"
    ):
        _source(loopback).fetch(JANUARY_2024)


def test_kite_when_credentials_are_missing_names_the_settings() -> None:
    with pytest.raises(SourceError, match="set STOCKER_KITE_API_KEY and STOCKER_KITE_ACCESS_TOKEN"):
        KiteSource(credentials=None, root="http://127.0.0.1:9")
