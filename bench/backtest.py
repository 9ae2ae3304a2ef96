"""Backtest engine benchmark: `stocker.core.backtest.backtest` against a NAV-only numpy loop,
vectorbt and bt, in one run on the same panels and the same schedule.

The work: equal-weight monthly rebalancing (the last session of each month), 10 bps on traded
notional, fractional shares, execution at the close, 1,000,000 of initial capital, on

  sample       the real 20-stock sample shipped inside skfolio (8,313 sessions, 1990–2022)
  500x5040     synthetic geometric random walks, 500 symbols × 5,040 sessions (20 years)
  2000x5040    the same with 2,000 symbols

    .venv/bin/python bench/backtest.py
    .venv/bin/python bench/backtest.py --sizes sample 500x1000 --peers vectorbt   # a quick run
    .venv/bin/python bench/backtest.py --sizes sample --peers vectorbt bt --end-to-end 500 2000

`--end-to-end` adds `stocker backtest run` from the kept database (cold once, then `--rounds`
warm runs, each followed by vectorbt's in-memory run of the same schedule, so a load spike on
a shared machine hits both alike; best and median of each; bt once).

Rows: `numpy loop` is the baseline — NAV only, the same cost convention, one matrix-vector
product per holding period; `stocker` produces every output (NAV, end-of-day holdings, cash,
costs per day, the trade table); vectorbt (`Portfolio.from_orders`, target percent, cash shared,
NAV via `.value()`) and bt (`Rebalance`, fractional positions) are what a user would pick
instead. Fast rows keep the best of `--repeat` runs; vectorbt is compiled by numba on a tiny
panel first (reported separately), bt runs once. `ratio` is seconds over the numpy loop's, and
`NAV diff` the largest relative difference from stocker's NAV on any day (the peers charge
costs by their own conventions, so theirs differ by the costs' second-order terms).
"""

from __future__ import annotations

import argparse
import sys
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import Any

import numpy as np
import pandas as pd
import pyarrow.compute as pc
from rich.console import Console
from rich.table import Table
from skfolio.datasets import load_sp500_dataset

from stocker.core.backtest import backtest

COST_BPS = 10.0
INITIAL_CAPITAL = 1_000_000.0
console = Console(width=None if sys.stdout.isatty() else 130)


@dataclass
class Row:
    size: str
    method: str
    seconds: float
    nav: np.ndarray


def synthetic_prices(n_symbols: int, n_days: int, seed: int = 42) -> pd.DataFrame:
    """Geometric random walks with per-symbol drift and volatility, business-day dates."""
    rng = np.random.default_rng(seed)
    drift = rng.normal(0.0003, 0.0002, n_symbols)
    vol = rng.uniform(0.01, 0.03, n_symbols)
    steps = rng.standard_normal((n_days, n_symbols)) * vol + drift - 0.5 * vol**2
    index = pd.bdate_range("2003-01-01", periods=n_days, name="date")
    columns = [f"S{i:04d}" for i in range(n_symbols)]
    return pd.DataFrame(100.0 * np.exp(np.cumsum(steps, axis=0)), index=index, columns=columns)


def monthly_equal_weights(prices: pd.DataFrame) -> pd.DataFrame:
    """1/N on the last session of each month."""
    index = pd.DatetimeIndex(prices.index)
    month_ends = pd.Series(index, index=index).groupby(index.to_period("M")).last()
    return pd.DataFrame(
        1.0 / prices.shape[1], index=pd.DatetimeIndex(month_ends.to_numpy()), columns=prices.columns
    )


def numpy_loop_nav(close: np.ndarray, rows: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """The baseline: NAV only, post-cost NAV by fixed-point iteration, a matvec per period."""
    n_dates = close.shape[0]
    rate = COST_BPS / 1e4
    nav = np.full(n_dates, INITIAL_CAPITAL)
    shares = np.zeros(close.shape[1])
    cash = INITIAL_CAPITAL
    ends = np.r_[rows[1:], n_dates]
    for row, end, target in zip(rows, ends, weights, strict=True):
        price = close[row]
        values = shares * price
        nav_pre = cash + values.sum()
        nav_post = nav_pre
        for _ in range(4):  # contraction by rate·Σ|w| ≈ 1e-3: exact to rounding after 4
            nav_post = nav_pre - rate * np.abs(target * nav_post - values).sum()
        shares = target * nav_post / price
        cash = nav_post - shares @ price
        nav[row:end] = cash + close[row:end] @ shares
    return nav


def run_stocker(prices: pd.DataFrame, weights: pd.DataFrame) -> np.ndarray:
    result = backtest(prices, weights, cost_bps=COST_BPS, initial_capital=INITIAL_CAPITAL)
    assert len(result.holdings) == len(prices) and len(result.trades) > 0
    return result.nav.to_numpy()


def run_vectorbt(prices: pd.DataFrame, weights: pd.DataFrame) -> np.ndarray:
    import vectorbt as vbt

    portfolio = vbt.Portfolio.from_orders(
        prices,
        size=weights.reindex(prices.index),
        size_type="targetpercent",
        fees=COST_BPS / 1e4,
        group_by=True,
        cash_sharing=True,
        call_seq="auto",
        init_cash=INITIAL_CAPITAL,
        freq="D",
    )
    return np.asarray(portfolio.value(), dtype=float)


def run_bt(prices: pd.DataFrame, weights: pd.DataFrame) -> np.ndarray:
    import bt

    strategy = bt.Strategy(
        "equal",
        [
            bt.algos.RunOnDate(*weights.index),
            bt.algos.SelectAll(),
            bt.algos.WeighTarget(weights),
            bt.algos.Rebalance(),
        ],
    )
    test = bt.Backtest(
        strategy,
        prices,
        integer_positions=False,
        initial_capital=INITIAL_CAPITAL,
        commissions=lambda quantity, price: abs(quantity) * price * COST_BPS / 1e4,
        progress_bar=False,
    )
    result = bt.run(test)
    return result.backtests["equal"].strategy.values.reindex(prices.index).to_numpy()


def best_of(repeat: int, work: Callable[[], np.ndarray]) -> tuple[float, np.ndarray]:
    best, nav = float("inf"), np.empty(0)
    for _ in range(repeat):
        start = time.perf_counter()
        nav = work()
        best = min(best, time.perf_counter() - start)
    return best, nav


def panel(size: str) -> pd.DataFrame:
    if size == "sample":
        return load_sp500_dataset().astype(float)
    n_symbols, n_days = (int(part) for part in size.split("x"))
    return synthetic_prices(n_symbols, n_days)


# ---------------------------------------------------------------------------- end to end

E2E_DATABASE = "stocker_bench_backtest_e2e"
E2E_DAYS = 5040
E2E_SYMBOLS = 2000
E2E_METHODS = {"ew": "equal_weight", "iv": "inverse_volatility"}
E2E_SECTORS = [
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


def unfloor(engine: Any) -> None:
    """Redraw the bars of the few symbols whose walk hit bench/panel's price floor (a flat
    stretch has no volatility, which inverse volatility rightly refuses)."""
    from psycopg import sql
    from sqlalchemy import text

    from panel import synthetic_bars
    from stocker.store.bulk_copy import copy_arrow

    with engine.begin() as conn:
        floored = conn.execute(
            text("SELECT DISTINCT symbol FROM prices_daily WHERE close <= 1.0001")
        ).scalars()
        for number, symbol in enumerate(sorted(floored)):
            seed = 10_000 + 100 * number
            bars = synthetic_bars([symbol], E2E_DAYS, seed)
            while pc.min(bars["close"]).as_py() <= 1.0001:
                seed += 1
                bars = synthetic_bars([symbol], E2E_DAYS, seed)
            conn.execute(text("DELETE FROM prices_daily WHERE symbol = :s"), {"s": symbol})
            with conn.connection.driver_connection.cursor() as cursor:
                copy_arrow(cursor, sql.Identifier("prices_daily"), bars)


def e2e_database(server: str, sizes: list[int], *, fresh: bool = False) -> str:
    """The URL of a kept database with `E2E_SYMBOLS` × `E2E_DAYS` synthetic bars (bench/panel's
    generator), a group of the first N symbols and an equal-weight and an inverse-volatility
    portfolio on it for each N in `sizes`. Loaded once (minutes), then reused by later runs."""
    from sqlalchemy import create_engine, make_url, text
    from sqlalchemy.pool import NullPool

    from panel import fill
    from stocker.data.universes import create_universe
    from stocker.lab.construction import create_portfolio
    from stocker.store import migrate
    from stocker.store.db import make_engine
    from stocker.store.uow import SqlUnitOfWork

    admin = create_engine(server, isolation_level="AUTOCOMMIT", poolclass=NullPool)
    with admin.connect() as conn:
        exists = conn.execute(
            text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": E2E_DATABASE}
        ).scalar()
        if exists and fresh:
            conn.execute(text(f'DROP DATABASE "{E2E_DATABASE}" WITH (FORCE)'))
            exists = None
        if not exists:
            conn.execute(text(f'CREATE DATABASE "{E2E_DATABASE}"'))
    admin.dispose()
    url = make_url(server).set(database=E2E_DATABASE).render_as_string(hide_password=False)
    engine = make_engine(url)
    try:
        migrate.upgrade(engine)
        with engine.connect() as conn:
            loaded = conn.execute(text("SELECT count(*) FROM instrument_info")).scalar_one()
        if loaded == 0:
            started = time.perf_counter()
            fill(engine, E2E_SYMBOLS, E2E_DAYS)
            unfloor(engine)
            with engine.begin() as conn:
                conn.execute(
                    text(
                        "UPDATE instrument_info SET sector = (CAST(:s AS TEXT[]))"
                        "[1 + CAST(substr(symbol, 2) AS INTEGER) % 11]"
                    ),
                    {"s": E2E_SECTORS},
                )
            console.print(
                f"loaded {E2E_SYMBOLS} × {E2E_DAYS} bars into {E2E_DATABASE} "
                f"in {time.perf_counter() - started:.0f} s"
            )
        uow = SqlUnitOfWork(engine)
        for size in sizes:
            with uow:
                known = uow.portfolios.named(f"e2e_iv{size}") is not None
            if known:
                continue
            symbols = [f"S{index:05d}" for index in range(size)]
            create_universe(uow, f"e2e{size}", symbols=symbols)
            for prefix, method in E2E_METHODS.items():
                create_portfolio(uow, f"e2e_{prefix}{size}", group=f"e2e{size}", method=method)
    finally:
        engine.dispose()
    return url


@dataclass
class EndToEnd:
    size: str
    method: str
    seconds: float
    nav: np.ndarray
    detail: str = ""
    median: float | None = None


def inverse_volatility_weights(
    prices: pd.DataFrame, dates: pd.DatetimeIndex, lookback: int
) -> pd.DataFrame:
    """Inverse volatility (sample std of the last `lookback` daily returns) at each date."""
    returns = prices.pct_change()
    std = returns.rolling(lookback).std(ddof=1).loc[dates]
    inverse = 1.0 / std
    return inverse.div(inverse.sum(axis=1), axis=0)


def peer_weights(
    method: str, prices: pd.DataFrame, dates: pd.DatetimeIndex, lookback: int
) -> pd.DataFrame:
    """The peers' schedule, computed in memory the way stocker decides it."""
    if method == "equal_weight":
        return pd.DataFrame(1.0 / prices.shape[1], index=dates, columns=prices.columns)
    return inverse_volatility_weights(prices, dates, lookback)


def e2e_rows(
    server: str, sizes: list[int], peers: list[str], fresh: bool, rounds: int = 5
) -> list[EndToEnd]:
    """`run_backtest` (what `stocker backtest run` calls) cold, then `rounds` warm runs
    alternating with vectorbt's in-memory run of the same schedule (the machine's load hits
    both alike), bt once; per size and method, best and median of each."""
    import statistics
    import tempfile

    from stocker.lab.backtests import run_backtest
    from stocker.store.db import make_engine
    from stocker.store.panel_cache import PanelCache
    from stocker.store.uow import SqlUnitOfWork

    url = e2e_database(server, sizes, fresh=fresh)
    engine = make_engine(url)
    uow = SqlUnitOfWork(engine)
    sessions = pd.bdate_range("2000-01-03", periods=E2E_DAYS)
    lookback = 252
    start, end = sessions[lookback].date(), sessions[-1].date()
    rows: list[EndToEnd] = []

    def ours(code: str, cache: PanelCache) -> tuple[float, Any]:
        began = time.perf_counter()
        run = run_backtest(uow, code, start=start, end=end, cost_bps=COST_BPS, cache=cache)
        seconds = time.perf_counter() - began
        with engine.begin() as conn:  # keep the kept database small
            conn.exec_driver_sql(f"DELETE FROM backtest_runs WHERE id = {run.id}")
        return seconds, run

    def split(run: Any) -> str:
        timings = " ".join(f"{k} {v:.2f}" for k, v in run.timings.items())
        return f"{timings}; {len(run.schedule)} rebalances"

    try:
        for size in sizes:
            with uow:
                prices = uow.derived.panels(
                    ["adj_close"],
                    symbols=[f"S{index:05d}" for index in range(size)],
                    start=sessions[0].date(),
                    end=end,
                )["adj_close"]
            prices.index = pd.DatetimeIndex(prices.index)
            label = f"{size} × {E2E_DAYS}"
            for prefix, method in E2E_METHODS.items():
                code = f"e2e_{prefix}{size}"
                with tempfile.TemporaryDirectory() as home:
                    cache = PanelCache(home)
                    seconds, run = ours(code, cache)
                    rows.append(
                        EndToEnd(
                            label,
                            f"{method}: stocker backtest run, cold",
                            seconds,
                            run.result.nav.to_numpy(),
                            split(run),
                        )
                    )
                    schedule = run.schedule
                    assert schedule is not None
                    panel = prices.loc[pd.Timestamp(start) :]
                    dates = pd.DatetimeIndex(schedule.index)
                    mine = peer_weights(method, prices, dates, lookback)
                    same = float(np.nanmax(np.abs(mine.to_numpy() - schedule.to_numpy())))
                    warm: list[tuple[float, Any]] = []
                    vectorbt: list[tuple[float, np.ndarray]] = []
                    for _ in range(rounds):
                        warm.append(ours(code, cache))
                        if "vectorbt" in peers:
                            began = time.perf_counter()
                            nav = run_vectorbt(panel, peer_weights(method, prices, dates, lookback))
                            vectorbt.append((time.perf_counter() - began, nav))
                best = min(warm, key=lambda pair: pair[0])
                rows.append(
                    EndToEnd(
                        label,
                        f"{method}: stocker backtest run, warm",
                        best[0],
                        best[1].result.nav.to_numpy(),
                        f"{split(best[1])} (best)",
                        statistics.median(seconds for seconds, _ in warm),
                    )
                )
                if vectorbt:
                    fastest = min(vectorbt, key=lambda pair: pair[0])
                    rows.append(
                        EndToEnd(
                            label,
                            f"{method}: vectorbt (in memory)",
                            fastest[0],
                            fastest[1],
                            f"weights as stocker's to {same:.0e}",
                            statistics.median(seconds for seconds, _ in vectorbt),
                        )
                    )
                if "bt" in peers:
                    began = time.perf_counter()
                    nav = run_bt(panel, peer_weights(method, prices, dates, lookback))
                    seconds = time.perf_counter() - began
                    rows.append(
                        EndToEnd(
                            label,
                            f"{method}: bt (in memory)",
                            seconds,
                            nav,
                            f"weights as stocker's to {same:.0e}; once",
                        )
                    )
                console.print(f"done: {label} {method}")
    finally:
        engine.dispose()
    return rows


def render_e2e(rows: list[EndToEnd]) -> None:
    table = Table(
        title=f"End to end: monthly portfolios from the database, {COST_BPS:g} bps "
        "(stocker: read, decide, engine, analytics, every output stored); warm stocker and "
        "vectorbt alternate, best and median of the rounds"
    )
    numbers = ("best s", "median s", "NAV diff")
    for column in ("panel", "run", *numbers, "detail"):
        table.add_column(column, justify="right" if column in numbers else "left")
    for row in rows:
        method = row.method.split(":")[0]
        ours = next(
            r
            for r in rows
            if r.size == row.size and r.method == f"{method}: stocker backtest run, warm"
        )
        difference = float(np.max(np.abs(row.nav / ours.nav - 1.0)))
        median = "" if row.median is None else f"{row.median:.2f}"
        table.add_row(
            row.size, row.method, f"{row.seconds:.2f}", median, f"{difference:.1e}", row.detail
        )
    console.print(table)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", nargs="+", default=["sample", "500x5040", "2000x5040"])
    parser.add_argument("--peers", nargs="*", default=["vectorbt", "bt"])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument(
        "--end-to-end",
        nargs="*",
        type=int,
        metavar="SYMBOLS",
        help="Also run `stocker backtest run` from the database at these sizes "
        "(default 500 2000) in the kept database " + E2E_DATABASE,
    )
    parser.add_argument(
        "--fresh", action="store_true", help="Reload the kept end-to-end database first."
    )
    parser.add_argument(
        "--rounds",
        type=int,
        default=5,
        help="End to end: warm stocker runs, each followed by a vectorbt run (default 5).",
    )
    args = parser.parse_args()
    warnings.simplefilter("ignore")

    if "vectorbt" in args.peers:
        tiny = synthetic_prices(3, 60)
        start = time.perf_counter()
        run_vectorbt(tiny, monthly_equal_weights(tiny))
        console.print(
            f"vectorbt: numba compilation on a 3 × 60 panel {time.perf_counter() - start:.1f} s"
            " (not counted below)"
        )

    rows: list[Row] = []
    for size in args.sizes:
        prices = panel(size)
        weights = monthly_equal_weights(prices)
        close = prices.to_numpy()
        positions = prices.index.get_indexer(weights.index)
        target = weights.to_numpy()
        label = f"{size} ({prices.shape[1]} × {prices.shape[0]}, {len(weights)} rebalances)"
        seconds, nav = best_of(args.repeat, partial(numpy_loop_nav, close, positions, target))
        rows.append(Row(label, "numpy loop (NAV only)", seconds, nav))
        seconds, nav = best_of(args.repeat, partial(run_stocker, prices, weights))
        rows.append(Row(label, "stocker (every output)", seconds, nav))
        if "vectorbt" in args.peers:
            seconds, nav = best_of(args.repeat, partial(run_vectorbt, prices, weights))
            rows.append(Row(label, "vectorbt", seconds, nav))
        if "bt" in args.peers:
            seconds, nav = best_of(1, partial(run_bt, prices, weights))
            rows.append(Row(label, "bt", seconds, nav))
        console.print(f"done: {label}")

    table = Table(
        title=f"Equal-weight monthly rebalancing, {COST_BPS:g} bps, best of {args.repeat}"
    )
    for column in ("panel", "method", "seconds", "ratio", "NAV diff vs stocker"):
        table.add_column(column, justify="left" if column in ("panel", "method") else "right")
    for row in rows:
        baseline = next(r for r in rows if r.size == row.size and r.method.startswith("numpy"))
        ours = next(r for r in rows if r.size == row.size and r.method.startswith("stocker"))
        difference = float(np.max(np.abs(row.nav / ours.nav - 1.0)))
        table.add_row(
            row.size,
            row.method,
            f"{row.seconds:.4f}",
            f"{row.seconds / baseline.seconds:.1f}×",
            f"{difference:.1e}",
        )
    console.print(table)
    if args.end_to_end is not None:
        from _scratch import server_url

        sizes = args.end_to_end or [500, 2000]
        render_e2e(e2e_rows(server_url(), sizes, args.peers, args.fresh, args.rounds))


if __name__ == "__main__":
    main()
