"""Factor exposures on real PostgreSQL: z-scores per date, what a date sees (never the future),
replacement of a date's rows, and the real sample without fundamentals."""

from __future__ import annotations

from datetime import date, timedelta

import numpy as np
import pandas as pd
import pytest
from sqlalchemy import Engine, text

from stocker.core.errors import DataError
from stocker.core.factors import FACTORS, no_fundamentals
from stocker.data.sample import load_sample
from stocker.data.synthetic import load_synthetic_market
from stocker.data.universes import create_universe
from stocker.lab.factors import compute_factors, read_factors
from stocker.lab.risk import compute_risk, read_risk
from stocker.store.uow import SqlUnitOfWork

pytestmark = pytest.mark.integration

DAY = date(2001, 6, 29)
SYMBOLS = 30


@pytest.fixture
def market(uow: SqlUnitOfWork) -> SqlUnitOfWork:
    load_synthetic_market(uow, symbols=SYMBOLS, years=2, seed=11)
    return uow


def _stored(uow: SqlUnitOfWork, day: date = DAY) -> pd.DataFrame:
    return read_factors(uow, day).set_index("symbol")


def test_factors_on_synthetic_market_have_mean_0_and_sd_1_and_no_nulls(
    market: SqlUnitOfWork,
) -> None:
    report = compute_factors(market, day=DAY)

    stored = _stored(market)
    assert len(stored) == SYMBOLS == report.inserted
    for column in (*FACTORS, "composite_score"):
        values = stored[column].to_numpy()
        assert not np.isnan(values).any(), column
        assert values.mean() == pytest.approx(0.0, abs=1e-9)
        assert values.std(ddof=0) == pytest.approx(1.0, abs=1e-9)
    assert report.reasons.empty
    assert report.nulls == dict.fromkeys((*FACTORS, "composite_score"), 0)


def test_factors_sector_neutral_have_mean_0_and_sd_1_within_each_sector(
    market: SqlUnitOfWork, engine: Engine
) -> None:
    compute_factors(market, day=DAY, sector_neutral=True)

    with engine.connect() as conn:
        frame = pd.read_sql(
            text(
                "SELECT f.symbol, f.value, f.momentum, f.composite_score, s.sector "
                "FROM factor_exposures f JOIN LATERAL (SELECT sector FROM fundamentals_snapshot "
                "WHERE symbol = f.symbol AND as_of_date <= f.as_of_date "
                "ORDER BY as_of_date DESC LIMIT 1) s ON TRUE WHERE f.as_of_date = :day"
            ),
            conn,
            params={"day": DAY},
        )
    checked = 0
    for _, group in frame.groupby("sector"):
        for column in ("value", "momentum", "composite_score"):
            values = group[column].to_numpy()
            if len(values) < 2:
                assert values.tolist() == [0.0]
                continue
            assert values.mean() == pytest.approx(0.0, abs=1e-9)
            assert values.std(ddof=0) == pytest.approx(1.0, abs=1e-9)
            checked += 1
    assert checked >= 6


def _mutate_the_future(engine: Engine, day: date) -> None:
    """Change every kind of data dated after `day`: prices, fundamentals, a restatement."""
    with engine.begin() as conn:
        conn.execute(
            text("UPDATE prices_daily SET adj_close = adj_close * 1.7 WHERE date > :day"),
            {"day": day},
        )
        conn.execute(
            text("DELETE FROM prices_daily WHERE date > :day AND symbol IN ('SYN0001', 'SYN0002')"),
            {"day": day},
        )
        conn.execute(
            text(
                "UPDATE instrument_metrics SET pe_ttm = pe_ttm * 3, roe = -roe, "
                "market_cap = market_cap * 10, sector = 'Utilities' WHERE as_of_date > :day"
            ),
            {"day": day},
        )
        _restate(conn, day + timedelta(days=1), day)


def _restate(conn: object, restated_on: date, known_by: date) -> None:
    """A restatement: a new TTM snapshot dated `restated_on` of every symbol's numbers known by
    `known_by`, with other values."""
    conn.execute(  # type: ignore[attr-defined]
        text(
            "INSERT INTO instrument_metrics (symbol, as_of_date, period_type, source, pe_ttm, "
            "price_to_book, price_to_sales, market_cap, roe, roce, operating_margin, net_margin, "
            "debt_to_equity, sector) "
            "SELECT DISTINCT ON (symbol) symbol, :restated, 'TTM', 'restatement', pe_ttm * 2, "
            "price_to_book / 2, price_to_sales * 4, market_cap / 3, roe * 0.1, roce + 0.2, "
            "operating_margin / 2, net_margin * -1, debt_to_equity * 5, 'Energy' "
            "FROM instrument_metrics WHERE as_of_date <= :known ORDER BY symbol, as_of_date DESC"
        ),
        {"restated": restated_on, "known": known_by},
    )


def test_factors_and_risk_of_a_date_do_not_change_when_the_future_changes(
    market: SqlUnitOfWork, engine: Engine
) -> None:
    compute_factors(market, day=DAY, sector_neutral=True)
    compute_risk(market, day=DAY, benchmark=None)
    factors_before, risk_before = _stored(market), read_risk(market, DAY).set_index("symbol")

    _mutate_the_future(engine, DAY)
    compute_factors(market, day=DAY, sector_neutral=True)
    compute_risk(market, day=DAY, benchmark=None)

    pd.testing.assert_frame_equal(_stored(market), factors_before)
    pd.testing.assert_frame_equal(read_risk(market, DAY).set_index("symbol"), risk_before)
    later = DAY + timedelta(days=3)
    with market:
        assert set(market.factors.fundamentals_as_of(later, ["SYN0003"])["source"]) == {
            "restatement"
        }
        assert "restatement" not in set(
            market.factors.fundamentals_as_of(DAY, ["SYN0003"])["source"]
        )


def test_factors_of_a_date_change_when_a_restatement_is_dated_on_it(
    market: SqlUnitOfWork, engine: Engine
) -> None:
    """The future-mutation test can fail: the same restatement dated D changes D's factors."""
    compute_factors(market, day=DAY)
    before = _stored(market)

    with engine.begin() as conn:
        _restate(conn, DAY, DAY)
    compute_factors(market, day=DAY)

    after = _stored(market)
    assert not np.allclose(after["value"], before["value"])
    pd.testing.assert_series_equal(after["momentum"], before["momentum"])


def test_factors_over_a_range_replace_each_dates_rows_and_report_progress(
    market: SqlUnitOfWork, engine: Engine
) -> None:
    create_universe(market, "first_ten", symbols=[f"SYN{n:04d}" for n in range(1, 11)])
    compute_factors(market, day=DAY)
    calls: list[tuple[int, int]] = []

    report = compute_factors(
        market,
        start=DAY,
        end=DAY + timedelta(days=6),
        universe="first_ten",
        progress=lambda done, total: calls.append((done, total)),
    )

    # 2001-06-29 … 2001-07-05: four sessions (July 4 is a holiday).
    assert report.dates == [date(2001, 6, 29), date(2001, 7, 2), date(2001, 7, 3), date(2001, 7, 5)]
    assert calls == [(n, 4) for n in range(1, 5)]
    assert report.deleted == SYMBOLS - 10
    with engine.connect() as conn:
        counts = conn.execute(
            text("SELECT as_of_date, count(*) FROM factor_exposures GROUP BY 1 ORDER BY 1")
        ).all()
    assert [count for _, count in counts] == [10] * 4


def test_factors_on_the_sample_without_fundamentals_say_why_they_are_null(
    uow: SqlUnitOfWork,
) -> None:
    load_sample(uow)
    day = date(2020, 6, 30)

    report = compute_factors(uow, day=day)

    stored = _stored(uow, day)
    # 20 stocks and 5 factor ETFs; the index (inactive) is no member of the cross-section.
    assert len(stored) == 25 and "SP500" not in stored.index
    for column in ("value", "quality", "size"):
        assert stored[column].isna().all()
        assert report.nulls[column] == 25
    for column in ("momentum", "low_vol", "composite_score"):
        assert stored[column].notna().all()
        assert stored[column].std(ddof=0) == pytest.approx(1.0)
    reasons = report.reasons[report.reasons["field"] == "value"]["reason"]
    assert set(reasons) == {no_fundamentals(day)} == {"no fundamentals as of 2020-06-30"}


def test_factors_of_an_unknown_universe_are_refused_naming_the_known_ones(
    market: SqlUnitOfWork,
) -> None:
    create_universe(market, "tech", symbols=["SYN0001"])

    with pytest.raises(DataError, match="'nope' does not exist; known universes: tech"):
        compute_factors(market, day=DAY, universe="nope")
