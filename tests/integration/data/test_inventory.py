"""What `stocker demo` reports as stored: counts and date ranges per table and per source."""

from __future__ import annotations

from datetime import date

from sqlalchemy import Engine, text

from stocker.data.inventory import stored_inventory
from stocker.store.uow import SqlUnitOfWork


def test_stored_inventory_counts_rows_and_ranges_per_table_and_source(
    engine: Engine, uow: SqlUnitOfWork
) -> None:
    with engine.begin() as conn:
        conn.execute(text("INSERT INTO instrument_info (symbol) VALUES ('AAA'), ('BBB')"))
        conn.execute(
            text(
                "INSERT INTO prices_daily (symbol, date, open, high, low, close, adj_close, "
                "volume, source) VALUES (:symbol, :day, 1, 1, 1, 1, 1, 10, :source)"
            ),
            [
                {"symbol": "AAA", "day": date(2024, 1, 2), "source": "one"},
                {"symbol": "AAA", "day": date(2024, 1, 3), "source": "one"},
                {"symbol": "BBB", "day": date(2024, 1, 4), "source": "two"},
            ],
        )

    inventory = stored_inventory(uow)

    tables = {summary.table: summary for summary in inventory.tables}
    assert tables["instrument_info"].rows == 2 and tables["instrument_info"].first is None
    prices = tables["prices_daily"]
    assert (prices.rows, prices.first, prices.last) == (3, date(2024, 1, 2), date(2024, 1, 4))
    assert tables["price_returns"].rows == 0
    by_source = [(s.source, s.symbols, s.rows, s.first, s.last) for s in inventory.sources]
    assert by_source == [
        ("one", 1, 2, date(2024, 1, 2), date(2024, 1, 3)),
        ("two", 1, 1, date(2024, 1, 4), date(2024, 1, 4)),
    ]
