"""Broken rows and broken files against real PostgreSQL.

Every case goes through the path `stocker data ingest` takes (a `csv` source from the registry,
then `fetch_and_ingest`) and shows: a clear error or a quarantine reason; that the valid rows of
the file landed; and — comparing every table's contents before and after — that nothing else
changed. The last tests show a batch lands whole or not at all.
"""

from __future__ import annotations

import tracemalloc
from collections import Counter
from datetime import date
from pathlib import Path

import pandas as pd
import pytest
from sqlalchemy import Engine, text

from stocker.core.errors import DataError, SourceError, StockerError
from stocker.data.ingest import fetch_and_ingest, ingest
from stocker.sources import registry
from stocker.sources.base import FetchRequest, SourceBatch
from stocker.store.uow import SqlUnitOfWork

TODAY = date(2024, 6, 28)
TABLES = (
    "instrument_info",
    "prices_daily",
    "prices_intraday",
    "corporate_actions",
    "instrument_metrics",
    "market_sentiment",
    "ingest_quarantine",
    "ingest_batches",
    "outbox",
)
HEADER = "symbol,date,open,high,low,close,adj_close,volume"
GOOD = {
    "2024-01-16": "AAPL,2024-01-16,10.70,11.00,10.50,10.90,10.90,1000",
    "2024-01-17": "AAPL,2024-01-17,10.90,11.20,10.80,11.10,11.10,1100",
    "2024-01-18": "AAPL,2024-01-18,11.10,11.30,10.90,11.00,11.00,900",
}


def csv_source(path: Path, **options):
    """The `csv` source exactly as `stocker data ingest --source csv --file …` gets it."""
    return registry.get_source("csv", path=path, **options)


def snapshot(engine: Engine) -> dict[str, Counter[str]]:
    """Every row of every table that ingest may touch, as JSON text."""
    with engine.connect() as conn:
        return {
            table: Counter(
                conn.execute(text(f"SELECT row_to_json(t)::text FROM {table} t")).scalars()
            )
            for table in TABLES
        }


def changes(before, after) -> dict[str, tuple[list[str], list[str]]]:
    """Per table: rows added and rows removed (a changed row is one of each)."""
    found = {}
    for table in TABLES:
        added = list((after[table] - before[table]).elements())
        removed = list((before[table] - after[table]).elements())
        if added or removed:
            found[table] = (added, removed)
    return found


@pytest.fixture
def seeded(engine: Engine) -> Engine:
    """AAPL listed on NYSE with the week before the test files (2024-01-08..12) stored."""
    info = pd.DataFrame({"symbol": ["AAPL"], "name": ["Apple Inc."], "exchange": ["NYSE"]})
    week = pd.DataFrame(
        {
            "symbol": "AAPL",
            "date": pd.bdate_range("2024-01-08", "2024-01-12").date,
            "open": [10.0, 10.5, 11.0, 10.8, 10.2],
            "high": [11.0, 11.5, 11.2, 11.0, 10.9],
            "low": [9.5, 10.0, 10.4, 10.1, 10.0],
            "close": [10.5, 11.0, 10.8, 10.2, 10.7],
            "adj_close": [10.5, 11.0, 10.8, 10.2, 10.7],
            "volume": [1000, 1200, 900, 1500, 1100],
        }
    )
    ingest(
        SqlUnitOfWork(engine),
        SourceBatch(source="seed", frames={"instrument_info": info, "prices_daily": week}),
        today=TODAY,
    )
    return engine


def run_file(engine: Engine, path: Path, **options):
    return fetch_and_ingest(
        SqlUnitOfWork(engine), csv_source(path, **options), FetchRequest(()), today=TODAY
    )


def write_csv(tmp_path: Path, *lines: str, name: str = "bars.csv") -> Path:
    path = tmp_path / name
    path.write_text("\n".join([HEADER, *lines]) + "\n", encoding="utf-8")
    return path


def stored_dates(engine: Engine) -> list[str]:
    with engine.connect() as conn:
        rows = conn.execute(text("SELECT date FROM prices_daily ORDER BY date")).scalars()
        return [day.isoformat() for day in rows]


def quarantined_reasons(engine: Engine) -> list[list[str]]:
    with engine.connect() as conn:
        return [
            list(reasons)
            for reasons in conn.execute(
                text("SELECT reasons FROM ingest_quarantine ORDER BY row_number")
            ).scalars()
        ]


# (broken line(s), expected reason text, good dates that still land)
ALL_GOOD = tuple(GOOD)
ROW_CASES = {
    "nan_price": (["AAPL,2024-01-19,NaN,11.3,10.9,11.0,11.0,900"], "'NaN' is not a valid number"),
    "inf_price": (["AAPL,2024-01-19,11.0,inf,10.9,11.0,11.0,900"], "'inf' is not a valid number"),
    "empty_price": (["AAPL,2024-01-19,11.0,,10.9,11.0,11.0,900"], "'high' is empty"),
    "zero_price": (["AAPL,2024-01-19,11.0,11.3,10.9,0,11.0,900"], "close must be > 0, got 0"),
    "negative_price": (["AAPL,2024-01-19,11.0,11.3,-1,11.0,11.0,900"], "low must be > 0"),
    "high_below_low": (["AAPL,2024-01-19,11.0,10.0,10.5,11.0,11.0,900"], "high 10 is below low"),
    "high_below_close": (["AAPL,2024-01-19,11.0,11.2,10.9,11.5,11.5,900"], "high_below_close"),
    "low_above_open": (["AAPL,2024-01-19,11.0,11.6,11.1,11.5,11.5,900"], "low 11.1 is above open"),
    "negative_volume": (["AAPL,2024-01-19,11.0,11.3,10.9,11.1,11.1,-5"], "volume must be >= 0"),
    "wrong_type": (["AAPL,2024-01-19,11.0,11.3,10.9,11.1,11.1,12x"], "'12x' is not a valid"),
    "not_a_date": (["AAPL,2024-13-45,11.0,11.3,10.9,11.1,11.1,900"], "is not a valid date"),
    "future_date": (
        ["AAPL,2024-07-01,11.0,11.3,10.9,11.1,11.1,900"],
        "future_date: date 2024-07-01 is after today 2024-06-28",
    ),
    "saturday": (
        ["AAPL,2024-01-20,11.0,11.3,10.9,11.1,11.1,900"],
        "not_a_session: date 2024-01-20 is not a session of XNYS",
    ),
    "nyse_holiday": (
        ["AAPL,2024-01-15,10.7,10.9,10.6,10.8,10.8,700"],  # Martin Luther King Jr. Day
        "not_a_session: date 2024-01-15 is not a session of XNYS",
    ),
    "stale_feed": (
        ["AAPL,2024-01-19,11.10,11.30,10.90,11.00,11.00,900"],  # repeats 2024-01-18
        "stale_bar: open/high/low/close/volume identical to the previous bar on 2024-01-18",
    ),
    "price_jump": (
        ["AAPL,2024-01-19,24.0,25.5,23.9,25.0,25.0,900"],
        "price_jump: close moved +127.3% from 11 on 2024-01-18 to 25",
    ),
    "bad_symbol": (["AAPL_IS_FAR_TOO_LONG_A_TICKER,2024-01-19,11,11.3,10.9,11.1,11.1,9"], "longer"),
}


@pytest.mark.parametrize("case", sorted(ROW_CASES))
def test_broken_row_is_quarantined_with_reason_and_the_rest_lands(seeded, tmp_path, case):
    lines, reason = ROW_CASES[case]
    before = snapshot(seeded)
    report = run_file(seeded, write_csv(tmp_path, *GOOD.values(), *lines))
    after = snapshot(seeded)

    prices = report.table("prices_daily")
    assert (prices.inserted, prices.quarantined) == (3, 1)
    (reasons,) = quarantined_reasons(seeded)
    assert any(reason in text for text in reasons), reasons
    changed = changes(before, after)
    assert set(changed) == {"prices_daily", "ingest_quarantine", "ingest_batches", "outbox"}
    assert all(not removed for _, removed in changed.values()), "an existing row changed"
    assert len(changed["prices_daily"][0]) == 3
    assert len(changed["ingest_batches"][0]) == 1
    assert len(changed["outbox"][0]) == 3
    assert stored_dates(seeded)[-3:] == list(ALL_GOOD)


def test_quarantined_rows_of_a_file_carry_their_line_numbers_whoever_refused_them(seeded, tmp_path):
    # Out of date order, so sorting inside the source moves rows away from their positions.
    path = write_csv(
        tmp_path,
        GOOD["2024-01-18"],  # line 2
        GOOD["2024-01-16"],  # line 3
        "AAPL,2024-01-19,11.0,11.3,10.9,0,11.0,900",  # line 4: a rule refuses it
        "AAPL,not-a-date,11.0,11.3,10.9,11.0,11.0,900",  # line 5: the source cannot parse it
        GOOD["2024-01-17"],  # line 6
        "AAPL,2024-01-20,11.0,11.3,10.9,11.0,11.0,900",  # line 7: a Saturday
    )

    report = run_file(seeded, path)

    assert report.table("prices_daily").inserted == 3
    with seeded.connect() as conn:
        rows = conn.execute(
            text("SELECT row_number, reasons FROM ingest_quarantine ORDER BY row_number")
        ).all()
    assert [row.row_number for row in rows] == [4, 5, 7]
    assert rows[0].reasons[0] == "non_positive_price: close must be > 0, got 0"
    assert rows[1].reasons == ["line 5: column 'date' value 'not-a-date' is not a valid date"]
    assert rows[2].reasons[0].startswith("not_a_session:")


def test_duplicate_keys_in_a_file_quarantine_every_copy(seeded, tmp_path):
    twin = "AAPL,2024-01-17,10.95,11.25,10.85,11.15,11.15,1150"
    before = snapshot(seeded)
    report = run_file(seeded, write_csv(tmp_path, *GOOD.values(), twin))
    changed = changes(before, snapshot(seeded))
    assert (report.table("prices_daily").inserted, report.quarantined) == (2, 2)
    for reasons in quarantined_reasons(seeded):
        assert reasons == [
            "duplicate_key: key (symbol, date) = (AAPL, 2024-01-17) appears 2 times in the batch"
        ]
    assert "2024-01-17" not in stored_dates(seeded)
    assert set(changed) == {"prices_daily", "ingest_quarantine", "ingest_batches", "outbox"}
    assert all(not removed for _, removed in changed.values())


def test_intraday_file_off_grid_and_outside_session_bars_are_quarantined(seeded, tmp_path):
    path = tmp_path / "minutes.csv"
    path.write_text(
        "symbol,timestamp,interval,open,high,low,close,volume\n"
        "AAPL,2024-01-16T14:30:00Z,5m,10.7,10.8,10.6,10.75,100\n"  # 9:30 New York
        "AAPL,2024-01-16T14:35:00Z,5m,10.75,10.9,10.7,10.85,120\n"
        "AAPL,2024-01-16T14:37:00Z,5m,10.85,10.9,10.8,10.82,90\n"  # off the 5-minute grid
        "AAPL,2024-01-16T13:00:00Z,5m,10.5,10.6,10.4,10.55,50\n",  # 8:00, before the open
        encoding="utf-8",
    )
    before = snapshot(seeded)
    report = run_file(seeded, path, table="prices_intraday")
    changed = changes(before, snapshot(seeded))
    intraday = report.table("prices_intraday")
    assert (intraday.inserted, intraday.quarantined) == (2, 2)
    assert intraday.reasons == Counter({"off_grid": 1, "outside_session": 1})
    assert set(changed) == {"prices_intraday", "ingest_quarantine", "ingest_batches"}


# --- broken files: a clear error, and not a byte changed ---------------------------------------


def assert_refused(engine: Engine, path: Path, message: str, **options) -> None:
    before = snapshot(engine)
    with pytest.raises(StockerError, match=message):
        run_file(engine, path, **options)
    assert changes(before, snapshot(engine)) == {}


def test_missing_column_is_a_clear_error(seeded, tmp_path):
    path = tmp_path / "no_close.csv"
    path.write_text("symbol,date,open,high,low,volume\nAAPL,2024-01-16,10,11,9,100\n")
    assert_refused(seeded, path, r"missing required column\(s\) close")


def test_wrong_columns_are_a_clear_error(seeded, tmp_path):
    path = tmp_path / "wrong.csv"
    path.write_text("ticker_name,day,o,h,l,c,v\nAAPL,2024-01-16,10,11,9,10.5,100\n")
    assert_refused(
        seeded, path, r"missing required column\(s\) symbol, open, high, low, close, volume"
    )


def test_empty_file_is_a_clear_error(seeded, tmp_path):
    path = tmp_path / "empty.csv"
    path.write_bytes(b"")
    assert_refused(seeded, path, "the file is empty")


def test_header_without_rows_is_a_clear_error(seeded, tmp_path):
    assert_refused(seeded, write_csv(tmp_path), "header line but no data rows")


def test_invalid_bytes_are_a_clear_error(seeded, tmp_path):
    path = tmp_path / "latin.csv"
    path.write_bytes((HEADER + "\n").encode() + bytes(range(128, 256)) * 3 + b"\n")
    assert_refused(seeded, path, "not valid UTF-8 at byte offset 49")


def test_utf16_without_byte_order_mark_is_refused(seeded, tmp_path):
    path = tmp_path / "utf16.csv"
    path.write_bytes("\n".join([HEADER, *GOOD.values()]).encode("utf-16-le"))
    assert_refused(
        seeded,
        path,
        r"utf16\.csv: wrong encoding: looks like UTF-16 little-endian text without a "
        r"byte-order mark \(NUL bytes between the characters, the first at byte offset 1\)",
    )


def test_utf16_with_byte_order_mark_is_decoded_and_lands(seeded, tmp_path):
    path = tmp_path / "utf16_bom.csv"
    path.write_bytes("\n".join([HEADER, *GOOD.values()]).encode("utf-16"))
    report = run_file(seeded, path)
    assert report.table("prices_daily").inserted == 3


def test_file_that_is_not_csv_is_a_clear_error(seeded, tmp_path):
    path = tmp_path / "chart.csv"
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 8)
    assert_refused(seeded, path, "not a text file: it looks like a PNG image")


def test_binary_file_is_a_clear_error(seeded, tmp_path):
    path = tmp_path / "blob.csv"
    path.write_bytes(bytes(range(256)) * 64)
    assert_refused(seeded, path, "not a text file")


def test_oversized_line_is_refused_without_reading_it_into_memory(seeded, tmp_path):
    """A 50 MB single line stands for a 1 GB one: the reader must stop early and stay small."""
    path = tmp_path / "huge.csv"
    chunk = b"9" * (1 << 20)
    with path.open("wb") as handle:  # streamed, never held in memory whole
        handle.write((HEADER + "\nAAPL,2024-01-16,").encode())
        for _ in range(50):
            handle.write(chunk)
        handle.write(b"\n")
    assert path.stat().st_size > 50 * (1 << 20)
    before = snapshot(seeded)
    tracemalloc.start()
    try:
        with pytest.raises(SourceError, match="line 2 is longer than"):
            run_file(seeded, path)
        _, peak_bytes = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak_bytes < 8 * (1 << 20), f"peak {peak_bytes / 2**20:.1f} MiB"
    assert changes(before, snapshot(seeded)) == {}


# --- a batch lands whole or not at all --------------------------------------------------------


def test_batch_lands_prices_quarantine_batch_rows_and_events_together(seeded, tmp_path):
    before = snapshot(seeded)
    actions = tmp_path / "actions.csv"
    actions.write_text("symbol,date,action_type,value\nAAPL,2024-01-17,DIVIDEND,0.25\n")
    run_file(seeded, actions, table="corporate_actions")
    report = run_file(seeded, write_csv(tmp_path, *GOOD.values(), ROW_CASES["saturday"][0][0]))
    changed = changes(before, snapshot(seeded))
    assert report.quarantined == 1
    assert len(changed["ingest_batches"][0]) == 2  # one per file
    assert len(changed["corporate_actions"][0]) == 1
    # the dividend re-adjusted the stored history before it: those rows changed in place
    readjusted = len(changed["prices_daily"][1])
    assert readjusted > 0
    # one market-bars event per new bar and per re-adjusted bar
    assert report.events == 3 + readjusted


def test_error_raised_midway_rolls_back_the_whole_batch(seeded):
    """The hook runs after prices landed and were quarantined; its error must undo all of it."""
    frames = {
        "corporate_actions": pd.DataFrame(
            {
                "symbol": ["MSFT"],
                "date": [date(2024, 1, 17)],
                "action_type": ["DIVIDEND"],
                "value": [0.75],
            }
        ),
        "prices_daily": pd.DataFrame(
            {
                "symbol": ["MSFT", "MSFT"],
                "date": [date(2024, 1, 16), date(2024, 1, 20)],
                "open": [390.0, 391.0],
                "high": [392.0, 393.0],
                "low": [389.0, 390.0],
                "close": [391.0, 392.0],
                "volume": [10, 20],
            }
        ),
    }
    landed: list[str] = []

    def fail_after_prices(report):
        landed.append(report.table)
        if report.table == "prices_daily":
            assert report.inserted == 1 and report.quarantined == 1
            raise RuntimeError("disk full")

    before = snapshot(seeded)
    with pytest.raises(RuntimeError, match="disk full"):
        ingest(
            SqlUnitOfWork(seeded),
            SourceBatch(source="feed", frames=frames),
            today=TODAY,
            on_table=fail_after_prices,
        )
    assert landed == ["corporate_actions", "prices_daily"]
    assert changes(before, snapshot(seeded)) == {}


def test_unknown_table_in_batch_changes_nothing(seeded):
    frame = pd.DataFrame({"symbol": ["MSFT"], "date": [date(2024, 1, 16)], "close": [1.0]})
    before = snapshot(seeded)
    with pytest.raises(DataError, match="prices_weekly"):
        ingest(
            SqlUnitOfWork(seeded),
            SourceBatch(source="feed", frames={"prices_weekly": frame}),
            today=TODAY,
        )
    assert changes(before, snapshot(seeded)) == {}


def test_batch_missing_a_required_column_changes_nothing(seeded):
    frames = {
        "instrument_info": pd.DataFrame({"symbol": ["MSFT"]}),
        "prices_daily": pd.DataFrame({"symbol": ["MSFT"], "date": [date(2024, 1, 16)]}),
    }
    before = snapshot(seeded)
    with pytest.raises(DataError, match=r"prices_daily: column\(s\) open, high, low, close"):
        ingest(SqlUnitOfWork(seeded), SourceBatch(source="feed", frames=frames), today=TODAY)
    assert changes(before, snapshot(seeded)) == {}  # MSFT's instrument row went too
