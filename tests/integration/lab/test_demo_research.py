"""The demo's research flow on the real sample: factors, a saved screen, a capped portfolio."""

from __future__ import annotations

from datetime import date

import pandas as pd
import pytest
from sqlalchemy import Engine, text

from stocker.data.sample import load_sample
from stocker.data.universes import member_symbols
from stocker.lab.demo_research import CAPPED_SECTOR, DEMO_GROUP, demo_research
from stocker.store.uow import SqlUnitOfWork

DAY = date(2022, 12, 28)
TOL = 1e-6


def test_demo_research_on_the_sample_screens_saves_the_group_and_caps_the_portfolio(
    uow: SqlUnitOfWork,
) -> None:
    load_sample(uow)

    demo = demo_research(uow, day=DAY)

    assert demo.factors.dates == [DAY] and demo.factors.symbols >= 20
    assert demo.factors.nulls["value"] >= 20, "the sample has no fundamentals"
    assert set(demo.factors.reasons["reason"]) >= {f"no fundamentals as of {DAY}"}
    scores = demo.screen.rows["composite_score"].to_list()
    assert len(demo.screen.symbols) == 12 and scores == sorted(scores, reverse=True)
    assert member_symbols(uow, DEMO_GROUP) == demo.screen.symbols
    weights = demo.portfolio.weights
    assert set(weights.index) == set(demo.screen.symbols)
    assert weights.sum() == pytest.approx(1.0, abs=1e-9)
    assert weights.max() <= 0.25 + TOL
    assert demo.portfolio.sector_totals.get(CAPPED_SECTOR, 0.0) <= 0.30 + TOL


def test_demo_research_when_run_twice_gives_the_same_group_and_weights(uow: SqlUnitOfWork) -> None:
    load_sample(uow)
    first = demo_research(uow, day=DAY)

    again = demo_research(uow, day=DAY)

    assert again.screen.symbols == first.screen.symbols
    pd.testing.assert_series_equal(first.portfolio.weights, again.portfolio.weights, atol=1e-8)


def test_factor_rows_when_an_input_is_missing_store_why_each_null_is_null(
    uow: SqlUnitOfWork, engine: Engine
) -> None:
    load_sample(uow)

    demo_research(uow, day=DAY)

    with engine.connect() as conn:
        stored = dict(
            conn.execute(
                text(
                    "SELECT symbol, null_reasons FROM factor_exposures "
                    "WHERE as_of_date = :day AND symbol IN ('AAPL', 'XOM')"
                ),
                {"day": DAY},
            ).all()
        )
    expected = f"no fundamentals as of {DAY}"
    assert stored["AAPL"] == {"value": expected, "quality": expected, "size": expected}
    assert stored["XOM"]["value"] == expected and "momentum" not in stored["XOM"]
