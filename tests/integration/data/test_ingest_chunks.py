"""A file larger than a chunk: read and landed chunk by chunk, yet the same rows, quarantine and
events as in one piece, all or nothing, duplicates caught across chunks, and market-bars events
only for the bars trading can still act on (issue 7, item 4)."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pandas as pd
import pytest
from sqlalchemy import Engine, text
from typer.testing import CliRunner

from stocker.cli import app as cli_app
from stocker.data import ingest_stream
from stocker.data.ingest_stream import fetch_and_ingest_file, publish_since
from stocker.sources.base import FetchRequest
from stocker.sources.files import FileSource

HEADER = "symbol,date,open,high,low,close,adj_close,volume"
SESSIONS = [
    day.date()
    for day in pd.bdate_range("2024-01-02", "2024-02-09")
    if day.date() != date(2024, 1, 15)  # Martin Luther King Jr. Day
]
TODAY = date(2024, 2, 9)
TABLES = ("prices_daily", "ingest_quarantine", "ingest_batches", "outbox", "instrument_info")


def bar(symbol: str, day: date, close: float, volume: int = 1000) -> str:
    return f"{symbol},{day},{close - 0.5},{close + 1},{close - 1},{close},{close},{volume}"


def bars_file(tmp_path: Path, extra: tuple[str, ...] = (), name: str = "bars.csv") -> Path:
    """3 symbols × 28 sessions (84 rows), plus `extra` lines at the end."""
    lines = [HEADER]
    for number, symbol in enumerate(("AAA", "BBB", "CCC")):
        lines += [bar(symbol, day, 100 + number + i * 0.25) for i, day in enumerate(SESSIONS)]
    path = tmp_path / name
    path.write_text("\n".join([*lines, *extra]) + "\n")
    return path


def load(uow, path: Path, chunk_rows: int, **options):
    return fetch_and_ingest_file(
        uow,
        FileSource(path),
        FetchRequest(symbols=()),
        today=TODAY,
        chunk_rows=chunk_rows,
        **options,
    )


def snapshot(engine: Engine) -> dict[str, list[tuple]]:
    """What landed, without ids, batch ids and clocks."""
    queries = {
        "bars": "SELECT symbol, date, open, high, low, close, adj_close, volume, source, "
        "source_hash FROM prices_daily ORDER BY symbol, date",
        "quarantine": "SELECT target_table, source, row_number, raw_row::text, reasons::text, "
        "status FROM ingest_quarantine ORDER BY row_number",
        "events": "SELECT stream, payload::text FROM outbox ORDER BY payload->>'symbol', "
        "payload->>'date'",
        "instruments": "SELECT symbol FROM instrument_info ORDER BY symbol",
    }
    with engine.connect() as conn:
        return {
            name: [tuple(row) for row in conn.execute(text(sql))] for name, sql in queries.items()
        }


def wipe(engine: Engine) -> None:
    with engine.begin() as conn:
        conn.execute(text(f"TRUNCATE {', '.join(TABLES)} CASCADE"))


def counts(engine: Engine) -> dict[str, int]:
    with engine.connect() as conn:
        return {t: conn.execute(text(f"SELECT count(*) FROM {t}")).scalar_one() for t in TABLES}


BAD_ROWS = (
    "AAA,2024-02-12,x,1,1,1,1,1",  # not a number: the source refuses it
    bar("BBB", date(2024, 2, 12), 109.0).replace(",110.0,", ",90.0,"),  # high below low
    bar("CCC", date(2024, 2, 12), 300.0),  # a jump of +170% on the bar before it
)


def test_a_file_in_chunks_lands_exactly_what_one_chunk_lands(uow, engine, tmp_path: Path):
    path = bars_file(tmp_path, BAD_ROWS)
    today = date(2024, 2, 12)

    whole = fetch_and_ingest_file(
        uow, FileSource(path), FetchRequest(symbols=()), today=today, chunk_rows=10_000
    )
    one_piece = snapshot(engine)
    wipe(engine)
    chunked = fetch_and_ingest_file(
        uow, FileSource(path), FetchRequest(symbols=()), today=today, chunk_rows=7
    )

    assert (whole.chunks, chunked.chunks) == (1, 13)
    assert snapshot(engine) == one_piece
    assert len(one_piece["bars"]) == 84 and len(one_piece["quarantine"]) == 3
    for report in (whole, chunked):
        table = report.table("prices_daily")
        assert (table.received, table.inserted, table.quarantined) == (87, 84, 3)
        assert report.rows == 87
        # 6..12 Feb are the 5 recent weekdays: 4 sessions landed, 12 Feb's rows refused
        assert report.events == len(one_piece["events"]) == 3 * 4
        assert report.events_withheld == 84 - 12
    assert chunked.table("prices_daily").reasons == whole.table("prices_daily").reasons


def test_the_jump_check_sees_the_bar_landed_by_an_earlier_chunk(uow, engine, tmp_path: Path):
    # CCC's jump to 300 is the first row of its own chunk; the bar before it came in chunk 1
    path = bars_file(tmp_path, (bar("CCC", date(2024, 2, 12), 300.0),))

    report = load(uow, path, chunk_rows=84)

    assert report.chunks == 2
    assert report.table("prices_daily").reasons["price_jump"] == 1
    assert counts(engine)["prices_daily"] == 84


def test_a_failure_in_a_late_chunk_lands_nothing(uow, engine, tmp_path: Path, monkeypatch):
    path = bars_file(tmp_path, BAD_ROWS)
    landed = ingest_stream._land_chunk
    calls: list[int] = []

    def failing(*args, **kwargs):
        calls.append(1)
        if len(calls) == 11:
            raise RuntimeError("disk full")
        return landed(*args, **kwargs)

    monkeypatch.setattr(ingest_stream, "_land_chunk", failing)

    with pytest.raises(RuntimeError, match="disk full"):
        load(uow, path, chunk_rows=8)

    assert len(calls) == 11
    assert counts(engine) == dict.fromkeys(TABLES, 0)


def test_a_key_repeated_in_another_chunk_is_caught_as_a_duplicate(uow, engine, tmp_path: Path):
    first = SESSIONS[0]
    path = bars_file(tmp_path, (bar("aaa", first, 150.0),))  # AAA's first bar, 84 rows later

    report = load(uow, path, chunk_rows=10)

    table = report.table("prices_daily")
    assert table.reasons["duplicate_key"] == 2
    assert (table.received, table.inserted, table.quarantined) == (85, 83, 2)
    with engine.connect() as conn:
        reasons = conn.execute(
            text("SELECT row_number, reasons::text FROM ingest_quarantine ORDER BY row_number")
        ).all()
        stored = conn.execute(
            text("SELECT count(*) FROM prices_daily WHERE symbol = 'AAA' AND date = :day"),
            {"day": first},
        ).scalar_one()
    assert [row.row_number for row in reasons] == [2, 86]
    assert all("appears 2 times" in row.reasons for row in reasons)
    assert stored == 0  # no copy is preferred, as within one batch


def test_only_recent_bars_are_announced_and_the_rest_counted(uow, engine, tmp_path: Path):
    path = bars_file(tmp_path)

    report = load(uow, path, chunk_rows=20)

    assert report.publish_since == date(2024, 2, 5) == publish_since(TODAY, 5)
    assert (report.events, report.events_withheld) == (15, 84 - 15)
    with engine.connect() as conn:
        days = conn.execute(text("SELECT DISTINCT payload->>'date' FROM outbox")).scalars()
        assert sorted(days) == [f"2024-02-0{day}" for day in range(5, 10)]
    wipe(engine)

    wider = load(uow, path, chunk_rows=20, recent_sessions=1000)

    assert (wider.events, wider.events_withheld) == (84, 0)


def test_publish_since_counts_weekdays_back_from_today():
    assert publish_since(date(2024, 2, 9), 1) == date(2024, 2, 9)
    assert publish_since(date(2024, 2, 10), 1) == date(2024, 2, 9)  # a Saturday
    assert publish_since(date(2024, 2, 12), 5) == date(2024, 2, 6)
    with pytest.raises(ValueError):
        publish_since(date(2024, 2, 9), 0)


def test_cli_shows_events_published_and_bars_not_announced(app, tmp_path: Path):
    path = bars_file(tmp_path)
    runner = CliRunner()

    result = runner.invoke(
        cli_app,
        ["data", "ingest", "--source", "csv", "--file", str(path), "--today", "2024-02-09",
         "--chunk-rows", "25"],
        obj=app,
    )  # fmt: skip

    assert result.exit_code == 0, result.output
    assert "market-bars events queued: 15" in result.output
    assert "changed bars not announced: 69" in result.output
    assert "--recent-sessions" in result.output


def test_formats_are_decided_from_the_whole_file_not_per_chunk(uow, engine, tmp_path: Path):
    # day-first dates: only the last chunk's 13/01 settles that 03/01 is 3 January
    path = tmp_path / "dayfirst.csv"
    days = [day for day in SESSIONS if day.day <= 12 and day.month == 1] + [date(2024, 1, 16)]
    lines = [HEADER] + [
        f"AAA,{day:%d/%m/%Y},100,{101 + i},99,{100 + i},{100 + i},{10 + i}"
        for i, day in enumerate(days)
    ]
    path.write_text("\n".join(lines) + "\n")

    report = load(uow, path, chunk_rows=2)

    assert report.table("prices_daily").inserted == len(lines) - 1
    with engine.connect() as conn:
        first = conn.execute(text("SELECT min(date) FROM prices_daily")).scalar_one()
    assert first == date(2024, 1, 2)


def test_the_next_chunk_is_read_ahead_and_a_failure_there_is_raised_here():
    def chunks():
        yield 1
        yield 2
        raise ValueError("line 9: not a well-formed CSV file")

    seen = []
    with pytest.raises(ValueError, match="line 9"):
        for item in ingest_stream.prefetched(chunks()):
            seen.append(item)
    assert seen == [1, 2]

    endless = ingest_stream.prefetched(iter(range(10**9)))
    assert next(endless) == 0
    endless.close()  # the consumer failed: the producer stops instead of running on


def test_rows_with_a_blank_key_cell_repeat_no_key(uow, engine, tmp_path: Path):
    path = bars_file(
        tmp_path, ("AAA,,1,2,0.5,1,1,1", "AAA,,1,2,0.5,1,1,1", ",2024-01-02,1,2,0.5,1,1,1")
    )

    report = load(uow, path, chunk_rows=30)

    table = report.table("prices_daily")
    assert (table.inserted, table.quarantined) == (84, 3)
    assert "duplicate_key" not in table.reasons
