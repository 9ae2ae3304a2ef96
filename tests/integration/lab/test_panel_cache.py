"""The panel cache: a second read comes from the file; an ingested correction invalidates it."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pandas as pd
import psycopg
import pytest
from sqlalchemy import text

from stocker.data.ingest import fetch_and_ingest
from stocker.sources import registry
from stocker.sources.base import FetchRequest
from stocker.store.panel_cache import PanelCache, data_version
from stocker.store.uow import SqlUnitOfWork

TODAY = date(2024, 6, 28)
SESSIONS = [day.date() for day in pd.bdate_range("2024-03-01", "2024-03-28")]
CLOSES = [100.0 + index for index in range(len(SESSIONS))]


def _write(path: Path, closes: list[float]) -> Path:
    lines = ["symbol,date,open,high,low,close,volume"]
    for symbol, shift in (("AAPL", 0.0), ("MSFT", 50.0)):
        for day, close in zip(SESSIONS, closes, strict=True):
            price = close + shift
            lines.append(f"{symbol},{day},{price},{price + 1},{price - 1},{price},1000")
    path.write_text("\n".join(lines) + "\n")
    return path


def _ingest(uow: SqlUnitOfWork, path: Path) -> None:
    fetch_and_ingest(uow, registry.get_source("csv", path=path), FetchRequest(()), today=TODAY)


class _Statements:
    """Counts every statement psycopg executes, and the panel reads among them."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.all: list[str] = []
        original = psycopg.Cursor.execute

        def execute(cursor, query, params=None, **kwargs):  # type: ignore[no-untyped-def]
            text = query.as_string(cursor) if hasattr(query, "as_string") else str(query)
            self.all.append(text)
            return original(cursor, query, params, **kwargs)

        monkeypatch.setattr(psycopg.Cursor, "execute", execute)

    @property
    def panel_reads(self) -> int:
        return sum("string_agg" in statement for statement in self.all)


def _read(cache: PanelCache, engine) -> dict[str, pd.DataFrame]:  # type: ignore[no-untyped-def]
    with SqlUnitOfWork(engine) as uow:
        return cache.panels(
            uow, ["close", "volume"], symbols=["AAPL", "MSFT"], start=SESSIONS[0], end=SESSIONS[-1]
        )


def test_second_read_hits_the_cache_and_a_corrected_close_invalidates_it(
    engine, uow, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    _ingest(uow, _write(tmp_path / "bars.csv", CLOSES))
    cache = PanelCache(tmp_path / "home")
    with SqlUnitOfWork(engine) as direct:
        expected = direct.derived.panels(
            ["close", "volume"], symbols=["AAPL", "MSFT"], start=SESSIONS[0], end=SESSIONS[-1]
        )

    statements = _Statements(monkeypatch)
    first = _read(cache, engine)
    assert statements.panel_reads == 1 and cache.stats.misses == 1
    for field in ("close", "volume"):
        pd.testing.assert_frame_equal(first[field], expected[field])
    assert len(list((tmp_path / "home" / "cache" / "panels").glob("*.arrow"))) == 1

    before = len(statements.all)
    second = _read(cache, engine)
    assert cache.stats.hits == 1
    assert statements.panel_reads == 1  # no panel query: only the cheap version check ran
    issued = [sql for sql in statements.all[before:] if sql.strip() != ";"]  # ";": pool ping
    # prices_daily logs its writes (migration 0009): the version is one lookup in that log
    assert len(issued) == 1 and "data_changes" in issued[0]
    for field in ("close", "volume"):
        pd.testing.assert_frame_equal(second[field], expected[field])

    corrected = list(CLOSES)
    corrected[5] += 0.25
    _ingest(uow, _write(tmp_path / "bars.csv", corrected))

    third = _read(cache, engine)
    assert cache.stats.misses == 2 and statements.panel_reads == 2
    assert third["close"].loc[pd.Timestamp(SESSIONS[5]), "AAPL"] == CLOSES[5] + 0.25
    assert first["close"].loc[pd.Timestamp(SESSIONS[5]), "AAPL"] == CLOSES[5]
    unchanged = third["close"].drop(index=pd.Timestamp(SESSIONS[5]))
    pd.testing.assert_frame_equal(
        unchanged, expected["close"].drop(index=pd.Timestamp(SESSIONS[5]))
    )

    fourth = _read(cache, engine)  # the corrected panel is cached in its turn
    assert cache.stats.hits == 2 and statements.panel_reads == 2
    pd.testing.assert_frame_equal(fourth["close"], third["close"])


def test_a_different_selection_is_a_different_entry(engine, uow, tmp_path: Path):
    _ingest(uow, _write(tmp_path / "bars.csv", CLOSES))
    cache = PanelCache(tmp_path / "home")
    with SqlUnitOfWork(engine) as reader:
        one = cache.panels(reader, ["close"], symbols=["AAPL"])
        both = cache.panels(reader, ["close"], symbols=["AAPL", "MSFT"])
        later = cache.panels(reader, ["close"], symbols=["AAPL"], start=SESSIONS[3])
    assert cache.stats.misses == 3 and cache.stats.hits == 0
    assert list(one["close"].columns) == ["AAPL"] and list(both["close"].columns) == [
        "AAPL",
        "MSFT",
    ]
    assert later["close"].index[0] == pd.Timestamp(SESSIONS[3])
    assert cache.clear() == 3


def test_a_view_is_read_through_uncached(engine, uow, tmp_path: Path):
    _ingest(uow, _write(tmp_path / "bars.csv", CLOSES))
    cache = PanelCache(tmp_path / "home")
    with SqlUnitOfWork(engine) as reader:
        panel = cache.panels(reader, ["close"], symbols=["AAPL"], table="market_data_ohlcv")
    assert cache.stats.bypassed == 1 and panel["close"].iloc[0, 0] == CLOSES[0]


def test_data_version_is_the_count_and_the_sum_of_xmin(engine, uow, tmp_path: Path):
    _ingest(uow, _write(tmp_path / "bars.csv", CLOSES))
    with engine.connect() as conn:
        count, total = conn.execute(
            text("SELECT count(*), sum(xmin::text::bigint) FROM prices_daily WHERE symbol = 'AAPL'")
        ).one()
    with SqlUnitOfWork(engine) as reader:
        assert data_version(reader, symbols=["AAPL"]) == f"{count}:{total}"
