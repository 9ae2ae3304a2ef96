"""Re-adjusting stored prices from raw closes and corporate actions, on real PostgreSQL."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pandas as pd
import pytest
from sqlalchemy import Engine, text

from stocker.data.corporate_actions import (
    apply_new_actions,
    compare_vendor_adjustment,
    readjust,
)

# The worked example of docs/corporate_actions.md: a 2-for-1 split and four quarterly dividends,
# with the adjusted closes computed by hand (rounded to the column's 4 decimals).
EXAMPLE = [
    ("2024-02-07", "180.00", "88.1339"),
    ("2024-02-08", "182.00", "89.1131"),
    ("2024-02-09", "181.50", "89.3395"),
    ("2024-05-09", "184.00", "90.5701"),
    ("2024-05-10", "183.00", "90.5701"),
    ("2024-06-07", "196.00", "97.0041"),
    ("2024-06-10", "99.00", "97.9939"),
    ("2024-08-09", "101.00", "99.9736"),
    ("2024-08-12", "100.40", "99.8741"),
    ("2024-11-07", "105.00", "104.4500"),
    ("2024-11-08", "104.80", "104.8000"),
    ("2024-11-11", "105.20", "105.2000"),
]
ACTIONS = [
    ("2024-02-09", "DIVIDEND", "0.96"),
    ("2024-05-10", "DIVIDEND", "1.00"),
    ("2024-06-10", "SPLIT", "2.0"),
    ("2024-08-12", "DIVIDEND", "0.50"),
    ("2024-11-08", "DIVIDEND", "0.55"),
]


def _insert_symbol(conn, symbol: str, closes: list[tuple[str, str]]) -> None:
    conn.execute(
        text("INSERT INTO instrument_info (symbol, exchange) VALUES (:symbol, 'NYSE')"),
        {"symbol": symbol},
    )
    conn.execute(
        text(
            "INSERT INTO prices_daily (symbol, date, open, high, low, close, adj_close, volume, "
            "source) VALUES (:symbol, :date, :close, :close, :close, :close, :close, 1000, 'test')"
        ),
        [
            {"symbol": symbol, "date": date.fromisoformat(day), "close": close}
            for day, close in closes
        ],
    )


def _insert_actions(conn, symbol: str, actions: list[tuple[str, str, str]]) -> None:
    conn.execute(
        text(
            "INSERT INTO corporate_actions (symbol, date, action_type, value, source) "
            "VALUES (:symbol, :date, :action_type, :value, 'test')"
        ),
        [
            {"symbol": symbol, "date": date.fromisoformat(day), "action_type": kind, "value": value}
            for day, kind, value in actions
        ],
    )


def _adj_close(conn, symbol: str) -> dict[date, Decimal]:
    rows = conn.execute(
        text("SELECT date, adj_close FROM prices_daily WHERE symbol = :symbol ORDER BY date"),
        {"symbol": symbol},
    )
    return {day: value for day, value in rows}


@pytest.fixture
def loaded(engine: Engine) -> Engine:
    """AAA with the example's raw closes and actions (adj_close = close as loaded); BBB with
    raw closes and no actions."""
    with engine.begin() as conn:
        _insert_symbol(conn, "AAA", [(day, close) for day, close, _ in EXAMPLE])
        _insert_actions(conn, "AAA", ACTIONS)
        _insert_symbol(conn, "BBB", [("2024-02-07", "10.00"), ("2024-02-08", "11.00")])
    return engine


def test_readjust_with_split_and_dividends_stores_hand_computed_adj_close(loaded, uow):
    report = readjust(uow)
    with loaded.connect() as conn:
        stored = _adj_close(conn, "AAA")
    assert stored == {date.fromisoformat(day): Decimal(adj) for day, _, adj in EXAMPLE}
    assert report.symbols == ("AAA", "BBB")
    assert report.rows == 14
    assert report.updated == 10  # every AAA row before its last ex-date; BBB has no actions
    assert report.unchanged == 4
    assert report.first_changed == {"AAA": date(2024, 2, 7)}


def test_readjust_when_run_twice_changes_nothing_the_second_time(loaded, uow):
    readjust(uow, ["AAA"])
    with loaded.connect() as conn:
        before = conn.execute(text("SELECT xmin::text FROM prices_daily ORDER BY id")).all()
    report = readjust(uow, ["AAA"])
    with loaded.connect() as conn:
        after = conn.execute(text("SELECT xmin::text FROM prices_daily ORDER BY id")).all()
    assert report.updated == 0
    assert report.first_changed == {}
    assert before == after  # no row was rewritten


def test_apply_new_actions_with_later_dividend_changes_only_earlier_rows(loaded, uow):
    with loaded.begin() as conn:
        conn.execute(text("DELETE FROM corporate_actions WHERE date = '2024-11-08'"))
    readjust(uow)
    with loaded.connect() as conn:
        before = _adj_close(conn, "AAA")
    new_dividend = pd.DataFrame(
        {
            "symbol": ["AAA"],
            "date": [date(2024, 11, 8)],
            "action_type": ["DIVIDEND"],
            "value": [Decimal("0.55")],
            "source": ["test"],
        }
    )
    applied = apply_new_actions(uow, new_dividend)
    with loaded.connect() as conn:
        after = _adj_close(conn, "AAA")
    assert applied.actions.inserted == 1
    assert applied.adjustment.symbols == ("AAA",)
    changed = sorted(day for day in after if after[day] != before[day])
    assert changed == [date.fromisoformat(day) for day, _, _ in EXAMPLE[:10]]
    assert after == {date.fromisoformat(day): Decimal(adj) for day, _, adj in EXAMPLE}
    assert applied.adjustment.first_changed == {"AAA": date(2024, 2, 7)}


def test_apply_new_actions_when_actions_reloaded_readjusts_nothing(loaded, uow):
    readjust(uow)
    same = pd.DataFrame(
        [
            {"symbol": "AAA", "date": date.fromisoformat(day), "action_type": kind, "value": value}
            for day, kind, value in ACTIONS
        ]
    )
    applied = apply_new_actions(uow, same)
    assert applied.actions.inserted == applied.actions.updated == 0
    assert applied.adjustment.symbols == ()
    assert applied.adjustment.updated == 0


def test_apply_new_actions_with_action_after_last_price_waits_for_prices(loaded, uow):
    future = pd.DataFrame(
        [{"symbol": "BBB", "date": date(2024, 3, 1), "action_type": "SPLIT", "value": "2"}]
    )
    applied = apply_new_actions(uow, future)
    with loaded.connect() as conn:
        stored = _adj_close(conn, "BBB")
    assert applied.adjustment.pending_actions == 1
    assert stored == {date(2024, 2, 7): Decimal("10.0000"), date(2024, 2, 8): Decimal("11.0000")}


def test_compare_vendor_adjustment_flags_only_dates_beyond_tolerance(loaded, uow):
    vendor = pd.Series(
        [float(adj) for _, _, adj in EXAMPLE],
        index=[date.fromisoformat(day) for day, _, _ in EXAMPLE],
    )
    vendor.iloc[3] *= 1.01  # 1% off on 2024-05-09
    vendor.iloc[5] *= 1.0005  # within the default 0.1%
    found = compare_vendor_adjustment(uow, "AAA", vendor)
    assert list(found["date"]) == [pd.Timestamp("2024-05-09")]
    assert list(found["symbol"]) == ["AAA"]
    assert found["relative_difference"].iloc[0] == pytest.approx(0.01, rel=1e-3)


def test_compare_vendor_adjustment_when_vendor_series_ends_earlier_scales_to_its_end(loaded, uow):
    # A vendor series fetched on 2024-08-12 is scaled to that day's close: only the dividends
    # and split up to then apply (hand-computed: 0.9950495 before 08-12, 0.5 before 06-10, ...).
    through = EXAMPLE[:9]
    factors = [0.492211, 0.492211, 0.494821, 0.494821, 0.497525, 0.497525, 0.995050, 0.995050, 1.0]
    vendor = pd.Series(
        [float(close) * factor for (_, close, _), factor in zip(through, factors, strict=True)],
        index=pd.DatetimeIndex([day for day, _, _ in through]),
    )
    assert compare_vendor_adjustment(uow, "AAA", vendor, relative_tolerance=1e-5).empty
    # The same numbers against the series scaled to 2024-11-11 are off by the last dividend.
    scaled_to_latest = compare_vendor_adjustment(
        uow, "AAA", pd.concat([vendor, pd.Series([105.20], [pd.Timestamp("2024-11-11")])])
    )
    assert len(scaled_to_latest) == 9
