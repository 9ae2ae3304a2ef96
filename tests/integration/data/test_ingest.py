"""Ingest against real PostgreSQL: landing, quarantine, batch rows, outbox events, adjustment."""

from __future__ import annotations

import json
from datetime import date
from decimal import Decimal

import pandas as pd
import pytest
from sqlalchemy import Engine, text

from stocker.core.errors import DataError
from stocker.data.ingest import ingest
from stocker.sources.base import RawReject, SourceBatch

TODAY = date(2024, 6, 28)


def daily(rows, symbol="AAPL", adj=True, source="testfeed"):
    """prices_daily rows from (date, open, high, low, close, volume[, adj_close])."""
    frame = pd.DataFrame(
        [row[:6] for row in rows], columns=["date", "open", "high", "low", "close", "volume"]
    )
    frame.insert(0, "symbol", symbol)
    frame["date"] = [date.fromisoformat(day) for day in frame["date"]]
    if adj:
        frame["adj_close"] = [row[6] if len(row) > 6 else row[4] for row in rows]
    frame["source"] = source
    frame["source_hash"] = "a" * 64
    return frame


WEEK = [
    ("2024-01-08", 10.0, 11.0, 9.5, 10.5, 1000),
    ("2024-01-09", 10.5, 11.5, 10.0, 11.0, 1200),
    ("2024-01-10", 11.0, 11.2, 10.4, 10.8, 900),
    ("2024-01-11", 10.8, 11.0, 10.1, 10.2, 1500),
    ("2024-01-12", 10.2, 10.9, 10.0, 10.7, 1100),
]


def batch(**frames) -> SourceBatch:
    return SourceBatch(source="testfeed", frames=frames)


def count(engine: Engine, sql: str, **params) -> int:
    with engine.connect() as conn:
        return int(conn.execute(text(sql), params).scalar_one())


def test_ingest_when_all_rows_valid_lands_them_registers_symbol_and_enqueues_events(engine, uow):
    report = ingest(uow, batch(prices_daily=daily(WEEK)), today=TODAY)
    prices = report.table("prices_daily")
    assert (prices.received, prices.inserted, prices.updated, prices.quarantined) == (5, 5, 0, 0)
    assert prices.registered_symbols == ["AAPL"]
    assert report.events == 5
    assert count(engine, "SELECT count(*) FROM prices_daily") == 5
    assert count(engine, "SELECT count(*) FROM instrument_info WHERE symbol = 'AAPL'") == 1
    assert count(engine, "SELECT count(*) FROM outbox WHERE stream = 'market-bars'") == 5
    with engine.connect() as conn:
        batch_row = conn.execute(
            text("SELECT * FROM ingest_batches WHERE batch_id = :id"), {"id": prices.batch_id}
        ).one()
        payload = conn.execute(
            text("SELECT payload::text FROM outbox ORDER BY id LIMIT 1")
        ).scalar_one()
    assert (batch_row.received, batch_row.inserted, batch_row.target_table) == (
        5,
        5,
        "prices_daily",
    )
    assert batch_row.source_hash == "a" * 64
    assert '"symbol":"AAPL","date":"2024-01-08","open":"10.0000"' in payload.replace(" ", "")
    assert '"provider":"testfeed"' in payload.replace(" ", "")


def test_ingest_when_reloaded_reports_unchanged_and_enqueues_nothing(engine, uow):
    ingest(uow, batch(prices_daily=daily(WEEK)), today=TODAY)
    again = ingest(uow, batch(prices_daily=daily(WEEK)), today=TODAY)
    prices = again.table("prices_daily")
    assert (prices.inserted, prices.updated, prices.unchanged) == (0, 0, 5)
    assert again.events == 0
    assert count(engine, "SELECT count(*) FROM outbox") == 5


def test_ingest_when_one_bar_changes_enqueues_one_event(engine, uow):
    ingest(uow, batch(prices_daily=daily(WEEK)), today=TODAY)
    changed = [*WEEK[:4], ("2024-01-12", 10.2, 10.9, 10.0, 10.8, 1100)]
    report = ingest(uow, batch(prices_daily=daily(changed)), today=TODAY)
    assert (report.table("prices_daily").updated, report.events) == (1, 1)


def test_ingest_quarantines_rule_rejects_with_raw_row_and_every_reason(engine, uow):
    rows = [*WEEK, ("2024-01-13", 10.7, 10.0, 10.5, 10.6, -3)]  # Saturday, high<low, volume<0
    report = ingest(uow, batch(prices_daily=daily(rows)), today=TODAY)
    prices = report.table("prices_daily")
    assert (prices.inserted, prices.quarantined) == (5, 1)
    with engine.connect() as conn:
        row = conn.execute(text("SELECT * FROM ingest_quarantine")).one()
    assert row.status == "QUARANTINED"
    assert row.batch_id == prices.batch_id
    assert (row.row_number, row.symbol, row.target_table, row.source) == (
        5, "AAPL", "prices_daily", "testfeed"
    )  # fmt: skip
    assert row.raw_row["date"] == "2024-01-13" and row.raw_row["volume"] == -3
    rules = {reason.split(":")[0] for reason in row.reasons}
    assert {"not_a_session", "high_below_low", "negative_volume"} <= rules
    assert prices.reasons["negative_volume"] == 1


def test_ingest_quarantines_column_type_rejects_from_upsert(engine, uow):
    rows = [*WEEK, ("2024-01-16", 10.7, 10.9, 10.5, 10.6, 1000)]
    frame = daily(rows)
    frame["volume"] = frame["volume"].astype(object)
    frame.loc[5, "volume"] = 10**20  # beyond BIGINT
    report = ingest(uow, batch(prices_daily=frame), today=TODAY)
    assert report.table("prices_daily").quarantined == 1
    with engine.connect() as conn:
        reasons = conn.execute(text("SELECT reasons FROM ingest_quarantine")).scalar_one()
    assert any("volume" in reason for reason in reasons)


def test_ingest_symbol_refused_by_column_types_is_not_left_registered(engine, uow):
    frame = daily([WEEK[0]], symbol="ZZZ")
    frame["volume"] = frame["volume"].astype(object)
    frame.loc[0, "volume"] = 10**20
    report = ingest(uow, batch(prices_daily=frame), today=TODAY)
    assert report.table("prices_daily").registered_symbols == []
    assert count(engine, "SELECT count(*) FROM instrument_info") == 0


def test_ingest_source_raw_rejects_join_the_quarantine(engine, uow):
    reject = RawReject(
        table="prices_daily",
        raw_row={"line": "garbage,,,"},
        reasons=("csv: 3 fields, expected 8",),
        row_number=7,
    )
    source_batch = SourceBatch(
        source="testfeed", frames={"prices_daily": daily(WEEK)}, rejects=[reject]
    )
    report = ingest(uow, source_batch, today=TODAY)
    prices = report.table("prices_daily")
    assert (prices.received, prices.inserted, prices.quarantined) == (6, 5, 1)
    with engine.connect() as conn:
        row = conn.execute(text("SELECT row_number, raw_row, reasons FROM ingest_quarantine")).one()
    assert row.raw_row == {"line": "garbage,,,"} and row.row_number == 7


def test_ingest_unknown_table_is_refused_before_writing(engine, uow):
    with pytest.raises(DataError, match="prices_weekly"):
        ingest(uow, batch(prices_daily=daily(WEEK), prices_weekly=daily(WEEK)), today=TODAY)
    assert count(engine, "SELECT count(*) FROM prices_daily") == 0


def test_ingest_missing_adj_close_is_computed_from_closes_and_actions(engine, uow):
    actions = pd.DataFrame(
        {
            "symbol": ["AAPL"],
            "date": [date(2024, 1, 10)],
            "action_type": ["DIVIDEND"],
            "value": [0.55],
        }
    )
    report = ingest(
        uow, batch(corporate_actions=actions, prices_daily=daily(WEEK, adj=False)), today=TODAY
    )
    assert report.table("corporate_actions").inserted == 1
    with engine.connect() as conn:
        adjusted = (
            conn.execute(text("SELECT adj_close FROM prices_daily ORDER BY date")).scalars().all()
        )
    factor = 1 - 0.55 / 11.0  # dividend over the close before the ex-date
    assert adjusted[2:] == [Decimal("10.8000"), Decimal("10.2000"), Decimal("10.7000")]
    assert adjusted[0] == Decimal(f"{10.5 * factor:.4f}")
    assert adjusted[1] == Decimal(f"{11.0 * factor:.4f}")
    again = ingest(uow, batch(prices_daily=daily(WEEK, adj=False)), today=TODAY)
    assert again.table("prices_daily").unchanged == 5 and again.events == 0


def test_ingest_new_split_readjusts_stored_history(engine, uow):
    ingest(uow, batch(prices_daily=daily(WEEK[:3])), today=TODAY)
    after_split = [
        ("2024-01-11", 5.4, 5.5, 5.05, 5.1, 3000),
        ("2024-01-12", 5.1, 5.45, 5.0, 5.35, 2200),
    ]
    split = pd.DataFrame(
        {"symbol": ["AAPL"], "date": [date(2024, 1, 11)], "action_type": ["SPLIT"], "value": [2]}
    )
    report = ingest(
        uow, batch(corporate_actions=split, prices_daily=daily(after_split)), today=TODAY
    )
    assert report.table("prices_daily").quarantined == 0  # the split explains the -50% close
    assert "AAPL" in report.adjusted_symbols
    with engine.connect() as conn:
        first = conn.execute(
            text("SELECT adj_close FROM prices_daily ORDER BY date LIMIT 1")
        ).scalar_one()
    assert first == Decimal("5.2500")


def test_ingest_new_split_publishes_the_readjusted_earlier_bars(engine, uow):
    ingest(uow, batch(prices_daily=daily(WEEK[:3])), today=TODAY)
    split = pd.DataFrame(
        {"symbol": ["AAPL"], "date": [date(2024, 1, 11)], "action_type": ["SPLIT"], "value": [2]}
    )
    after_split = [("2024-01-11", 5.4, 5.5, 5.05, 5.1, 3000)]
    report = ingest(
        uow, batch(corporate_actions=split, prices_daily=daily(after_split)), today=TODAY
    )
    # one new bar plus the three earlier bars whose adj_close the split halved
    assert report.events == 4
    with engine.connect() as conn:
        events = (
            conn.execute(
                text(
                    "SELECT payload::text FROM outbox WHERE stream = 'market-bars' "
                    "ORDER BY id DESC "
                    "LIMIT 4"
                )
            )
            .scalars()
            .all()
        )
    dates = sorted(json.loads(event)["date"] for event in events)
    assert dates == ["2024-01-08", "2024-01-09", "2024-01-10", "2024-01-11"]
    first = next(json.loads(e) for e in events if json.loads(e)["date"] == "2024-01-08")
    assert Decimal(first["adj_close"]) * 2 == Decimal(first["close"])


def test_ingest_reports_vendor_adjustment_disagreement(engine, uow):
    actions = pd.DataFrame(
        {"symbol": ["AAPL"], "date": [date(2024, 1, 10)], "action_type": ["DIVIDEND"],
         "value": [0.55]}
    )  # fmt: skip
    ingest(uow, batch(corporate_actions=actions), today=TODAY)
    # the vendor ignores the dividend: its adj_close equals the close
    report = ingest(uow, batch(prices_daily=daily(WEEK)), today=TODAY)
    assert set(report.vendor_disagreements["symbol"]) == {"AAPL"}
    assert len(report.vendor_disagreements) == 2
    assert any("AAPL: the vendor's adj_close differs" in warning for warning in report.warnings)


def test_ingest_stale_and_jump_rules_see_the_stored_previous_bar(engine, uow):
    ingest(uow, batch(prices_daily=daily(WEEK)), today=TODAY)
    stale = [("2024-01-16", 10.2, 10.9, 10.0, 10.7, 1100)]  # repeats 2024-01-12
    jump = [("2024-01-16", 30.0, 31.0, 29.0, 30.0, 1100)]
    assert ingest(uow, batch(prices_daily=daily(stale)), today=TODAY).quarantined == 1
    report = ingest(uow, batch(prices_daily=daily(jump)), today=TODAY)
    assert report.table("prices_daily").reasons["price_jump"] == 1


def test_ingest_intraday_bars_use_the_instruments_exchange_calendar(engine, uow):
    info = pd.DataFrame({"symbol": ["RELIANCE"], "exchange": ["NSE"], "currency": ["INR"]})
    stamps = pd.to_datetime(
        ["2024-01-08 03:45", "2024-01-08 03:50", "2024-01-08 14:30"], utc=True
    )  # 09:15 and 09:20 IST are on the XBOM grid; 14:30 UTC is after the close
    bars = pd.DataFrame(
        {
            "symbol": "RELIANCE", "timestamp": stamps, "interval": "5m", "open": 2500.0,
            "high": 2510.0, "low": 2490.0, "close": 2505.0, "volume": [10, 20, 30],
        }
    )  # fmt: skip
    report = ingest(uow, batch(instrument_info=info, prices_intraday=bars), today=TODAY)
    intraday = report.table("prices_intraday")
    assert (intraday.inserted, intraday.quarantined) == (2, 1)
    assert intraday.reasons["outside_session"] == 1
    assert report.events == 0


def test_ingest_other_tables_validate_and_land(engine, uow):
    metrics = pd.DataFrame(
        {
            "symbol": ["AAPL", "AAPL"], "as_of_date": [date(2024, 1, 5), date(2030, 1, 1)],
            "period_type": ["TTM", "TTM"], "source": ["testfeed", "testfeed"],
            "pe_ttm": [30.5, 31.0],
        }
    )  # fmt: skip
    sentiment = pd.DataFrame(
        {
            "symbol": [None, "AAPL"], "date": [date(2024, 1, 5), date(2024, 1, 5)],
            "source": ["news", "news"], "sentiment_score": [0.25, 1.5],
        }
    )  # fmt: skip
    report = ingest(uow, batch(instrument_metrics=metrics, market_sentiment=sentiment), today=TODAY)
    assert report.table("instrument_metrics").quarantined == 1
    assert report.table("instrument_metrics").reasons["future_date"] == 1
    assert report.table("market_sentiment").quarantined == 1
    assert report.table("market_sentiment").reasons["bad_sentiment_score"] == 1
    assert count(engine, "SELECT count(*) FROM market_sentiment WHERE symbol IS NULL") == 1


def test_ingest_daily_bars_are_checked_against_the_calendar_of_each_instruments_exchange(
    engine, uow
):
    # 2024-01-26 is Republic Day: NSE and BSE are closed, NYSE trades.
    info = pd.DataFrame({"symbol": ["INFY", "TCS", "AAPL"], "exchange": ["NSE", "XNSE", None]})
    days = [
        ("2024-01-25", 10.0, 11.0, 9.5, 10.5, 1000),
        ("2024-01-26", 10.5, 11.5, 10.0, 11.0, 1200),
    ]
    bars = pd.concat([daily(days, symbol) for symbol in ("INFY", "TCS", "AAPL")], ignore_index=True)

    report = ingest(uow, batch(instrument_info=info, prices_daily=bars), today=TODAY)

    prices = report.table("prices_daily")
    assert (prices.inserted, prices.quarantined) == (4, 2)
    with engine.connect() as conn:
        held = conn.execute(
            text("SELECT symbol, reasons FROM ingest_quarantine ORDER BY symbol")
        ).all()
        landed = conn.execute(
            text("SELECT symbol, date FROM prices_daily WHERE date = '2024-01-26'")
        ).all()
    assert [row.symbol for row in held] == ["INFY", "TCS"]
    assert all(
        row.reasons == ["not_a_session: date 2024-01-26 is not a session of XBOM"] for row in held
    )
    assert [row.symbol for row in landed] == ["AAPL"]


def test_ingest_reload_of_vendor_adjusted_bars_changes_nothing_and_warns_only_when_new(engine, uow):
    actions = pd.DataFrame(
        {"symbol": ["AAPL"], "date": [date(2024, 1, 10)], "action_type": ["DIVIDEND"],
         "value": [0.55]}
    )  # fmt: skip
    ingest(uow, batch(corporate_actions=actions), today=TODAY)
    first = ingest(uow, batch(prices_daily=daily(WEEK)), today=TODAY)
    (warning,) = [text for text in first.warnings if "vendor's adj_close differs" in text]
    assert "Stocker keeps its own" in warning
    assert "to take the vendor's" in warning and "--table corporate_actions" in warning
    events = count(engine, "SELECT count(*) FROM outbox WHERE stream = 'market-bars'")
    stored = count(engine, "SELECT sum(adj_close * 10000)::bigint FROM prices_daily")

    again = ingest(uow, batch(prices_daily=daily(WEEK)), today=TODAY)

    prices = again.table("prices_daily")
    assert (prices.inserted, prices.updated, prices.unchanged) == (0, 0, 5)
    assert again.events == 0
    assert count(engine, "SELECT count(*) FROM outbox WHERE stream = 'market-bars'") == events
    assert count(engine, "SELECT sum(adj_close * 10000)::bigint FROM prices_daily") == stored
    assert not [text for text in again.warnings if "adj_close differs" in text]
    assert again.vendor_disagreements.empty

    # a corrected bar is a changed disagreement: reported again, for that bar only
    corrected = [
        (*row[:4], row[4] + 0.05, row[5]) if row[0] == "2024-01-08" else row for row in WEEK
    ]
    third = ingest(uow, batch(prices_daily=daily(corrected)), today=TODAY)
    days = [str(pd.Timestamp(day).date()) for day in third.vendor_disagreements["date"]]
    assert days == ["2024-01-08"] and third.events >= 1
