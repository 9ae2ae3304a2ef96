"""Backtests of portfolios whose expected returns need the store (Black–Litterman's prior from
market caps, factor-implied from composite scores): they run, store their outputs, decide each
rebalance as construction would on that date, and read nothing dated after it. And a name that
leaves the group is sold inside the turnover limit, as construction counts it."""

from __future__ import annotations

from datetime import date, timedelta

import numpy as np
import pandas as pd
import pytest
from sqlalchemy import Engine, text

from stocker.core.errors import DataError
from stocker.data.universes import create_universe
from stocker.lab.backtests import read_run, run_backtest
from stocker.lab.construction import StoredConstraints, create_portfolio, optimize_portfolio
from stocker.store.uow import SqlUnitOfWork

from .backtest_market import insert_market_caps, store_market

pytestmark = pytest.mark.integration

SYMBOLS = ("AAA", "BBB", "CCC", "DDD", "EEE")
DATES = pd.bdate_range("2023-01-02", periods=400)
START = DATES[260].date()
END = DATES[-1].date()
GROUP = "five"
SNAPSHOTS = DATES[::21]
# Weights to the interior point's accuracy: a backtest's re-solves are answered by the
# active set (exact), a fresh optimization by Clarabel (1e-8 gap; flat directions ~1e-6).
SOLVER = 1e-5
"""Two solves of one problem agree to about this (OSQP / Clarabel tolerances)."""
VIEWS = {"EEE": 0.30, "AAA": -0.05}


def _load(uow: SqlUnitOfWork, engine: Engine) -> None:
    rng = np.random.default_rng(5)
    closes = {
        symbol: 100 * np.exp(np.cumsum(rng.normal(0.0003, 0.007 + 0.002 * number, len(DATES))))
        for number, symbol in enumerate(SYMBOLS)
    }
    scores = pd.DataFrame(
        [
            {"symbol": symbol, "as_of_date": day.date(), "composite_score": rng.normal()}
            for day in SNAPSHOTS
            for symbol in SYMBOLS
        ]
    )
    store_market(uow, dict.fromkeys(SYMBOLS, "Technology"), DATES, closes)
    with uow:
        uow.derived.upsert("factor_exposures", scores)
        uow.commit()
    with engine.begin() as conn:
        caps = [(s, d.date(), float(rng.uniform(50, 900))) for d in SNAPSHOTS for s in SYMBOLS]
        insert_market_caps(conn, caps)
    create_universe(uow, GROUP, symbols=list(SYMBOLS), ranked=True)
    with engine.begin() as conn:  # the group was founded when the prices start
        conn.execute(text("UPDATE instrument_universe_member SET created_at = '2023-01-02'"))


@pytest.fixture
def market(uow: SqlUnitOfWork, engine: Engine) -> SqlUnitOfWork:
    _load(uow, engine)
    create_portfolio(
        uow,
        "bl",
        group=GROUP,
        method="max_sharpe",
        constraints=StoredConstraints(max_weight=0.6, views=VIEWS, tau=0.1),
        expected_returns="black_litterman",
    )
    create_portfolio(
        uow,
        "fi",
        group=GROUP,
        method="max_sharpe",
        constraints=StoredConstraints(max_weight=0.6, score_spread=0.2),
        expected_returns="factor_implied",
    )
    create_portfolio(
        uow,
        "hist",
        group=GROUP,
        method="max_sharpe",
        constraints=StoredConstraints(max_weight=0.6),
    )
    return uow


@pytest.mark.parametrize("code", ["bl", "fi"])
def test_a_store_backed_mode_runs_stores_and_decides_as_construction_does(
    market: SqlUnitOfWork, code: str
) -> None:
    run = run_backtest(market, code, start=START, end=END)
    historical = run_backtest(market, "hist", start=START, end=END)

    assert run.status == "COMPLETED" and run.schedule is not None
    stored = read_run(market, run.id)
    assert len(stored.timeseries) == len(run.timeseries) > 100 and len(stored.trades) > 0
    assert stored.run.config["expected_returns"] == {"bl": "black_litterman"}.get(
        code, "factor_implied"
    )
    # No turnover limit: every rebalance is construction's optimization on that date.
    for day in run.schedule.index[[0, 3, -1]]:
        report = optimize_portfolio(market, code, day=day.date())
        np.testing.assert_allclose(
            run.schedule.loc[day, report.weights.index].to_numpy(dtype=float),
            report.weights.to_numpy(dtype=float),
            rtol=0,
            atol=SOLVER,
        )
    assert historical.schedule is not None  # the mode was applied, not the historical mean
    assert (run.schedule - historical.schedule).abs().to_numpy().max() > 1e-2


def _mutate_after(engine: Engine, day: date, rng: np.random.Generator) -> None:
    """Change every adjusted close (all a close-execution run reads of prices), market cap and
    score after `day`, and add a cap and a score snapshot the day after."""
    later = day + timedelta(days=1)
    with engine.begin() as conn:
        conn.execute(
            text("UPDATE prices_daily SET adj_close = adj_close * (0.8 + 0.4 * random()) "
                 "WHERE date > :d"),
            {"d": day},
        )  # fmt: skip
        conn.execute(
            text("UPDATE instrument_metrics SET market_cap = market_cap * :v "
                 "WHERE as_of_date > :d"),
            {"d": day, "v": float(rng.uniform(2, 5))},
        )  # fmt: skip
        conn.execute(
            text("UPDATE factor_exposures SET composite_score = -composite_score "
                 "WHERE as_of_date > :d"),
            {"d": day},
        )  # fmt: skip
        insert_market_caps(conn, [(s, later, float(rng.uniform(1, 5000))) for s in SYMBOLS])
        conn.execute(
            text("INSERT INTO factor_exposures (symbol, as_of_date, composite_score) "
                 "VALUES (:s, :d, :c)"),
            [{"s": s, "d": later, "c": float(rng.normal(0, 3))} for s in SYMBOLS],
        )  # fmt: skip


@pytest.mark.parametrize("code", ["bl", "fi"])
def test_a_store_backed_mode_when_later_data_change_keeps_every_earlier_decision(
    market: SqlUnitOfWork, engine: Engine, code: str
) -> None:
    baseline = run_backtest(market, code, start=START, end=END)
    assert baseline.schedule is not None
    rng = np.random.default_rng(9)
    changed = 0
    for day in baseline.schedule.index[[-2, 4, 1]]:  # later cuts first: each mutation stacks
        _mutate_after(engine, day.date(), rng)
        mutated = run_backtest(market, code, start=START, end=END)
        assert mutated.schedule is not None
        pd.testing.assert_frame_equal(
            mutated.schedule.loc[:day],
            baseline.schedule.loc[:day],
            check_exact=False,
            rtol=0,
            atol=SOLVER,
        )
        later = (mutated.schedule - baseline.schedule).loc[day:].iloc[1:]
        changed += int(later.abs().to_numpy().max() > 1e-4)
    assert changed == 3  # the mutations did reach the later decisions


def _remove(engine: Engine, symbol: str, day: date) -> None:
    with engine.begin() as conn:
        conn.execute(
            text(
                "UPDATE instrument_universe_member SET is_deleted = TRUE, updated_at = :t "
                "WHERE symbol = :s AND universe_id = "
                "(SELECT id FROM instrument_universe WHERE name = :g)"
            ),
            {"s": symbol, "t": day, "g": GROUP},
        )


def _turnovers(schedule: pd.DataFrame, prices: pd.DataFrame) -> list[float]:
    """½·Σ|target − previous target moved by the prices to the day| over every name, per
    rebalance after the first (fills at the close, fully invested)."""
    found = []
    for before, day in zip(schedule.index[:-1], schedule.index[1:], strict=True):
        moved = schedule.loc[before] * prices.loc[day] / prices.loc[before]
        drifted = moved / moved.sum()
        found.append(0.5 * float(np.abs(schedule.loc[day] - drifted).sum()))
    return found


def test_a_name_leaving_the_group_is_sold_inside_the_turnover_limit(
    market: SqlUnitOfWork, engine: Engine
) -> None:
    limit = 0.12
    create_portfolio(
        market,
        "slow",
        group=GROUP,
        method="max_sharpe",
        constraints=StoredConstraints(max_weight=0.6, turnover_limit=limit),
    )
    first = run_backtest(market, "slow", start=START, end=END)
    assert first.schedule is not None and first.result is not None
    dates = first.schedule.index
    assert max(_turnovers(first.schedule, first.result.prices)) > limit - 1e-4  # it binds
    assert 0.05 < first.schedule.loc[dates[3], "DDD"] < limit  # a sale the limit can take
    _remove(engine, "DDD", dates[4].date() - timedelta(days=1))

    run = run_backtest(market, "slow", start=START, end=END)

    assert run.schedule is not None and run.result is not None
    assert (run.schedule.loc[dates[4] :, "DDD"] == 0.0).all()  # sold, then never bought
    assert max(_turnovers(run.schedule, run.result.prices)) <= limit + 1e-5
    largest = str(run.schedule.loc[dates[5]].idxmax())
    assert run.schedule.loc[dates[5], largest] > limit  # its sale alone breaks the limit
    _remove(engine, largest, dates[6].date() - timedelta(days=1))
    with pytest.raises(DataError, match=f"turnover_limit: the forced sale of {largest}"):
        run_backtest(market, "slow", start=START, end=END)
