"""The quarantine workflow against real PostgreSQL: list, show, release (corrected), discard."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pandas as pd
import pytest
from sqlalchemy import text

from stocker.core.errors import DataError
from stocker.data import quarantine
from stocker.data.ingest import ingest
from stocker.sources.base import SourceBatch

TODAY = date(2024, 6, 28)


def bars(rows, symbol="AAPL"):
    frame = pd.DataFrame(rows, columns=["date", "open", "high", "low", "close", "volume"])
    frame.insert(0, "symbol", symbol)
    frame["date"] = [date.fromisoformat(day) for day in frame["date"]]
    frame["adj_close"] = frame["close"]
    frame["source"] = "testfeed"
    return frame


GOOD = [
    ("2024-01-08", 10.0, 11.0, 9.5, 10.5, 1000),
    ("2024-01-09", 10.5, 11.5, 10.0, 11.0, 1200),
]
BROKEN = [
    ("2024-01-10", 11.0, 10.0, 10.4, 10.8, 900),  # high below low, open and close
    ("2024-01-13", 10.8, 11.0, 10.1, 10.2, 1500),  # a Saturday
]


@pytest.fixture
def quarantined(engine, uow):
    """Two good bars landed and two broken ones quarantined; returns their quarantine ids."""
    frames = {"prices_daily": bars(GOOD + BROKEN), "market_sentiment": pd.DataFrame(
        {"symbol": ["MSFT"], "date": [date(2024, 1, 8)], "source": ["news"],
         "sentiment_score": [3.0]}
    )}  # fmt: skip
    ingest(uow, SourceBatch(source="testfeed", frames=frames), today=TODAY)
    entries = quarantine.list_entries(uow, table="prices_daily")
    return sorted(entry.id for entry in entries)


def prices(engine):
    with engine.connect() as conn:
        return conn.execute(text("SELECT date, high, close FROM prices_daily ORDER BY date")).all()


def test_list_filters_by_table_symbol_status_and_batch(engine, quarantined, uow):
    assert len(quarantine.list_entries(uow)) == 3
    assert len(quarantine.list_entries(uow, table="prices_daily")) == 2
    assert [entry.symbol for entry in quarantine.list_entries(uow, symbol="MSFT")] == ["MSFT"]
    assert quarantine.list_entries(uow, status="RELEASED") == []
    entry = quarantine.show_entry(uow, quarantined[0])
    assert len(quarantine.list_entries(uow, batch_id=entry.batch_id)) == 2
    with pytest.raises(DataError, match="status 'LOST'"):
        quarantine.list_entries(uow, status="LOST")


def test_show_returns_raw_row_and_every_reason(engine, quarantined, uow):
    entry = quarantine.show_entry(uow, quarantined[0])
    assert entry.raw_row["date"] == "2024-01-10"
    assert entry.raw_row["high"] == 10.0
    rules = {reason.split(":")[0] for reason in entry.reasons}
    assert rules == {"high_below_open", "high_below_close", "high_below_low"}
    assert entry.row_key == "symbol=AAPL, date=2024-01-10"
    with pytest.raises(DataError, match="quarantine id 999 does not exist"):
        quarantine.show_entry(uow, 999)


def test_release_with_correction_lands_row_marks_released_and_enqueues_event(
    engine, quarantined, uow
):
    with engine.connect() as conn:
        events_before = conn.execute(text("SELECT count(*) FROM outbox")).scalar_one()
    report = quarantine.release(uow, [quarantined[0]], {"high": "11.2"}, today=TODAY)
    assert report.released == [quarantined[0]]
    assert report.events == 1
    assert (date(2024, 1, 10), Decimal("11.2000"), Decimal("10.8000")) in prices(engine)
    entry = quarantine.show_entry(uow, quarantined[0])
    assert entry.status == "RELEASED"
    assert entry.resolved_at is not None
    assert entry.resolution_note == "released with high=11.2"
    with engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM outbox")).scalar_one() == events_before + 1
        batch = conn.execute(
            text("SELECT inserted, description FROM ingest_batches ORDER BY id DESC LIMIT 1")
        ).one()
    assert batch.inserted == 1 and "release from quarantine" in batch.description


def test_release_when_row_still_fails_keeps_it_quarantined_and_reports_new_reasons(
    engine, quarantined, uow
):
    before = prices(engine)
    report = quarantine.release(uow, [quarantined[0]], {"high": "10.5"}, today=TODAY)
    assert report.released == []
    (outcome,) = report.outcomes
    rules = {reason.split(":")[0] for reason in outcome.reasons}
    assert rules == {"high_below_open", "high_below_close"}  # no longer below low
    assert quarantine.show_entry(uow, quarantined[0]).status == "QUARANTINED"
    assert prices(engine) == before


def test_release_saturday_bar_fails_until_date_is_corrected(engine, quarantined, uow):
    saturday = quarantined[1]
    first = quarantine.release(uow, [saturday], today=TODAY)
    assert first.outcomes[0].reasons == ("not_a_session: date 2024-01-13 is not a session of XNYS",)
    second = quarantine.release(uow, [saturday], {"date": "2024-01-12"}, today=TODAY)
    assert second.released == [saturday]
    assert date(2024, 1, 12) in [row.date for row in prices(engine)]


def test_release_mixed_ids_lands_the_good_one_only(engine, quarantined, uow):
    report = quarantine.release(uow, quarantined, {"high": "11.2"}, today=TODAY)
    # the correction fixes the first row; the Saturday is still not a session
    assert report.released == [quarantined[0]]
    assert report.still_quarantined == [quarantined[1]]


def test_release_rejects_unknown_correction_field_and_unknown_id(engine, quarantined, uow):
    with pytest.raises(DataError, match="clsoe"):
        quarantine.release(uow, [quarantined[0]], {"clsoe": "1"}, today=TODAY)
    with pytest.raises(DataError, match="12345"):
        quarantine.release(uow, [12345], today=TODAY)


def test_discard_marks_rows_and_keeps_them(engine, quarantined, uow):
    assert quarantine.discard(uow, [quarantined[1]], "weekend bar from a bad feed") == 1
    entry = quarantine.show_entry(uow, quarantined[1])
    assert (entry.status, entry.resolution_note) == ("DISCARDED", "weekend bar from a bad feed")
    assert quarantine.discard(uow, [quarantined[1]], "again") == 0
    report = quarantine.release(uow, [quarantined[1]], today=TODAY)
    assert "only QUARANTINED rows can be released" in report.outcomes[0].reasons[0]
    with pytest.raises(DataError, match="note"):
        quarantine.discard(uow, [quarantined[0]], " ")


def test_release_of_a_genuine_jump_needs_the_reviewer_to_accept_the_rule(engine, quarantined, uow):
    gap = bars([("2024-01-16", 17.0, 17.5, 16.8, 17.2, 5000)])  # +56% over 2024-01-09's 11.0
    ingest(uow, SourceBatch(source="testfeed", frames={"prices_daily": gap}), today=TODAY)
    (entry,) = quarantine.list_entries(uow, symbol="AAPL", table="prices_daily", limit=1)
    assert entry.reasons[0].startswith("price_jump: close moved +56.4% from 11 on 2024-01-09")
    assert quarantine.release(uow, [entry.id], today=TODAY).released == []
    report = quarantine.release(uow, [entry.id], today=TODAY, accept=["price_jump"])
    assert report.released == [entry.id]
    assert quarantine.show_entry(uow, entry.id).resolution_note == (
        "released as is (accepted: price_jump)"
    )
    with pytest.raises(DataError, match="high_below_low cannot be accepted"):
        quarantine.release(uow, [quarantined[0]], today=TODAY, accept=["high_below_low"])


def test_release_of_an_unparseable_csv_row_maps_headers_and_applies_correction(
    engine, tmp_path, uow
):
    from stocker.data.ingest import fetch_and_ingest
    from stocker.sources import registry
    from stocker.sources.base import FetchRequest

    path = tmp_path / "vendor.csv"
    path.write_text(
        "Symbol,Date,Open,High,Low,Close,Adj Close,Volume\n"
        "MSFT,2024-01-16,390,392,389,391,391,100\n"
        "MSFT,2024-01-17,391,393,390,392,392,12x\n"
    )
    source = registry.get_source("csv", path=path)
    report = fetch_and_ingest(uow, source, FetchRequest(()), today=TODAY)
    assert report.table("prices_daily").reasons["unparseable"] == 1
    (entry,) = quarantine.list_entries(uow)
    assert entry.raw_row["Volume"] == "12x"
    release = quarantine.release(uow, [entry.id], {"volume": "1200"}, today=TODAY)
    assert release.released == [entry.id], release.outcomes
    with engine.connect() as conn:
        row = conn.execute(
            text("SELECT volume, adj_close, source FROM prices_daily WHERE date = '2024-01-17'")
        ).one()
    assert (row.volume, row.adj_close, row.source) == (1200, Decimal("392.0000"), "csv:vendor.csv")
