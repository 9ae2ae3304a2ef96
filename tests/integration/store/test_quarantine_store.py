"""Quarantine and batch records in PostgreSQL: raw rows survive verbatim with every reason."""

from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal

import numpy as np
import pandas as pd
from sqlalchemy import Engine, text

from stocker.sources.base import RawReject
from stocker.store.bulk import upsert
from stocker.store.quarantine import quarantine, record_batch


def test_quarantine_keeps_raw_values_verbatim_with_every_reason(engine: Engine) -> None:
    batch_id = uuid.uuid4()
    rows = [
        {
            "symbol": "AAA",
            "date": dt.date(2024, 1, 2),
            "open": Decimal("101.10"),
            "high": float("inf"),
            "low": 1.0,
            "close": float("nan"),
            "adj_close": 1.0,
            "volume": 2**40,
            "source": "csv",
        },
        {
            "symbol": "WAY_TOO_LONG_A_SYMBOL_NAME",
            "date": "2024-02-30",
            "open": 1,
            "high": 1,
            "low": 1,
            "close": 1,
            "adj_close": 1,
            "volume": 1,
            "source": "bad\x00byte",
        },
    ]
    with engine.begin() as conn:
        result = upsert(conn, "prices_daily", rows, on_reject="return")
        count = quarantine(
            conn,
            batch_id=batch_id,
            table="prices_daily",
            source="csv",
            rejects=result.rejected,
            source_hash="f" * 64,
        )
        record_batch(
            conn,
            batch_id=batch_id,
            source="csv",
            table="prices_daily",
            result=result,
            quarantined=count,
            source_hash="f" * 64,
            description="two bad rows",
        )

    with engine.connect() as conn:
        kept = conn.execute(
            text(
                "SELECT row_number, symbol, row_key, raw_row, reasons, status, source_hash "
                "FROM ingest_quarantine WHERE batch_id = :batch_id ORDER BY row_number"
            ),
            {"batch_id": batch_id},
        ).all()
        recorded = conn.execute(
            text(
                "SELECT target_table, received, inserted, updated, unchanged, quarantined, "
                "description FROM ingest_batches WHERE batch_id = :batch_id"
            ),
            {"batch_id": batch_id},
        ).one()

    assert count == 2
    first, second = kept
    assert first.row_number == 0
    assert first.symbol == "AAA"
    assert first.row_key == "symbol=AAA, date=2024-01-02"
    assert first.raw_row == {
        "symbol": "AAA",
        "date": "2024-01-02",
        "open": "101.10",
        "high": "Infinity",
        "low": 1.0,
        "close": "NaN",
        "adj_close": 1.0,
        "volume": 2**40,
        "source": "csv",
    }
    assert first.reasons == ["high: inf is not a finite number", "close: NaN is not a number"]
    assert (first.status, first.source_hash) == ("QUARANTINED", "f" * 64)
    assert second.symbol == "WAY_TOO_LONG_A_SYMBOL_NAME"
    assert second.raw_row["date"] == "2024-02-30"
    assert second.raw_row["source"] == "bad\\u0000byte"
    assert second.reasons == [
        "symbol: 'WAY_TOO_LONG_A_SYMBOL_NAME' is 26 characters, more than VARCHAR(20)",
        "date: '2024-02-30' is not a valid date",
        "source: 'bad\\x00byte' contains a NUL character",
    ]
    assert tuple(recorded) == ("prices_daily", 2, 0, 0, 0, 2, "two bad rows")


def test_quarantine_accepts_frame_rejects_and_source_raw_rejects(engine: Engine) -> None:
    batch_id = uuid.uuid4()
    frame = pd.DataFrame(
        {
            "symbol": ["AAA"],
            "date": [pd.Timestamp("2024-01-02 09:30")],
            "open": [np.float64(1.5)],
            "high": [np.nan],
            "low": [1.0],
            "close": [1.0],
            "adj_close": [1.0],
            "volume": [np.int64(7)],
            "source": ["frame"],
        }
    )
    raw = RawReject(
        table="prices_daily",
        raw_row={"line": "garbage,,,"},
        reasons=("csv: 3 fields, expected 8",),
        row_number=7,
    )
    with engine.begin() as conn:
        result = upsert(conn, "prices_daily", frame, on_reject="return")
        count = quarantine(
            conn,
            batch_id=batch_id,
            table="prices_daily",
            source="frame",
            rejects=[*result.rejected, raw],
        )
        kept = conn.execute(
            text(
                "SELECT row_number, symbol, row_key, raw_row FROM ingest_quarantine "
                "ORDER BY row_number"
            )
        ).all()

    assert count == 2
    assert kept[0].raw_row["date"] == "2024-01-02T09:30:00"
    assert kept[0].raw_row["high"] == "NaN"
    assert kept[0].raw_row["volume"] == 7
    assert kept[0].row_key == "symbol=AAA, date=2024-01-02T09:30:00"
    assert (kept[1].row_number, kept[1].symbol, kept[1].row_key) == (7, None, None)
    assert kept[1].raw_row == {"line": "garbage,,,"}


def test_quarantine_when_nothing_rejected_writes_nothing(engine: Engine) -> None:
    with engine.begin() as conn:
        count = quarantine(
            conn, batch_id=uuid.uuid4(), table="prices_daily", source="x", rejects=[]
        )
        stored = conn.execute(text("SELECT count(*) FROM ingest_quarantine")).scalar()

    assert (count, stored) == (0, 0)


def test_skip_kept_stores_a_payloads_rejects_once_whatever_their_status_or_key_order(
    engine: Engine,
) -> None:
    def keep(rejects: list[RawReject], *, skip_kept: bool = True, source_hash: str | None) -> int:
        with engine.begin() as conn:
            return quarantine(
                conn,
                batch_id=uuid.uuid4(),
                table="news_articles",
                source="file",
                rejects=rejects,
                source_hash=source_hash,
                key=(),
                skip_kept=skip_kept,
            )

    first = RawReject("news_articles", {"headline": "A", "published_at": "x"}, ("bad time",), 2)
    reordered = RawReject("news_articles", {"published_at": "x", "headline": "A"}, ("other",), 2)
    elsewhere = RawReject("news_articles", {"headline": "A", "published_at": "x"}, ("bad",), 3)
    unnumbered = RawReject("news_articles", {"id": 7, "symbols": ["X\u200b"]}, ("bad symbol",))

    assert keep([first, unnumbered, unnumbered], source_hash="a" * 64) == 2  # once in a call too
    with engine.begin() as conn:
        conn.execute(text("UPDATE ingest_quarantine SET status = 'DISCARDED'"))
    assert keep([reordered, unnumbered], source_hash="a" * 64) == 0
    assert keep([elsewhere], source_hash="a" * 64) == 1  # another line is another row
    assert keep([first], source_hash="b" * 64) == 1  # another payload keeps its own
    assert keep([unnumbered], source_hash=None) == 1
    assert keep([unnumbered], source_hash=None) == 0  # no hash: matched as NULL
    assert keep([first], source_hash="a" * 64, skip_kept=False) == 1  # the default keeps all
    with engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM ingest_quarantine")).scalar_one() == 6
