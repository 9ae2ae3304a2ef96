"""Saving a backtest next to computing it: a 2,000 × 5,040 monthly equal-weight run.

In a scratch database (beside `STOCKER_DATABASE_URL`, dropped afterwards): 2,000 instruments in
11 sectors, a group of them and an equal-weight portfolio. The run itself is computed in memory
on the synthetic panel of `bench/backtest.py` (the walk-forward's database reads are not timed
here), then stored through the use case's own writer:

  compute   the engine over the whole schedule + every output frame (holdings, timeseries,
            sector and factor exposures, trades), `stocker.lab.backtest_outputs.outputs`
  save      `stocker.lab.backtests.save_outputs` (COPY into every backtest_* table: holdings
            as periods of unchanged shares, migration 0009) + commit
  query     the SigmaQLab 11.11 analytics query, unchanged, for one date (best of 5), and the
            same restricted to the run (`BacktestRepository.sector_totals`)

    .venv/bin/python bench/backtest_persist.py                       # 2000 x 5040
    .venv/bin/python bench/backtest_persist.py --symbols 500 --days 5040
"""

from __future__ import annotations

import argparse
import datetime as dt
import time

import numpy as np
import pandas as pd
from sqlalchemy import text

from _scratch import scratch_database, server_url
from backtest import monthly_equal_weights, synthetic_prices
from stocker.core.backtest import backtest
from stocker.data.universes import create_universe
from stocker.lab.backtest_outputs import outputs
from stocker.lab.backtests import save_outputs
from stocker.lab.construction import create_portfolio
from stocker.store import migrate
from stocker.store.db import make_engine
from stocker.store.uow import SqlUnitOfWork

SECTORS = [
    "Communication Services",
    "Consumer Discretionary",
    "Consumer Staples",
    "Energy",
    "Financials",
    "Health Care",
    "Industrials",
    "Information Technology",
    "Materials",
    "Real Estate",
    "Utilities",
]
SPEC_QUERY = "SELECT sector, SUM(weight)\nFROM backtest_holdings\nWHERE date = :d\nGROUP BY sector"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--symbols", type=int, default=2000)
    parser.add_argument("--days", type=int, default=5040)
    args = parser.parse_args()

    prices = synthetic_prices(args.symbols, args.days)
    symbols = list(prices.columns)
    sectors = {symbol: SECTORS[i % len(SECTORS)] for i, symbol in enumerate(symbols)}
    schedule = monthly_equal_weights(prices)

    started = time.perf_counter()
    result = backtest(prices, schedule, cost_bps=10.0)
    engine_s = time.perf_counter() - started
    rows = outputs(
        result,
        initial_capital=1_000_000.0,
        sectors=sectors,
        exposures=pd.DataFrame(),
        decided_on={day: day for day in schedule.index},
    )
    compute_s = time.perf_counter() - started
    print(f"{args.symbols} x {args.days}, {len(schedule)} rebalances: rows {rows.counts()}")

    with scratch_database(server_url(), "backtest_persist") as url:
        engine = make_engine(url)
        try:
            migrate.upgrade(engine)
            uow = SqlUnitOfWork(engine)
            instruments = pd.DataFrame(
                {
                    "symbol": symbols,
                    "name": symbols,
                    "sector": [sectors[s] for s in symbols],
                    "asset_class": "US_EQUITY",
                    "currency": "USD",
                    "active": True,
                    "source": "bench",
                }
            )
            with uow:
                uow.derived.upsert("instrument_info", instruments)
                uow.commit()
            create_universe(uow, "bench", symbols=symbols)
            create_portfolio(uow, "bench_ew", group="bench", method="equal_weight")
            with uow:
                portfolio = uow.portfolios.named("bench_ew")
                assert portfolio is not None
                run_id = uow.backtests.insert_run(
                    portfolio.id,
                    start=prices.index[0].date(),
                    end=prices.index[-1].date(),
                    frequency="MONTHLY",
                    transaction_cost=0.001,
                    initial_capital=1_000_000.0,
                    config={"bench": True},
                )
                uow.commit()
            started = time.perf_counter()
            with uow:
                save_outputs(uow, run_id, rows)
                uow.backtests.set_status(run_id, "COMPLETED")
                uow.commit()
            save_s = time.perf_counter() - started
            with engine.connect() as conn:
                conn.execute(text("ANALYZE backtest_holding_periods"))
                conn.execute(text("ANALYZE backtest_symbols"))
                conn.execute(text("ANALYZE backtest_dates"))
            day: dt.date = schedule.index[len(schedule) // 2].date()
            spec_s, run_s = [], []
            for _ in range(5):
                started = time.perf_counter()
                with engine.connect() as conn:
                    found = conn.execute(text(SPEC_QUERY), {"d": day}).fetchall()
                spec_s.append(time.perf_counter() - started)
                started = time.perf_counter()
                with uow:
                    totals = uow.backtests.sector_totals(run_id, day)
                run_s.append(time.perf_counter() - started)
            assert len(found) == len(SECTORS) and abs(sum(totals.values()) - 1.0) < 1e-9
            with engine.connect() as conn:
                size = conn.execute(
                    text(
                        "SELECT pg_size_pretty(pg_total_relation_size('backtest_holding_periods'))"
                    )
                ).scalar_one()
        finally:
            engine.dispose()
    print(f"engine                   {engine_s:8.3f} s")
    print(f"compute (engine+outputs) {compute_s:8.3f} s")
    counts = rows.counts()
    print(
        f"save (COPY, commit)      {save_s:8.3f} s  ({counts['holdings']:,} daily holdings as "
        f"{counts['holding_periods']:,} periods)"
    )
    print(f"11.11 query, spec text   {min(spec_s):8.3f} s  (first {spec_s[0]:.3f} s)")
    print(f"11.11 query, one run     {min(run_s):8.3f} s  (first {run_s[0]:.3f} s)")
    print(f"holding periods size      {size}")


if __name__ == "__main__":
    np.seterr(all="ignore")
    main()
