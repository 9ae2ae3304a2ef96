"""Holdings and sector exposures stored when they change, trades per rebalance (migration
0009): the `backtest_holdings`, `backtest_sector_exposures` and `backtest_trades` views give
back every row the engine produced (the holdings bit for bit), and still take hand inserts."""

from __future__ import annotations

from decimal import Decimal

import numpy as np
import pandas as pd
import pytest
from sqlalchemy import Engine, text
from sqlalchemy.exc import DBAPIError

from stocker.core.backtest import backtest
from stocker.data.universes import create_universe
from stocker.lab.backtest_outputs import outputs
from stocker.lab.backtests import save_outputs
from stocker.lab.construction import create_portfolio
from stocker.store.uow import SqlUnitOfWork

from .backtest_market import store_market

pytestmark = pytest.mark.integration

SECTORS = {"AAA": "Technology", "BBB": "Technology", "CCC": "Energy", "DDD": None, "EEE": "Energy"}
DATES = pd.bdate_range("2024-01-01", periods=130)


def _run(uow: SqlUnitOfWork) -> int:
    store_market(uow, SECTORS)
    create_universe(uow, "five", symbols=list(SECTORS))
    create_portfolio(uow, "five_ew", group="five", method="equal_weight")
    with uow:
        portfolio = uow.portfolios.named("five_ew")
        assert portfolio is not None
        run_id = uow.backtests.insert_run(
            portfolio.id,
            start=DATES[0].date(),
            end=DATES[-1].date(),
            frequency="MONTHLY",
            transaction_cost=0.001,
            initial_capital=100_000.0,
            config={},
        )
        uow.commit()
    return run_id


def _market() -> tuple[pd.DataFrame, pd.DataFrame]:
    rng = np.random.default_rng(3)
    steps = rng.normal(0.0002, 0.015, (len(DATES), len(SECTORS)))
    prices = pd.DataFrame(50 * np.exp(np.cumsum(steps, axis=0)), index=DATES, columns=list(SECTORS))
    prices.iloc[40:43, 2] = np.nan  # a name without prices for three days: marked at its last
    ends = pd.Series(DATES, index=DATES).groupby(DATES.to_period("M")).last()
    weights = pd.DataFrame(
        rng.uniform(0.0, 1.0, (len(ends), len(SECTORS))),
        index=pd.DatetimeIndex(ends.to_numpy()),
        columns=list(SECTORS),
    )
    weights.iloc[1, 0] = 0.0  # AAA sold, then bought back: two stretches
    weights.iloc[2:, 4] = 0.0  # EEE held for two months only
    weights = weights.div(weights.sum(axis=1), axis=0) * 0.97
    return prices, weights


def test_view_when_run_is_stored_as_periods_returns_every_engine_holding_bit_for_bit(
    uow: SqlUnitOfWork, engine: Engine
) -> None:
    run_id = _run(uow)
    prices, weights = _market()
    result = backtest(prices, weights, cost_bps=10, shares="whole", initial_capital=100_000.0)
    rows = outputs(
        result,
        initial_capital=100_000.0,
        sectors={s: sector for s, sector in SECTORS.items() if sector},
        exposures=pd.DataFrame(),
        decided_on={day: day for day in weights.index},
    )
    with uow:
        save_outputs(uow, run_id, rows)
        uow.commit()

    with uow:
        stored = uow.backtests.holdings(run_id)
    held = result.holdings.stack()
    held = held[held != 0]
    expected = pd.DataFrame(
        {
            "date": held.index.get_level_values(0).date,
            "symbol": held.index.get_level_values(1),
            "shares": held.to_numpy(),
            "weight": result.weights.stack().loc[held.index].to_numpy(),
        }
    ).sort_values(["date", "symbol"], ignore_index=True)
    assert rows.counts()["holdings"] == len(expected) == len(stored)
    assert rows.counts()["holding_periods"] < len(DATES)  # stored when they change only
    assert list(stored["date"]) == list(expected["date"])
    assert list(stored["symbol"]) == list(expected["symbol"])
    assert np.array_equal(stored["shares"].to_numpy(float), expected["shares"].to_numpy())
    assert np.array_equal(stored["weight"].to_numpy(float), expected["weight"].to_numpy())
    sectors = [None if pd.isna(sector) else sector for sector in stored["sector"]]
    assert sectors == [SECTORS[s] for s in stored["symbol"]]
    assert set(stored["symbol"]) == set(SECTORS)
    day = DATES[41].date()
    with engine.connect() as conn:
        spec = dict(
            conn.execute(
                text(
                    "SELECT sector, SUM(weight)\nFROM backtest_holdings\nWHERE date = :d\n"
                    "GROUP BY sector"
                ),
                {"d": day},
            ).all()
        )
    on_day = expected[expected["date"] == day]
    sums = on_day.groupby(on_day["symbol"].map(SECTORS).fillna("none"))["weight"].sum()
    assert {k or "none": v for k, v in spec.items()} == pytest.approx(sums.to_dict(), abs=1e-15)
    with uow:
        one_run = uow.backtests.sector_totals(run_id, day)  # sector_weights: the same, one run
    assert one_run == pytest.approx({str(k): v for k, v in spec.items()}, abs=1e-15)
    with uow:
        trades = uow.backtests.trades(run_id)
    engine_trades = rows.trades.sort_values(["rebalance_date", "symbol"], ignore_index=True)
    assert len(trades) == len(engine_trades) == len(result.trades) > 0
    assert list(trades["symbol"]) == list(engine_trades["symbol"])
    assert list(trades["rebalance_date"]) == list(engine_trades["rebalance_date"])
    assert np.array_equal(trades["shares_delta"], engine_trades["shares_delta"])
    # trade_value and transaction_cost are NUMERIC(18, 4) in the view, as in the spec's table
    np.testing.assert_allclose(trades["trade_value"], engine_trades["trade_value"], atol=5e-5)
    np.testing.assert_allclose(
        trades["transaction_cost"], engine_trades["transaction_cost"], atol=5e-5
    )
    with uow:
        exposures = uow.backtests.sector_exposures(run_id)
    computed = rows.sector_exposures.sort_values(["date", "sector"], ignore_index=True)
    assert len(exposures) == len(computed) > 0
    assert list(exposures["date"]) == list(computed["date"])
    assert list(exposures["sector"]) == list(computed["sector"])  # "Unclassified" for DDD
    np.testing.assert_allclose(exposures["weight"], computed["weight"], rtol=0, atol=1e-15)
    daily = rows.holdings.daily().sort_values(["date", "symbol"], ignore_index=True)
    assert np.array_equal(daily["weight"].to_numpy(float), expected["weight"].to_numpy())


def test_view_when_rows_are_inserted_by_hand_stores_them_and_refuses_duplicates(
    uow: SqlUnitOfWork, engine: Engine
) -> None:
    run_id = _run(uow)
    insert = text(
        "INSERT INTO backtest_holdings (backtest_id, date, symbol, shares, weight, sector) "
        "VALUES (:b, :d, :s, :n, :w, :sector)"
    )
    first, second = DATES[0].date(), DATES[1].date()
    with engine.begin() as conn:
        for day, symbol, weight in ((first, "AAA", 0.25), (first, "CCC", 0.75), (second, "AAA", 1)):
            sector = SECTORS[symbol]
            conn.execute(
                insert, {"b": run_id, "d": day, "s": symbol, "n": 10, "w": weight, "sector": sector}
            )
    with pytest.raises(DBAPIError, match="already holds AAA"), engine.begin() as conn:
        conn.execute(
            insert, {"b": run_id, "d": first, "s": "AAA", "n": 1, "w": 0.1, "sector": None}
        )
    with pytest.raises(DBAPIError, match="instrument_info"), engine.begin() as conn:
        conn.execute(
            insert, {"b": run_id, "d": first, "s": "ZZZ", "n": 1, "w": 0.1, "sector": None}
        )

    with engine.connect() as conn:
        rows = conn.execute(
            text(
                "SELECT date, symbol, shares, weight, sector FROM backtest_holdings "
                "WHERE backtest_id = :b ORDER BY date, symbol"
            ),
            {"b": run_id},
        ).all()
    assert [tuple(row) for row in rows] == [
        (first, "AAA", 10.0, 0.25, "Technology"),
        (first, "CCC", 10.0, 0.75, "Energy"),
        (second, "AAA", 10.0, 1.0, "Technology"),
    ]
    trade = text(
        "INSERT INTO backtest_trades (backtest_id, rebalance_date, symbol, shares_delta, "
        "trade_value, transaction_cost) VALUES (:b, :d, :s, 10, :v, 0.5)"
    )
    with engine.begin() as conn:
        conn.execute(trade, {"b": run_id, "d": first, "s": "EEE", "v": 123.45678})
        conn.execute(trade, {"b": run_id, "d": first, "s": "AAA", "v": -5})
    with pytest.raises(DBAPIError, match="already trades EEE"), engine.begin() as conn:
        conn.execute(trade, {"b": run_id, "d": first, "s": "EEE", "v": 1})
    with engine.connect() as conn:
        traded = conn.execute(
            text(
                "SELECT symbol, trade_value, transaction_cost FROM backtest_trades "
                "WHERE backtest_id = :b ORDER BY symbol"
            ),
            {"b": run_id},
        ).all()
    assert [tuple(row) for row in traded] == [
        ("AAA", Decimal("-5.0000"), Decimal("0.5000")),
        ("EEE", Decimal("123.4568"), Decimal("0.5000")),
    ]
    exposure = text(
        "INSERT INTO backtest_sector_exposures (backtest_id, date, sector, weight) "
        "VALUES (:b, :d, :s, :w)"
    )
    with engine.begin() as conn:
        conn.execute(exposure, {"b": run_id, "d": first, "s": "Energy", "w": 0.75})
        conn.execute(exposure, {"b": run_id, "d": first, "s": "Technology", "w": 0.25})
    with pytest.raises(DBAPIError, match="already has Energy"), engine.begin() as conn:
        conn.execute(exposure, {"b": run_id, "d": first, "s": "Energy", "w": 1})
    with engine.connect() as conn:
        by_sector = conn.execute(
            text(
                "SELECT date, sector, weight FROM backtest_sector_exposures "
                "WHERE backtest_id = :b ORDER BY sector"
            ),
            {"b": run_id},
        ).all()
    assert [tuple(row) for row in by_sector] == [
        (first, "Energy", 0.75),
        (first, "Technology", 0.25),
    ]
    with engine.begin() as conn:
        conn.execute(text("DELETE FROM backtest_runs WHERE id = :b"), {"b": run_id})
        left = conn.execute(
            text(
                "SELECT (SELECT count(*) FROM backtest_holding_periods) + "
                "(SELECT count(*) FROM backtest_symbols)"
            )
        ).scalar_one()
    assert left == 0
