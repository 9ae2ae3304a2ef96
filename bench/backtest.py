"""Backtest engine benchmark: `stocker.core.backtest.backtest` against a NAV-only numpy loop,
vectorbt and bt, in one run on the same panels and the same schedule.

The work: equal-weight monthly rebalancing (the last session of each month), 10 bps on traded
notional, fractional shares, execution at the close, 1,000,000 of initial capital, on

  sample       the real 20-stock sample shipped inside skfolio (8,313 sessions, 1990–2022)
  500x5040     synthetic geometric random walks, 500 symbols × 5,040 sessions (20 years)
  2000x5040    the same with 2,000 symbols

    .venv/bin/python bench/backtest.py
    .venv/bin/python bench/backtest.py --sizes sample 500x1000 --peers vectorbt   # a quick run

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

import numpy as np
import pandas as pd
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", nargs="+", default=["sample", "500x5040", "2000x5040"])
    parser.add_argument("--peers", nargs="*", default=["vectorbt", "bt"])
    parser.add_argument("--repeat", type=int, default=5)
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


if __name__ == "__main__":
    main()
