"""Live pipeline benchmark: sessions through every stage (`stocker.trading.days.run_day`) next
to `trend_backtest` of the same work, in one run.

The work: the 20-stock sample (flat bars), the default strategy with whole shares and a paper
broker charging 0.005 per share (minimum 1), replayed from the sample's first session for
`--sessions` sessions. Reported: per-session latency p50 / p95 / max of `run_day` (every stage,
each a transaction per batch), the whole replay, and `trend_backtest` on the same panel; the
orders are checked equal to the backtest's trades.

    .venv/bin/python bench/pipeline.py --sessions 252

PostgreSQL: `STOCKER_DATABASE_URL` (else the embedded server); a scratch database is created,
migrated and dropped at the end. Not yet measured here: 500 symbols per day and messages/s per
consumer with a trivial handler (issue 8's other two rows).
"""

from __future__ import annotations

import argparse
import datetime as dt
import time
from decimal import Decimal

import numpy as np
from rich.console import Console
from rich.table import Table
from sqlalchemy import create_engine
from sqlalchemy.pool import NullPool

from _scratch import scratch_database, server_url
from stocker.bus.handlers import HandlerRegistry
from stocker.core.backtest.trend import trend_backtest
from stocker.core.strategy.config import StrategyConfig
from stocker.data.sample import load_sample
from stocker.store import migrate
from stocker.store.uow import SqlUnitOfWork
from stocker.trading.brokers.paper import PaperBroker
from stocker.trading.days import run_day
from stocker.trading.stages import Stages
from stocker.trading.strategy_files import PortfolioSetup

STOCKS = (
    "AAPL", "AMD", "BAC", "BBY", "CVX", "GE", "HD", "JNJ", "JPM", "KO",
    "LLY", "MRK", "MSFT", "PEP", "PFE", "PG", "RRC", "UNH", "WMT", "XOM",
)  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sessions", type=int, default=252)
    args = parser.parse_args()
    console = Console()
    with scratch_database(server_url(), "pipeline") as url:
        engine = create_engine(url, poolclass=NullPool)
        migrate.upgrade(engine)
        load_sample(SqlUnitOfWork(engine))
        config = StrategyConfig()
        broker = PaperBroker(commission_per_share=Decimal("0.005"), min_commission=Decimal(1))
        stages = Stages((PortfolioSetup("bench", "bench-v1", STOCKS, config),), broker)
        registry = HandlerRegistry()
        stages.register(registry)
        uow = SqlUnitOfWork(engine)
        with uow:
            days = uow.trading.sessions_with_bars(STOCKS, dt.date(1990, 1, 1), dt.date(2100, 1, 1))
        days = days[: args.sessions]
        latencies = []
        started = time.perf_counter()
        for day in days:
            tick = time.perf_counter()
            run_day(lambda: SqlUnitOfWork(engine), registry, stages, day)
            latencies.append(time.perf_counter() - tick)
        replay_s = time.perf_counter() - started
        with uow:
            prices = uow.trading.adj_close_history(STOCKS, days[-1])
            orders = uow.trading.orders_between("bench", days[0], days[-1])
        tick = time.perf_counter()
        result = trend_backtest(
            prices, config, shares="whole", cost_per_share=0.005, min_commission=1.0
        ).result
        backtest_s = time.perf_counter() - tick
        engine.dispose()
    same = len(orders) == len(result.trades)
    table = Table(title=f"{len(days)} sessions × {len(STOCKS)} symbols")
    for column in ("what", "seconds"):
        table.add_column(column)
    values = np.array(latencies)
    table.add_row("run_day p50", f"{np.percentile(values, 50):.3f}")
    table.add_row("run_day p95", f"{np.percentile(values, 95):.3f}")
    table.add_row("run_day max", f"{values.max():.3f}")
    table.add_row("replay (every session)", f"{replay_s:.2f}")
    table.add_row("trend_backtest (same work)", f"{backtest_s:.3f}")
    console.print(table)
    console.print(f"orders {len(orders)}, backtest trades {len(result.trades)}: same count {same}")


if __name__ == "__main__":
    main()
