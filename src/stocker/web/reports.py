"""The figures and tables of a backtest's report page, from the run's stored outputs.

The report's numbers are `stocker.lab.compare.run_report`'s (metrics) and the tearsheet's
(`stocker.lab.tearsheet.figure`); this module only gathers the frames they are drawn from and
marks the run's trades on one symbol's adjusted close.
"""

from __future__ import annotations

from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import pandas as pd

from stocker.web import charts

UnitOfWork = Any
"""The store's unit of work (`App.uow()`); the web app does not import the store."""

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

    from stocker.lab.compare import RunReport

HOLDINGS_SHOWN_DAYS = 1
"""The report's holdings table shows the last day; the CSV has every day."""


@dataclass(frozen=True)
class Report:
    report: RunReport
    tearsheet: dict[str, Any]
    holdings: pd.DataFrame
    symbols: list[str]


def report(units: Callable[[], UnitOfWork], run_id: int, benchmark: str | None) -> Report:
    """The run's metrics (`run_report`), its tearsheet figure and the latest holdings."""
    from stocker.lab import compare
    from stocker.lab.backtests import read_holdings
    from stocker.lab.tearsheet import TearsheetData, figure

    found = compare.run_report(units(), run_id, benchmark=benchmark)
    run = found.run
    nav = run.nav.astype(float)
    bench = compare.aligned_close(units(), benchmark, nav) if benchmark else None
    data = TearsheetData(
        nav=nav,
        benchmark=bench,
        weights=compare.daily_weights(units(), run.id),
        sector_exposure=compare.sector_frame(run),
        trades=run.trades,
        title=f"Backtest {run.id}: {run.run.portfolio} {run.run.start_date}..{run.run.end_date}",
        benchmark_name=benchmark or "benchmark",
    )
    holdings = read_holdings(units(), run_id, day=run.run.end_date)
    if holdings.empty:
        all_holdings = read_holdings(units(), run_id)
        last = all_holdings["date"].max() if len(all_holdings) else None
        holdings = all_holdings[all_holdings["date"] == last] if last is not None else all_holdings
    traded = run.trades["symbol"].value_counts() if len(run.trades) else pd.Series(dtype=int)
    return Report(
        report=found,
        tearsheet=charts.from_plotly(figure(data)),
        holdings=holdings,
        symbols=[str(symbol) for symbol in traded.index],
    )


def trades_on_price(
    units: Callable[[], UnitOfWork], found: RunReport, symbol: str
) -> dict[str, Any]:
    """`symbol`'s adjusted close over the run with its buys and sells marked."""
    from stocker.lab import compare

    nav = found.run.nav.astype(float)
    prices = compare.aligned_close(units(), symbol, nav)
    trades = found.run.trades
    mine = trades[trades["symbol"] == symbol]
    when = pd.to_datetime(mine["rebalance_date"])
    at = prices.reindex(pd.DatetimeIndex(when), method="ffill")
    buys = mine["shares_delta"].astype(float) > 0
    traces = [charts.line(prices.index, prices.to_list(), f"{symbol} adjusted close")]
    for mask, name, shape, color in (
        (buys, "buy", "triangle-up", "#1b7f3b"),
        (~buys, "sell", "triangle-down", "#b3261e"),
    ):
        chosen = mask.to_numpy()
        traces.append(
            charts.markers(
                when[chosen],
                at.to_numpy()[chosen],
                name,
                shape,
                color,
                [f"{value:+,.2f}" for value in mine["trade_value"].astype(float)[chosen]],
            )
        )
    return charts.figure(traces, f"Trades of {symbol} on its price", height=380)


def units_of(factory: Callable[[], UnitOfWork]) -> Callable[[], AbstractContextManager[Any]]:
    """A sweep's units of work in this process: each call yields a fresh unit of work."""

    @contextmanager
    def units() -> Iterator[UnitOfWork]:
        yield factory()

    return units
