"""Fundamentals point in time: a snapshot is visible from its as-of date (the date it was
known), a restatement is a new snapshot that never changes what an earlier date saw, and the
range read the use cases use sees exactly what the one-date read sees on every date."""

from __future__ import annotations

from datetime import date, timedelta

import pandas as pd
import pytest

from stocker.data.synthetic import load_synthetic_market
from stocker.store.uow import SqlUnitOfWork

pytestmark = pytest.mark.integration


def _snapshot(symbol: str, as_of: date, pe: float, **extra: object) -> dict[str, object]:
    return {
        "symbol": symbol,
        "as_of_date": as_of,
        "period_type": extra.pop("period_type", "FQ"),
        "source": extra.pop("source", "filings"),
        "pe_ttm": pe,
        **extra,
    }


@pytest.fixture
def filed(uow: SqlUnitOfWork) -> SqlUnitOfWork:
    with uow:
        uow.instruments.upsert(
            [{"symbol": "AAA", "sector": "Energy"}, {"symbol": "BBB", "sector": "Utilities"}]
        )
        uow.derived.upsert(
            "instrument_metrics",
            pd.DataFrame(
                [
                    _snapshot("AAA", date(2024, 2, 10), 10.0, period_end=date(2023, 12, 31)),
                    _snapshot("AAA", date(2024, 5, 8), 11.0, period_end=date(2024, 3, 31)),
                    # The Q1 numbers restated in June: a new snapshot, dated when known.
                    _snapshot(
                        "AAA",
                        date(2024, 6, 20),
                        13.0,
                        period_end=date(2024, 3, 31),
                        source="restatement",
                        sector="Industrials",
                    ),
                    # Same date, two period types: the view prefers TTM.
                    _snapshot("BBB", date(2024, 5, 1), 30.0),
                    _snapshot("BBB", date(2024, 5, 1), 25.0, period_type="TTM", roe=0.2),
                ]
            ),
        )
        uow.commit()
    return uow


def _pe(uow: SqlUnitOfWork, day: date) -> dict[str, float]:
    with uow:
        frame = uow.factors.fundamentals_as_of(day, ["AAA", "BBB", "CCC"])
    return dict(zip(frame["symbol"], frame["pe"], strict=True))


def test_a_snapshot_is_visible_from_its_as_of_date_not_before(filed: SqlUnitOfWork) -> None:
    assert _pe(filed, date(2024, 2, 9)) == {}
    assert _pe(filed, date(2024, 2, 10)) == {"AAA": 10.0}
    assert _pe(filed, date(2024, 5, 7)) == {"AAA": 10.0, "BBB": 25.0}
    assert _pe(filed, date(2024, 5, 8)) == {"AAA": 11.0, "BBB": 25.0}


def test_a_restatement_changes_only_dates_from_its_own_on(filed: SqlUnitOfWork) -> None:
    assert _pe(filed, date(2024, 6, 19))["AAA"] == 11.0
    assert _pe(filed, date(2024, 6, 20))["AAA"] == 13.0
    with filed:
        row = filed.factors.fundamentals_as_of(date(2024, 6, 19), ["AAA"]).iloc[0]
        restated = filed.factors.fundamentals_as_of(date(2024, 6, 20), ["AAA"]).iloc[0]
    assert (row["sector"], row["source"]) == ("Energy", "filings")
    assert (restated["sector"], restated["source"]) == ("Industrials", "restatement")


def test_the_range_read_sees_on_every_date_what_the_one_date_read_sees(
    uow: SqlUnitOfWork,
) -> None:
    from stocker.core.factors import snapshot_as_of

    load_synthetic_market(uow, symbols=8, years=2, seed=2)
    symbols = [f"SYN{n:04d}" for n in range(1, 9)]
    start, end = date(2001, 3, 1), date(2001, 9, 1)
    with uow:
        history = uow.factors.fundamentals_between(start, end, symbols)
        assert pd.to_datetime(history["as_of_date"]).max() <= pd.Timestamp(end)
        day = start
        while day <= end:
            expected = uow.factors.fundamentals_as_of(day, symbols).set_index("symbol")
            pd.testing.assert_frame_equal(snapshot_as_of(history, day), expected)
            day += timedelta(days=9)
