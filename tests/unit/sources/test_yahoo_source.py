"""The `yfinance` source over Yahoo's chart and quoteSummary wire formats on loopback HTTP."""

from __future__ import annotations

import json
import math
from datetime import UTC, date, datetime

import pandas as pd
import pytest
import yfinance.utils
from vendor_loopback import LoopbackServer, Reply, vendor_bytes

from stocker.core.errors import RateLimitedError, SourceError, UnknownSymbolError
from stocker.sources.base import DAILY_BAR_COLUMNS, FetchRequest, payload_hash
from stocker.sources.yahoo import YahooSource

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning", "ignore::FutureWarning")

CHART_AAPL = "/v8/finance/chart/AAPL"
CHART_SPY = "/v8/finance/chart/SPY"
SUMMARY_AAPL = "/v10/finance/quoteSummary/AAPL"
AUGUST_2020 = FetchRequest(("AAPL",), start=date(2020, 8, 5), end=date(2020, 9, 1))


def _source(server: LoopbackServer, **options: object) -> YahooSource:
    options.setdefault("fundamentals", False)
    return YahooSource(base_url=server.url, cookie_url=server.url + "/cookie", retries=0, **options)


def _serve_crumb(server: LoopbackServer, crumb: bytes = b"Xk2m.9aQ/pL") -> None:
    server.add("/cookie", Reply(404, b"", "text/html", {"Set-Cookie": "A3=d=AQABBK; Path=/"}))
    server.add("/v1/test/getcrumb", Reply(200, crumb, "text/plain;charset=utf-8"))


@pytest.mark.filterwarnings("ignore")
def test_yahoo_daily_when_chart_spans_a_split_returns_raw_prices_agreeing_with_yfinance(
    loopback: LoopbackServer,
) -> None:
    body = vendor_bytes("yahoo/chart_aapl_1d.json")
    loopback.add(CHART_AAPL, Reply(body=body))

    batch = _source(loopback).fetch(AUGUST_2020)

    bars = batch.frames["prices_daily"]
    assert list(bars.columns) == list(DAILY_BAR_COLUMNS)
    # yfinance's own parser is the oracle for what Yahoo's arrays say (split-adjusted).
    oracle = yfinance.utils.parse_quotes(json.loads(body)["chart"]["result"][0]).dropna()
    oracle = oracle[(oracle.index >= "2020-08-05") & (oracle.index < "2020-09-02")]
    assert [d.isoformat() for d in bars["date"]] == [t.date().isoformat() for t in oracle.index]
    factor = [4.0 if t < pd.Timestamp("2020-08-31") else 1.0 for t in oracle.index]
    for column, oracle_column in [
        ("open", "Open"),
        ("high", "High"),
        ("low", "Low"),
        ("close", "Close"),
        ("adj_close", "Adj Close"),
    ]:
        expected = oracle[oracle_column].to_numpy() * (factor if column != "adj_close" else 1)
        assert bars[column].to_numpy() == pytest.approx(expected, rel=1e-12), column
    assert bars["volume"].tolist() == [
        round(v / f) for v, f in zip(oracle["Volume"], factor, strict=True)
    ]
    last_pre_split = bars[bars["date"] == date(2020, 8, 28)].iloc[0]
    assert last_pre_split["close"] == pytest.approx(499.23)
    assert last_pre_split["volume"] == 46_907_500
    assert bars["volume"].dtype == "int64" and bars["close"].dtype == "float64"
    assert set(bars["source"]) == {"yfinance"}
    assert set(bars["source_hash"]) == {payload_hash(body)}

    actions = batch.frames["corporate_actions"]
    assert actions[["date", "action_type"]].values.tolist() == [
        [date(2020, 8, 7), "DIVIDEND"],
        [date(2020, 8, 31), "SPLIT"],
    ]
    # Yahoo reports the dividend split-adjusted (0.205); the cash paid on the ex-date was 0.82.
    assert actions["value"].tolist() == pytest.approx([0.82, 4.0])

    request = loopback.requests_to(CHART_AAPL)[0]
    assert request.query["interval"] == ["1d"]
    assert request.query["events"] == ["div,splits"]
    assert request.query["includeAdjustedClose"] == ["true"]
    assert request.query["period1"] == [str(int(datetime(2020, 8, 5, tzinfo=UTC).timestamp()))]

    info = batch.frames["instrument_info"].iloc[0]
    assert (info["name"], info["exchange"], info["currency"]) == ("Apple Inc.", "NASDAQ", "USD")


def test_yahoo_daily_when_a_bar_is_null_keeps_it_as_a_reject_naming_the_fields(
    loopback: LoopbackServer,
) -> None:
    loopback.add(CHART_AAPL, Reply(body=vendor_bytes("yahoo/chart_aapl_1d.json")))

    batch = _source(loopback).fetch(AUGUST_2020)

    assert date(2020, 8, 10) not in set(batch.frames["prices_daily"]["date"])
    (reject,) = batch.rejects
    assert reject.table == "prices_daily"
    assert "null open, high, low, close, volume for AAPL at 2020-08-10" in reject.reasons[0]


def test_yahoo_intraday_returns_utc_bar_starts_with_the_interval(
    loopback: LoopbackServer,
) -> None:
    body = vendor_bytes("yahoo/chart_spy_5m.json")
    loopback.add(CHART_SPY, Reply(body=body))

    batch = _source(loopback).fetch(
        FetchRequest(("SPY",), start=date(2024, 3, 15), end=date(2024, 3, 15), interval="5m")
    )

    bars = batch.frames["prices_intraday"]
    assert "prices_daily" not in batch.frames
    assert bars["timestamp"].tolist() == [
        pd.Timestamp("2024-03-15 13:30", tz="UTC"),
        pd.Timestamp("2024-03-15 13:35", tz="UTC"),
        pd.Timestamp("2024-03-15 13:40", tz="UTC"),
    ]
    assert str(bars["timestamp"].dt.tz) == "UTC"
    assert set(bars["interval"]) == {"5m"}
    assert bars["close"].tolist() == [513.5, 512.8, 512.99]
    assert bars["volume"].tolist() == [2104512, 1233876, 987120]
    assert len(batch.rejects) == 1 and batch.rejects[0].table == "prices_intraday"
    assert loopback.requests_to(CHART_SPY)[0].query["interval"] == ["5m"]
    assert batch.frames["instrument_info"].iloc[0]["exchange"] == "NYSEARCA"


def test_yahoo_fundamentals_map_quote_summary_onto_info_and_metrics(
    loopback: LoopbackServer,
) -> None:
    summary = vendor_bytes("yahoo/quote_summary_aapl.json")
    loopback.add(CHART_AAPL, Reply(body=vendor_bytes("yahoo/chart_aapl_1d.json")))
    loopback.add(SUMMARY_AAPL, Reply(body=summary))
    _serve_crumb(loopback)

    batch = _source(loopback, fundamentals=True, as_of=date(2024, 9, 13)).fetch(AUGUST_2020)

    info = batch.frames["instrument_info"].iloc[0]
    assert info[["symbol", "name", "sector", "industry", "exchange", "currency"]].tolist() == [
        "AAPL",
        "Apple Inc.",
        "Technology",
        "Consumer Electronics",
        "NASDAQ",
        "USD",
    ]
    assert info["source_hash"] == payload_hash(summary)
    metrics = batch.frames["instrument_metrics"].iloc[0]
    assert metrics["as_of_date"] == date(2024, 9, 13)
    assert (metrics["period_type"], metrics["source"]) == ("DAILY", "yfinance")
    expected = {
        "market_cap": 3382336012288,
        "enterprise_value": 3419472723968,
        "shares_outstanding": 15204100096,
        "float_shares": 15179810381,
        "beta": 1.24,
        "pe_ttm": 33.71,
        "pe_forward": 29.83,
        "price_to_book": 50.7759,
        "price_to_sales": 8.7715,
        "peg_ratio": 3.12,
        "ev_to_ebitda": 25.948,
        "dividend_yield": 0.0045,
        "dividend_rate": 1.0,
        "payout_ratio": 0.1476,
        "revenue": 385603010560,
        "ebitda": 131781001216,
        "net_income": 101956001792,
        "free_cash_flow": 86158123008,
        "gross_margin": 0.45962,
        "operating_margin": 0.29556,
        "net_margin": 0.26441,
        "ebitda_margin": 0.34175,
        "roe": 1.60583,
        "roa": 0.22612,
        "revenue_growth_yoy": 0.049,
        "earnings_growth_yoy": 0.111,
        "debt_to_equity": 1.51862,
        "current_ratio": 0.953,
        "quick_ratio": 0.798,
        "fcf_yield": 86158123008 / 3382336012288,
    }
    for column, value in expected.items():
        assert metrics[column] == pytest.approx(value, rel=1e-12), column
    assert metrics["sector"] == "Technology"
    summary_request = loopback.requests_to(SUMMARY_AAPL)[0]
    assert summary_request.query["crumb"] == ["Xk2m.9aQ/pL"]
    assert "A3=d=AQABBK" in summary_request.headers.get("Cookie", "")
    assert "financialData" in summary_request.query["modules"][0]


def test_yahoo_fundamentals_when_crumb_is_stale_fetch_a_new_one_and_retry(
    loopback: LoopbackServer,
) -> None:
    loopback.add(CHART_AAPL, Reply(body=vendor_bytes("yahoo/chart_aapl_1d.json")))
    loopback.add(
        SUMMARY_AAPL,
        Reply(401, vendor_bytes("yahoo/quote_summary_invalid_crumb.json")),
        Reply(body=vendor_bytes("yahoo/quote_summary_aapl.json")),
    )
    _serve_crumb(loopback)

    batch = _source(loopback, fundamentals=True).fetch(AUGUST_2020)

    assert len(loopback.requests_to("/v1/test/getcrumb")) == 2
    assert batch.frames["instrument_metrics"].iloc[0]["pe_ttm"] == 33.71


def test_yahoo_fundamentals_when_quote_summary_fails_keeps_prices_and_warns(
    loopback: LoopbackServer,
) -> None:
    loopback.add(CHART_AAPL, Reply(body=vendor_bytes("yahoo/chart_aapl_1d.json")))
    loopback.add(SUMMARY_AAPL, Reply(500, b"<html>Internal error</html>", "text/html"))
    _serve_crumb(loopback)

    batch = _source(loopback, fundamentals=True).fetch(AUGUST_2020)

    assert len(batch.frames["prices_daily"]) == 6
    assert batch.frames["instrument_metrics"].empty
    assert any(
        "fundamentals skipped" in warning and "HTTP 500" in warning for warning in batch.warnings
    )


def test_yahoo_when_the_only_symbol_is_unknown_raises_unknown_symbol(
    loopback: LoopbackServer,
) -> None:
    loopback.add(
        "/v8/finance/chart/ZZZZNOPE", Reply(404, vendor_bytes("yahoo/chart_not_found.json"))
    )

    with pytest.raises(
        UnknownSymbolError, match=r"ZZZZNOPE.*No data found, symbol may be delisted"
    ):
        _source(loopback).fetch(FetchRequest(("ZZZZNOPE",), start=date(2020, 8, 5)))


def test_yahoo_when_one_of_several_symbols_is_unknown_returns_the_rest_and_names_it(
    loopback: LoopbackServer,
) -> None:
    loopback.add(CHART_AAPL, Reply(body=vendor_bytes("yahoo/chart_aapl_1d.json")))
    loopback.add(
        "/v8/finance/chart/ZZZZNOPE", Reply(404, vendor_bytes("yahoo/chart_not_found.json"))
    )

    batch = _source(loopback).fetch(
        FetchRequest(("ZZZZNOPE", "AAPL"), start=date(2020, 8, 5), end=date(2020, 9, 1))
    )

    assert batch.unknown_symbols == ["ZZZZNOPE"]
    assert set(batch.frames["prices_daily"]["symbol"]) == {"AAPL"}
    assert "ZZZZNOPE" in batch.warnings[0]


def test_yahoo_when_rate_limited_raises_with_the_retry_after(loopback: LoopbackServer) -> None:
    loopback.add(
        CHART_AAPL, Reply(429, b"Too Many Requests\r\n", "text/html", {"Retry-After": "7"})
    )

    with pytest.raises(RateLimitedError, match="HTTP 429") as caught:
        _source(loopback).fetch(AUGUST_2020)

    assert caught.value.retry_after_s == 7.0


def test_yahoo_when_rate_limited_once_waits_the_retry_after_then_succeeds(
    loopback: LoopbackServer,
) -> None:
    loopback.add(
        CHART_AAPL,
        Reply(429, b"Too Many Requests\r\n", "text/html", {"Retry-After": "2"}),
        Reply(body=vendor_bytes("yahoo/chart_aapl_1d.json")),
    )
    waits: list[float] = []

    source = YahooSource(base_url=loopback.url, fundamentals=False, retries=1, sleep=waits.append)
    batch = source.fetch(AUGUST_2020)

    assert waits == [2.0]
    assert len(batch.frames["prices_daily"]) == 6


def test_yahoo_when_wait_asked_exceeds_the_cap_gives_up_at_once(loopback: LoopbackServer) -> None:
    loopback.add(CHART_AAPL, Reply(429, b"Too Many Requests", "text/html", {"Retry-After": "3600"}))
    waits: list[float] = []

    source = YahooSource(
        base_url=loopback.url,
        fundamentals=False,
        retries=3,
        max_retry_wait_s=60,
        sleep=waits.append,
    )
    with pytest.raises(RateLimitedError):
        source.fetch(AUGUST_2020)
    assert waits == []


def test_yahoo_when_json_is_truncated_raises_source_error_with_size(
    loopback: LoopbackServer,
) -> None:
    body = vendor_bytes("yahoo/chart_aapl_1d.json")[:900]
    loopback.add(CHART_AAPL, Reply(body=body))

    with pytest.raises(
        SourceError, match=r"invalid or truncated JSON for AAPL 1d bars \(900 bytes"
    ):
        _source(loopback).fetch(AUGUST_2020)


def test_yahoo_when_connection_drops_mid_body_raises_source_error(
    loopback: LoopbackServer,
) -> None:
    body = vendor_bytes("yahoo/chart_aapl_1d.json")
    loopback.add(CHART_AAPL, Reply(body=body[:500], declared_length=len(body)))

    with pytest.raises(SourceError, match="could not be reached for AAPL 1d bars"):
        _source(loopback).fetch(AUGUST_2020)


def test_yahoo_when_arrays_disagree_in_length_reports_a_partial_chart(
    loopback: LoopbackServer,
) -> None:
    payload = json.loads(vendor_bytes("yahoo/chart_aapl_1d.json"))
    payload["chart"]["result"][0]["indicators"]["quote"][0]["close"].pop()
    loopback.add(CHART_AAPL, Reply(body=json.dumps(payload).encode()))

    with pytest.raises(
        SourceError, match="partial chart for AAPL 1d bars: 8 timestamps but 7 close"
    ):
        _source(loopback).fetch(AUGUST_2020)


def test_yahoo_when_vendor_rejects_the_range_passes_its_description(
    loopback: LoopbackServer,
) -> None:
    error = {
        "chart": {
            "result": None,
            "error": {
                "code": "Unprocessable Entity",
                "description": "1m data not available for startTime=1596634200 and "
                "endTime=1726257601. "
                "Only 8 days worth of 1m granularity data are allowed to be fetched per "
                "request.",
            },
        }
    }
    loopback.add(CHART_AAPL, Reply(422, json.dumps(error).encode()))

    with pytest.raises(SourceError, match="Only 8 days worth of 1m") as caught:
        _source(loopback).fetch(FetchRequest(("AAPL",), start=date(2020, 8, 5), interval="1m"))
    assert not isinstance(caught.value, UnknownSymbolError)


def test_yahoo_when_interval_is_unsupported_names_the_valid_ones(loopback: LoopbackServer) -> None:
    with pytest.raises(SourceError, match=r"interval '4h' is not supported.*'1d'"):
        _source(loopback).fetch(FetchRequest(("AAPL",), interval="4h"))


def test_yahoo_adj_close_is_nan_when_chart_has_no_adjclose(loopback: LoopbackServer) -> None:
    payload = json.loads(vendor_bytes("yahoo/chart_aapl_1d.json"))
    del payload["chart"]["result"][0]["indicators"]["adjclose"]
    loopback.add(CHART_AAPL, Reply(body=json.dumps(payload).encode()))

    bars = _source(loopback).fetch(AUGUST_2020).frames["prices_daily"]

    assert all(math.isnan(value) for value in bars["adj_close"])


def test_yahoo_speaks_through_a_browser_impersonating_session(loopback: LoopbackServer) -> None:
    """Yahoo answers 429 to TLS fingerprints that are not a browser's (yfinance #2422, #2472):
    the source speaks through curl_cffi impersonating Chrome, whose requests carry Chrome's
    own headers (the client hints come with its TLS and HTTP/2 fingerprint)."""
    body = vendor_bytes("yahoo/chart_aapl_1d.json")
    loopback.add(CHART_AAPL, Reply(body=body))

    batch = _source(loopback).fetch(AUGUST_2020)

    sent = loopback.requests[-1].headers
    assert "sec-ch-ua" in {name.lower() for name in sent}
    assert "Chrome/" in sent["User-Agent"]
    assert set(batch.frames["prices_daily"]["source_hash"]) == {payload_hash(body)}


def test_yahoo_takes_an_injected_session(loopback: LoopbackServer) -> None:
    from curl_cffi import requests as curl_requests

    loopback.add(CHART_AAPL, Reply(body=vendor_bytes("yahoo/chart_aapl_1d.json")))
    session = curl_requests.Session(impersonate="chrome", headers={"X-Recorded": "yes"})

    _source(loopback, session=session).fetch(AUGUST_2020)

    assert loopback.requests[-1].headers.get("X-Recorded") == "yes"
