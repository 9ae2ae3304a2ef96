"""`load_panel(s)` against `pandas.read_sql` + `pivot` on real PostgreSQL."""

from __future__ import annotations

from decimal import Decimal

import numpy as np
import pandas as pd
import pytest
from sqlalchemy import Connection, Engine, text

from stocker.core.errors import DataError
from stocker.store.panel import load_panel, load_panels, lookback_start
from stocker.store.uow import SqlUnitOfWork

SESSIONS = pd.bdate_range("2024-01-02", periods=30).date
SYMBOLS = ["AAA", "BBB", "CCC", "DDD"]


def _bars() -> list[dict]:
    """Random 4-decimal prices; BBB misses days 5-7, CCC starts on day 10, DDD ends on day 20."""
    rng = np.random.default_rng(7)
    bars = []
    for number, symbol in enumerate(SYMBOLS):
        closes = 20.0 * (number + 1) * np.exp(np.cumsum(rng.normal(0, 0.03, len(SESSIONS))))
        for day_number, (day, close) in enumerate(zip(SESSIONS, closes, strict=True)):
            if symbol == "BBB" and 5 <= day_number <= 7:
                continue
            if symbol == "CCC" and day_number < 10:
                continue
            if symbol == "DDD" and day_number > 20:
                continue
            price = Decimal(f"{close:.4f}")
            bars.append(
                {
                    "symbol": symbol,
                    "date": day,
                    "price": price,
                    "adj": Decimal(f"{close * 0.987654:.4f}"),
                    "volume": int(rng.integers(1_000, 10_000_000)),
                }
            )
    return bars


@pytest.fixture
def prices(engine: Engine) -> Engine:
    with engine.begin() as conn:
        conn.execute(
            text("INSERT INTO instrument_info (symbol) VALUES (:symbol)"),
            [{"symbol": symbol} for symbol in SYMBOLS],
        )
        conn.execute(
            text(
                "INSERT INTO prices_daily (symbol, date, open, high, low, close, adj_close, "
                "volume, source) VALUES (:symbol, :date, :price, :price, :price, :price, :adj, "
                ":volume, 'test')"
            ),
            _bars(),
        )
    return engine


def _oracle(conn: Connection, field: str, where: str = "", **parameters: object) -> pd.DataFrame:
    frame = pd.read_sql(
        text(f"SELECT symbol, date, {field}::float8 AS value FROM prices_daily {where}"),
        conn,
        params=parameters,
    )
    wide = frame.pivot(index="date", columns="symbol", values="value")
    wide.index = pd.DatetimeIndex(pd.to_datetime(wide.index), name="date").as_unit("ns")
    return wide.sort_index()


@pytest.mark.parametrize("field", ["adj_close", "close", "volume"])
def test_load_panel_equals_read_sql_pivot_exactly_with_gaps_as_nan(
    prices: Engine, field: str
) -> None:
    with prices.connect() as conn:
        fast = load_panel(conn, field)
        expected = _oracle(conn, field)
    assert fast.shape == (30, 4)
    assert fast.dtypes.eq(np.float64).all()
    assert fast["BBB"].isna().sum() == 3 and fast["CCC"].isna().sum() == 10
    pd.testing.assert_frame_equal(fast, expected, check_exact=True, check_column_type=False)


def test_load_panel_with_symbols_and_dates_keeps_requested_order_and_bounds(
    prices: Engine,
) -> None:
    start, end = SESSIONS[3], SESSIONS[12]
    with prices.connect() as conn:
        fast = load_panel(conn, symbols=["DDD", "BBB", "NOPE"], start=start, end=end)
        expected = _oracle(
            conn,
            "adj_close",
            "WHERE symbol IN ('DDD', 'BBB') AND date BETWEEN :start AND :end",
            start=start,
            end=end,
        ).reindex(columns=["DDD", "BBB", "NOPE"])
    assert list(fast.columns) == ["DDD", "BBB", "NOPE"]
    assert fast["NOPE"].isna().all()
    pd.testing.assert_frame_equal(
        fast, expected, check_exact=True, check_column_type=False, check_names=False
    )


def test_load_panels_returns_every_field_on_one_shared_grid(prices: Engine) -> None:
    with prices.connect() as conn:
        panels = load_panels(conn, ["open", "adj_close", "volume"])
        expected_open = _oracle(conn, "open")
    assert set(panels) == {"open", "adj_close", "volume"}
    assert panels["open"].index.equals(panels["volume"].index)
    assert panels["open"].columns.equals(panels["adj_close"].columns)
    pd.testing.assert_frame_equal(
        panels["open"], expected_open, check_exact=True, check_column_type=False
    )


def test_load_panel_by_universe_reads_live_members_only(prices: Engine) -> None:
    with prices.begin() as conn:
        universe_id = conn.execute(
            text("INSERT INTO instrument_universe (name) VALUES ('pair') RETURNING id")
        ).scalar_one()
        conn.execute(
            text(
                "INSERT INTO instrument_universe_member (universe_id, symbol, is_deleted) "
                "VALUES (:id, 'AAA', FALSE), (:id, 'CCC', FALSE), (:id, 'DDD', TRUE)"
            ),
            {"id": universe_id},
        )
    with prices.connect() as conn:
        fast = load_panel(conn, "close", universe="pair")
        with pytest.raises(DataError, match="universe: 'missing' does not exist"):
            load_panel(conn, universe="missing")
    assert list(fast.columns) == ["AAA", "CCC"]


def test_load_panel_when_field_or_table_unknown_raises_naming_it(prices: Engine) -> None:
    with prices.connect() as conn:
        with pytest.raises(DataError, match="no column 'vwap'"):
            load_panel(conn, "vwap")
        with pytest.raises(DataError, match="'no_such_table' does not exist"):
            load_panel(conn, table="no_such_table")
        with pytest.raises(DataError, match="field 'source' has type varchar"):
            load_panel(conn, "source")


def test_load_panel_when_nothing_matches_returns_empty_frame(prices: Engine) -> None:
    with prices.connect() as conn:
        empty = load_panel(conn, start="2030-01-01")
    assert empty.shape == (0, 0)


def test_load_panel_reads_other_tables_with_nulls_as_nan(engine: Engine) -> None:
    with engine.begin() as conn:
        conn.execute(text("INSERT INTO instrument_info (symbol) VALUES ('AAA'), ('BBB')"))
        conn.execute(
            text(
                'INSERT INTO price_returns (symbol, date, "return") VALUES '
                "('AAA', '2024-01-02', 0.0123456789), ('BBB', '2024-01-03', -0.5)"
            )
        )
        returns = load_panel(conn, "return", table="price_returns")
    assert returns.loc["2024-01-02", "AAA"] == 0.0123456789
    assert np.isnan(returns.loc["2024-01-02", "BBB"])
    assert returns.loc["2024-01-03", "BBB"] == -0.5


def test_lookback_start_returns_earliest_of_the_previous_sessions(prices: Engine) -> None:
    with prices.connect() as conn:
        assert lookback_start(conn, SESSIONS[10], 3) == SESSIONS[7]
        assert lookback_start(conn, SESSIONS[1], 5) == SESSIONS[0]
        assert lookback_start(conn, SESSIONS[0], 5) is None


def test_load_panel_over_years_splits_into_slices_and_sees_uncommitted_rows(
    engine: Engine,
) -> None:
    sessions = pd.bdate_range("2019-12-30", periods=1100).date  # about 4.2 years: 4 slices
    rng = np.random.default_rng(11)
    with engine.begin() as conn:
        conn.execute(text("INSERT INTO instrument_info (symbol) VALUES ('AAA'), ('BBB')"))
        rows = [
            {"symbol": symbol, "date": day, "price": Decimal(f"{rng.uniform(1, 500):.4f}")}
            for symbol in ("AAA", "BBB")
            for number, day in enumerate(sessions)
            if not (symbol == "BBB" and number % 7 == 3)
        ]
        conn.execute(
            text(
                "INSERT INTO prices_daily (symbol, date, open, high, low, close, adj_close, "
                "volume, source) VALUES (:symbol, :date, :price, :price, :price, :price, :price, "
                "1, 'test')"
            ),
            rows,
        )
        # Make a parallel plan as likely as possible even on this small table.
        for setting in ("parallel_setup_cost", "parallel_tuple_cost"):
            conn.execute(text(f"SET LOCAL {setting} = 0"))
        fast = load_panel(conn, "close")
        expected = _oracle(conn, "close")
    assert fast.shape == (1100, 2)
    pd.testing.assert_frame_equal(fast, expected, check_exact=True, check_column_type=False)


def test_panels_through_the_unit_of_work_equal_the_store_function(
    prices: Engine, uow: SqlUnitOfWork
) -> None:
    with uow:
        panels = uow.derived.panels(["close", "volume"], symbols=["BBB", "AAA"], start="2024-01-03")
        single = uow.derived.panel("close", symbols=["BBB", "AAA"], start="2024-01-03")
        first = uow.derived.lookback_start("2024-01-05", 2)
    with prices.connect() as conn:
        expected = load_panels(
            conn, ["close", "volume"], symbols=["BBB", "AAA"], start="2024-01-03"
        )
        expected_first = lookback_start(conn, "2024-01-05", 2)
    for field in ("close", "volume"):
        pd.testing.assert_frame_equal(panels[field], expected[field])
    pd.testing.assert_frame_equal(single, expected["close"])
    assert first == expected_first
