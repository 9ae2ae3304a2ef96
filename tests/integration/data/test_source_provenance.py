"""Every source's batch lands through `ingest` with `source` and `source_hash` on every row.

Each source reads its recorded vendor payload (served on loopback HTTP, or a file) and its batch is
ingested into a fresh database; then every stored row of the tables it filled must name its
source and, where the table keeps one, the SHA-256 of the payload it came from.
"""

from __future__ import annotations

import hashlib
import sys
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pandas as pd
import pytest
from pydantic import SecretStr
from sqlalchemy import Engine, text

from stocker.bootstrap import App, build
from stocker.config import Settings
from stocker.data.ingest import ingest
from stocker.sources.base import FetchRequest, payload_hash
from stocker.sources.registry import get_source
from stocker.store.uow import SqlUnitOfWork

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "unit" / "sources"))
from vendor_loopback import VENDOR_FIXTURES, LoopbackServer, Reply, vendor_bytes

pytestmark = pytest.mark.filterwarnings(
    "ignore::DeprecationWarning", "ignore::FutureWarning", "ignore:The inplace keyword"
)

TODAY = date(2024, 12, 31)
HASHED_TABLES = ("prices_daily", "prices_intraday", "corporate_actions", "instrument_info")
UNHASHED_TABLES = ("instrument_metrics", "market_sentiment")
FILES = VENDOR_FIXTURES / "files"


@pytest.fixture
def loopback() -> Iterator[LoopbackServer]:
    server = LoopbackServer()
    server.start()
    yield server
    server.stop()


def _app_with(settings: Settings, **secrets: str) -> App:
    """The application of this test's settings with vendor keys (as the environment gives)."""
    update = {name: SecretStr(value) for name, value in secrets.items()}
    return build(settings.model_copy(update=update))


def _count(engine: Engine, sql: str) -> int:
    with engine.connect() as conn:
        return int(conn.execute(text(sql)).scalar_one())


def _assert_provenance(engine: Engine, filled: dict[str, int], source: str) -> None:
    """Each table in `filled` holds at least that many rows, none without source (and hash)."""
    for table, least in filled.items():
        assert _count(engine, f"SELECT count(*) FROM {table}") >= least, table
        assert _count(engine, f"SELECT count(*) FROM {table} WHERE source IS NULL") == 0, table
        if table in HASHED_TABLES:
            missing = _count(engine, f"SELECT count(*) FROM {table} WHERE source_hash IS NULL")
            assert missing == 0, table
        assert _count(engine, f"SELECT count(*) FROM {table} WHERE source LIKE '{source}%'") > 0


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_yfinance_bars_actions_info_and_metrics_land_with_provenance(
    engine: Engine, loopback: LoopbackServer
) -> None:
    chart = vendor_bytes("yahoo/chart_aapl_1d.json")
    loopback.add("/v8/finance/chart/AAPL", Reply(body=chart))
    loopback.add(
        "/v10/finance/quoteSummary/AAPL", Reply(body=vendor_bytes("yahoo/quote_summary_aapl.json"))
    )
    loopback.add("/cookie", Reply(404, b"", "text/html", {"Set-Cookie": "A3=d=AQABBK; Path=/"}))
    loopback.add("/v1/test/getcrumb", Reply(200, b"Xk2m.9aQ/pL", "text/plain;charset=utf-8"))
    source = get_source(
        "yfinance",
        base_url=loopback.url,
        cookie_url=loopback.url + "/cookie",
        retries=0,
        fundamentals=True,
        as_of=date(2024, 9, 13),
    )

    batch = source.fetch(FetchRequest(("AAPL",), start=date(2020, 8, 5), end=date(2020, 9, 1)))
    report = ingest(SqlUnitOfWork(engine), batch, today=TODAY)

    assert report.table("instrument_metrics").inserted == 1
    # the chart holds one null bar, which the source hands over as unparseable
    assert report.table("prices_daily").reasons == {"unparseable": 1}
    _assert_provenance(
        engine,
        {"prices_daily": 6, "corporate_actions": 2, "instrument_info": 1, "instrument_metrics": 1},
        "yfinance",
    )
    with engine.connect() as conn:
        hashes = set(conn.execute(text("SELECT source_hash FROM prices_daily")).scalars())
    assert hashes == {payload_hash(chart)}


def test_alpaca_bars_and_actions_land_with_provenance(
    engine: Engine, loopback: LoopbackServer, settings: Settings
) -> None:
    app = _app_with(settings, alpaca_api_key="PKTESTKEY1234567890", alpaca_secret_key="s3cr3t")
    pages = [vendor_bytes(f"alpaca/bars_daily_page{n}.json") for n in (1, 2)]
    loopback.add("/v2/stocks/bars", *(Reply(body=page) for page in pages))
    loopback.add("/v1/corporate-actions", Reply(body=vendor_bytes("alpaca/corporate_actions.json")))
    source = app.source("alpaca", data_url=loopback.url, retries=0)

    batch = source.fetch(
        FetchRequest(("AAPL", "MSFT"), start=date(2020, 8, 3), end=date(2021, 2, 2))
    )
    ingest(SqlUnitOfWork(engine), batch, today=TODAY)

    _assert_provenance(
        engine, {"prices_daily": 1, "corporate_actions": 3, "instrument_info": 2}, "alpaca"
    )


def test_kite_bars_and_instruments_land_with_provenance(
    engine: Engine, loopback: LoopbackServer, settings: Settings
) -> None:
    app = _app_with(settings, kite_api_key="kitekey", kite_access_token="kitetoken")
    loopback.add(
        "/instruments/NSE",
        Reply(body=vendor_bytes("kite/instruments_nse.csv"), content_type="text/csv"),
    )
    loopback.add(
        "/instruments/historical/408065/day",
        Reply(body=vendor_bytes("kite/historical_infy_day.json")),
    )
    source = app.source("kite", root=loopback.url, retries=0)

    batch = source.fetch(FetchRequest(("INFY",), start=date(2024, 1, 1), end=date(2024, 1, 3)))
    ingest(SqlUnitOfWork(engine), batch, today=TODAY)

    _assert_provenance(engine, {"prices_daily": 3, "instrument_info": 1}, "kite")


def test_screener_in_metrics_land_with_provenance(engine: Engine) -> None:
    export = VENDOR_FIXTURES / "screener_in" / "screen_export.csv"
    source = get_source("screener-in", path=export, as_of=date(2024, 6, 28))

    report = ingest(SqlUnitOfWork(engine), source.fetch(FetchRequest(symbols=())), today=TODAY)

    assert report.table("instrument_metrics").inserted == 3
    _assert_provenance(engine, {"instrument_metrics": 3, "instrument_info": 3}, "screener-in")


def test_file_sources_fill_every_table_with_the_files_hash(engine: Engine, tmp_path: Path) -> None:
    metrics = tmp_path / "metrics.csv"
    metrics.write_text("symbol,as_of_date,pe_ttm,market_cap\nAAPL,2024-03-01,28.5,2.8e12\n")
    sentiment = tmp_path / "sentiment.csv"
    sentiment.write_text("symbol,date,sentiment_score,article_count\nAAPL,2024-03-01,0.5,3\n")
    parquet = tmp_path / "msft.parquet"
    pd.DataFrame(
        {
            "symbol": ["MSFT"],
            "date": [date(2024, 3, 11)],
            "open": [403.76],
            "high": [405.68],
            "low": [398.39],
            "close": [404.52],
            "volume": [16120800],
        }
    ).to_parquet(parquet)
    files = [
        (FILES / "instruments_latin1.csv", {"table": "instrument_info"}),
        (FILES / "corporate_actions.csv", {"table": "corporate_actions"}),
        (FILES / "spy_daily_yahoo_download.csv", {"symbol": "SPY"}),
        (FILES / "spy_intraday_5m.csv", {"table": "prices_intraday", "interval": "5m"}),
        (metrics, {"table": "instrument_metrics"}),
        (sentiment, {"table": "market_sentiment"}),
    ]

    for path, options in files:
        ingest(SqlUnitOfWork(engine), get_source("csv", path=path, **options).fetch(), today=TODAY)
    ingest(SqlUnitOfWork(engine), get_source("parquet", path=parquet).fetch(), today=TODAY)

    _assert_provenance(
        engine,
        {
            "instrument_info": 3,
            "corporate_actions": 2,
            "prices_daily": 5,
            "prices_intraday": 2,
            "instrument_metrics": 1,
            "market_sentiment": 1,
        },
        "",
    )
    with engine.connect() as conn:
        stored = dict(
            conn.execute(text("SELECT source, source_hash FROM prices_daily")).tuples().all()
        )
        registered = conn.execute(
            text("SELECT source, source_hash FROM instrument_info WHERE symbol = 'SPY'")
        ).one()
    assert stored == {
        "csv:spy_daily_yahoo_download.csv": _sha256(FILES / "spy_daily_yahoo_download.csv"),
        "parquet:msft.parquet": _sha256(parquet),
    }
    # A symbol first seen in a bar file is registered with that file's name and hash.
    assert tuple(registered) == (
        "csv:spy_daily_yahoo_download.csv",
        _sha256(FILES / "spy_daily_yahoo_download.csv"),
    )
