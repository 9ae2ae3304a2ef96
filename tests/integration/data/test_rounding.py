"""One rounding rule for close and adj_close: a bar no corporate action touches stores
adj_close == close exactly, whatever fifth decimals the vendor sent."""

from __future__ import annotations

from datetime import date
from pathlib import Path

from sqlalchemy import text

from stocker.data.ingest import fetch_and_ingest
from stocker.sources import registry
from stocker.sources.base import FetchRequest

TODAY = date(2024, 6, 28)
# closes whose fifth decimal is 5, just below or above a midpoint, and at the smallest price
CLOSES = [
    "101.12345", "101.12355", "0.00005", "0.00015", "2.00005", "1.00015", "123.45675",
    "99.99995", "1234.56785", "10.12345678", "8.88885", "1.0000500000000001",
]  # fmt: skip


def _load(uow, path: Path):
    return fetch_and_ingest(
        uow, registry.get_source("csv", path=path), FetchRequest(()), today=TODAY
    )


def _stored(engine) -> list[tuple[str, object, object]]:
    with engine.connect() as conn:
        rows = conn.execute(text("SELECT symbol, close, adj_close FROM prices_daily")).all()
    return [(row.symbol, row.close, row.adj_close) for row in rows]


def test_bars_without_actions_store_adj_close_equal_to_close_with_or_without_vendor_adjusted(
    engine, uow, tmp_path: Path
):
    computed = tmp_path / "computed.csv"
    computed.write_text(
        "symbol,date,open,high,low,close,volume\n"
        + "".join(f"C{i},2024-01-16,{c},{c},{c},{c},100\n" for i, c in enumerate(CLOSES))
    )
    vendor = tmp_path / "vendor.csv"
    # the vendor's adjusted close: its close carried to other fifth decimals (float noise)
    vendor.write_text(
        "symbol,date,open,high,low,close,adj_close,volume\n"
        "V1,2024-01-16,101.12345001,101.12345001,101.12345001,101.12345001,101.12344999,100\n"
        "V2,2024-01-16,2.00005,2.00005,2.00005,2.00005,2.0000499,100\n"
        "V3,2024-01-16,50.00015,50.00015,50.00015,50.00015,50.0001,100\n"
    )

    assert _load(uow, computed).table("prices_daily").inserted == len(CLOSES)
    assert _load(uow, vendor).table("prices_daily").inserted == 3

    stored = _stored(engine)
    assert len(stored) == len(CLOSES) + 3
    assert [row for row in stored if row[1] != row[2]] == []


def test_price_that_rounds_to_zero_is_quarantined_not_a_failed_batch(engine, uow, tmp_path: Path):
    path = tmp_path / "tiny.csv"
    path.write_text(
        "symbol,date,open,high,low,close,volume\n"
        "OK,2024-01-16,1,1,1,1,100\n"
        "TINY,2024-01-16,0.00004,0.00004,0.00004,0.00004,100\n"
    )

    report = _load(uow, path)

    prices = report.table("prices_daily")
    assert (prices.inserted, prices.quarantined) == (1, 1)
    assert prices.reasons["non_positive_price"] == 1
    with engine.connect() as conn:
        reasons = conn.execute(text("SELECT reasons FROM ingest_quarantine")).scalar_one()
    assert "close 4e-05 rounds to 0 at 4 decimals" in " ".join(reasons)
