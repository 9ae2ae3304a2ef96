"""The trend strategy's vectorized backtest over stored prices, summarized against its target.

`stocker backtest trend` runs `trend_backtest` (the one engine, the same strategy functions as
the live pipeline) on the stored adjusted closes of a strategy file's universe, or of the
sample's 20 stocks, and reports what a reader checks first: the realized volatility next to the
volatility target, CAGR, Sharpe and maximum drawdown, and when the drawdown rule cut the
strategy to zero and when it re-entered.
"""

from __future__ import annotations

import datetime as dt
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from stocker.core.backtest.trend import trend_backtest
from stocker.core.errors import DataError
from stocker.core.metrics import performance
from stocker.core.strategy.config import StrategyConfig

if TYPE_CHECKING:
    from stocker.store.uow import SqlUnitOfWork
    from stocker.trading.strategy_files import PortfolioSetup


def sample_stocks() -> tuple[str, ...]:
    """The 20 stocks of the bundled sample (`stocker data load-sample`)."""
    from stocker.sample.skfolio import STOCK_LISTINGS

    return tuple(STOCK_LISTINGS)


@dataclass(frozen=True)
class TrendReport:
    """One backtest of the trend strategy and the numbers it is judged by."""

    symbols: tuple[str, ...]
    start: dt.date
    end: dt.date
    sessions: int
    config: StrategyConfig
    initial_capital: float
    final_nav: float
    realized_vol: float
    cagr: float
    sharpe: float
    max_drawdown: float
    cuts: tuple[dt.date, ...]
    """First session of each run of decisions at zero (the drawdown rule's cut)."""
    reentries: tuple[dt.date, ...]
    """First session back in after each cut (empty with ``drawdown_reentry = "never"``)."""
    passes: int
    seconds: float

    @property
    def target_vol(self) -> float:
        return self.config.target_vol_annual

    def as_json(self) -> dict[str, Any]:
        return {
            "symbols": list(self.symbols),
            "start": self.start.isoformat(),
            "end": self.end.isoformat(),
            "sessions": self.sessions,
            "target_vol": self.target_vol,
            "realized_vol": self.realized_vol,
            "cagr": self.cagr,
            "sharpe": self.sharpe,
            "max_drawdown": self.max_drawdown,
            "initial_capital": self.initial_capital,
            "final_nav": self.final_nav,
            "drawdown_reentry": self.config.drawdown_reentry,
            "drawdown_cooloff": self.config.drawdown_cooloff,
            "cut_to_zero": [day.isoformat() for day in self.cuts],
            "reentered": [day.isoformat() for day in self.reentries],
            "passes": self.passes,
            "seconds": self.seconds,
            "config": self.config.model_dump(),
        }


def trend_report(
    uow: SqlUnitOfWork,
    *,
    setup: PortfolioSetup | None = None,
    start: dt.date | None = None,
    end: dt.date | None = None,
) -> TrendReport:
    """Backtest the strategy of ``setup`` (default: the sample's 20 stocks with the default
    parameters) on the stored adjusted closes from ``start`` to ``end`` (default: all)."""
    symbols = setup.symbols if setup is not None else sample_stocks()
    config = setup.config if setup is not None else StrategyConfig()
    capital = float(setup.capital) if setup is not None else 1_000_000.0
    if start is not None and end is not None and end < start:
        raise DataError(f"--to {end} is before --from {start}")
    with uow:
        prices = uow.trading.adj_close_history(symbols, end or dt.date(9999, 12, 31))
    if start is not None:
        prices = prices.loc[prices.index >= np.datetime64(start)]
    prices = prices.dropna(axis=1, how="all")
    if prices.empty:
        raise DataError(
            f"no stored prices of {', '.join(symbols[:5])}{'…' if len(symbols) > 5 else ''} "
            f"between {start or 'the start'} and {end or 'the end'}; load them first "
            "(`stocker data load-sample` for the sample)"
        )
    started = time.perf_counter()
    run = trend_backtest(prices, config, initial_capital=capital)
    seconds = time.perf_counter() - started
    nav = run.result.nav
    metrics = performance(nav, periods_per_year=config.periods_per_year)
    at_zero = run.targets.drawdown_multiplier.to_numpy() == 0.0
    dates = [stamp.date() for stamp in nav.index]
    cuts = tuple(dates[i] for i in np.flatnonzero(at_zero & ~np.r_[False, at_zero[:-1]]))
    back = np.flatnonzero(~at_zero & np.r_[False, at_zero[:-1]])
    return TrendReport(
        symbols=tuple(str(symbol) for symbol in prices.columns),
        start=dates[0],
        end=dates[-1],
        sessions=len(nav),
        config=config,
        initial_capital=capital,
        final_nav=float(nav.iloc[-1]),
        realized_vol=metrics["volatility"],
        cagr=metrics["cagr"],
        sharpe=metrics["sharpe"],
        max_drawdown=-metrics["max_drawdown"],
        cuts=cuts,
        reentries=tuple(dates[i] for i in back),
        passes=run.passes,
        seconds=seconds,
    )
