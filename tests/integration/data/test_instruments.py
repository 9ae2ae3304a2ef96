"""The instrument master and point-in-time metric reads on real PostgreSQL."""

from __future__ import annotations

from datetime import date

import numpy as np
import pytest
from sqlalchemy import Connection, Engine, text

from stocker.core.errors import DataError
from stocker.data import instruments
from stocker.store.uow import SqlUnitOfWork


@pytest.fixture
def registered(engine: Engine, uow: SqlUnitOfWork) -> Engine:
    instruments.upsert_instruments(
        uow,
        [
            {"symbol": "AAPL", "name": "Apple", "sector": "Technology"},
            {"symbol": "XOM", "name": "Exxon", "sector": "Energy"},
            {"symbol": "GE", "name": "General Electric", "sector": "Industrials"},
        ],
    )
    return engine


def _metric(conn: Connection, symbol: str, as_of: date, period: str, pe: float, **extra) -> None:
    values = {"source": "test", "roe": None, **extra}
    conn.execute(
        text(
            "INSERT INTO instrument_metrics (symbol, as_of_date, period_type, source, pe_ttm, roe) "
            "VALUES (:symbol, :as_of, :period, :source, :pe, :roe)"
        ),
        {"symbol": symbol, "as_of": as_of, "period": period, "pe": pe, **values},
    )


def test_upsert_instruments_updates_by_symbol_and_list_orders_them(
    registered: Engine, uow: SqlUnitOfWork
) -> None:
    result = instruments.upsert_instruments(
        uow, [{"symbol": "XOM", "name": "Exxon Mobil", "sector": "Energy"}]
    )
    listed = instruments.list_instruments(uow)
    assert (result.inserted, result.updated) == (0, 1)
    assert list(listed["symbol"]) == ["AAPL", "GE", "XOM"]
    assert listed.set_index("symbol").at["XOM", "name"] == "Exxon Mobil"


def test_deactivate_hides_instrument_from_default_list_but_keeps_row(
    registered: Engine, uow: SqlUnitOfWork
) -> None:
    changed = instruments.deactivate(uow, ["GE"])
    again = instruments.deactivate(uow, ["GE"])
    active = instruments.list_instruments(uow)
    everything = instruments.list_instruments(uow, include_inactive=True)
    assert (changed, again) == (1, 0)
    assert "GE" not in set(active["symbol"])
    assert not bool(everything.set_index("symbol").at["GE", "active"])


def test_deactivate_when_symbol_unknown_names_it(registered: Engine, uow: SqlUnitOfWork) -> None:
    with pytest.raises(DataError, match="NOPE not in instrument_info"):
        instruments.deactivate(uow, ["GE", "NOPE"])


def test_metrics_as_of_returns_latest_row_on_or_before_date_and_never_a_later_one(
    registered: Engine, uow: SqlUnitOfWork
) -> None:
    with registered.begin() as conn:
        _metric(conn, "AAPL", date(2024, 1, 31), "TTM", 30.0)
        _metric(conn, "AAPL", date(2024, 4, 30), "TTM", 28.0)
        _metric(conn, "AAPL", date(2024, 7, 31), "TTM", 35.0)  # after D: must never show
        _metric(conn, "AAPL", date(2024, 3, 31), "FQ", 7.0)
        _metric(conn, "XOM", date(2024, 5, 16), "TTM", 12.0)  # after D: XOM has nothing yet
        _metric(conn, "GE", date(2024, 5, 15), "TTM", 20.0)  # on D exactly
    frame = instruments.metrics_as_of(uow, ["AAPL", "XOM", "GE"], date(2024, 5, 15))
    ttm = instruments.metrics_as_of(
        uow, ["AAPL", "GE"], "2024-05-15", period_type="TTM", fields=["pe_ttm"]
    )
    rows = {
        (row.symbol, row.period_type): (row.as_of_date, row.pe_ttm) for row in frame.itertuples()
    }
    assert rows == {
        ("AAPL", "FQ"): (date(2024, 3, 31), 7.0),
        ("AAPL", "TTM"): (date(2024, 4, 30), 28.0),
        ("GE", "TTM"): (date(2024, 5, 15), 20.0),
    }
    assert (frame["as_of_date"] <= date(2024, 5, 15)).all()
    assert list(ttm.columns) == ["symbol", "period_type", "as_of_date", "pe_ttm"]
    assert ttm["pe_ttm"].dtype == np.float64
    assert ttm["pe_ttm"].tolist() == [28.0, 20.0]


def test_metrics_as_of_prefers_the_requested_source(registered: Engine, uow: SqlUnitOfWork) -> None:
    with registered.begin() as conn:
        _metric(conn, "AAPL", date(2024, 1, 31), "TTM", 30.0, source="vendor_a")
        _metric(conn, "AAPL", date(2024, 1, 31), "TTM", 31.0, source="vendor_b")
    from_a = instruments.metrics_as_of(
        uow, ["AAPL"], date(2024, 2, 1), "TTM", ["pe_ttm"], source="vendor_a"
    )
    assert from_a["pe_ttm"].tolist() == [30.0]


def test_metrics_as_of_when_field_or_period_unknown_raises(
    registered: Engine, uow: SqlUnitOfWork
) -> None:
    with pytest.raises(DataError, match="'pe_magic' not in instrument_metrics"):
        instruments.metrics_as_of(uow, ["AAPL"], date(2024, 1, 1), fields=["pe_magic"])
    with pytest.raises(DataError, match="period_type: got 'WEEKLY'"):
        instruments.metrics_as_of(uow, ["AAPL"], date(2024, 1, 1), period_type="WEEKLY")
