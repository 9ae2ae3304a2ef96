"""The demo's backtest: a low-volatility factor portfolio of the sample, walk-forward, monthly.

`backtest_factor_portfolio(app, home)` makes the group `DEMO_BACKTEST_GROUP` of every sample
stock (the whole universe, not a screen picked on the last day, so the past is not chosen with
hindsight) and the portfolio `DEMO_BACKTEST_PORTFOLIO` on it: minimum variance capped at 20% a
stock, i.e. a tilt to the low-volatility factor rebuilt from each month's trailing year. It
backtests the last `DEMO_YEARS` years of the sample monthly with 10 bps of costs, stores the run
in every backtest_* table, and writes its tearsheet (HTML and PNG) under
``<home>/reports/``. Each step is what a user runs from the CLI (`stocker universe create`,
`stocker portfolio create`, `stocker backtest run`, `stocker backtest report --html --png`);
rerunning keeps the group and portfolio and stores a new run.
"""

from __future__ import annotations

import datetime as dt
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from stocker.core.errors import DataError

if TYPE_CHECKING:
    from stocker.store.uow import SqlUnitOfWork

DEMO_BACKTEST_GROUP = "demo_sample_all"
DEMO_BACKTEST_PORTFOLIO = "demo_low_vol"
DEMO_YEARS = 10
DEMO_COST_BPS = 10.0
DEMO_MAX_WEIGHT = 0.20
HEADLINE = ("cagr", "volatility", "sharpe", "sortino", "max_drawdown", "calmar", "turnover")


class _App(Protocol):
    def uow(self) -> SqlUnitOfWork: ...


@dataclass(frozen=True)
class DemoBacktest:
    """The demo's stored run, where its tearsheet is and its headline metrics."""

    run_id: int
    portfolio: str
    start: dt.date
    end: dt.date
    rebalances: int
    html: Path
    png: Path
    metrics: dict[str, float]
    seconds: float

    def as_json(self) -> dict[str, Any]:
        return {
            "run_id": self.run_id,
            "portfolio": self.portfolio,
            "start": self.start.isoformat(),
            "end": self.end.isoformat(),
            "rebalances": self.rebalances,
            "html": str(self.html),
            "png": str(self.png),
            "metrics": self.metrics,
            "seconds": self.seconds,
        }


def _sample_window(uow: SqlUnitOfWork) -> tuple[list[str], dt.date, dt.date]:
    """The sample's symbols and the last `DEMO_YEARS` years of its sessions."""
    from stocker.sample.skfolio import sample_frames

    symbols = sorted(str(symbol) for symbol in sample_frames().instruments["symbol"])
    with uow:
        panel = uow.derived.panel("adj_close", symbols=symbols[:1])
    if panel.empty:
        raise DataError("demo: the sample is not loaded; run `stocker data sample` first")
    end = panel.index[-1].date()
    start = (panel.index[-1] - dt.timedelta(days=365 * DEMO_YEARS)).date()
    return symbols, start, end


def backtest_factor_portfolio(app: _App, home: Path | str) -> DemoBacktest:
    """Backtest the demo's low-volatility portfolio and write its tearsheet under `home`."""
    from stocker.data.universes import create_universe, member_symbols
    from stocker.lab.backtests import run_backtest
    from stocker.lab.compare import run_report
    from stocker.lab.construction import StoredConstraints, create_portfolio

    started = time.perf_counter()
    uow = app.uow()
    symbols, start, end = _sample_window(uow)
    with uow:
        group_exists = uow.universes.named(DEMO_BACKTEST_GROUP) is not None
        portfolio_exists = uow.portfolios.named(DEMO_BACKTEST_PORTFOLIO) is not None
    if not group_exists:
        create_universe(
            uow,
            DEMO_BACKTEST_GROUP,
            "Every stock of the sample (the demo backtest's universe)",
            symbols=symbols,
        )
    elif sorted(member_symbols(uow, DEMO_BACKTEST_GROUP)) != symbols:
        raise DataError(
            f"group {DEMO_BACKTEST_GROUP!r}: exists with other members; delete it to rerun the demo"
        )
    if not portfolio_exists:
        create_portfolio(
            uow,
            DEMO_BACKTEST_PORTFOLIO,
            group=DEMO_BACKTEST_GROUP,
            method="min_variance",
            constraints=StoredConstraints(max_weight=DEMO_MAX_WEIGHT),
            name="Demo: low volatility (minimum variance, 20% cap) over the sample",
            description="Rebuilt monthly from each month's trailing year of returns",
        )
    run = run_backtest(
        uow,
        DEMO_BACKTEST_PORTFOLIO,
        start=start,
        end=end,
        rebalance="monthly",
        cost_bps=DEMO_COST_BPS,
        cache_home=home,
    )
    reports = Path(home) / "reports"
    reports.mkdir(parents=True, exist_ok=True)
    report = run_report(
        uow,
        run.id,
        html=reports / f"backtest_{run.id}.html",
        png=reports / f"backtest_{run.id}.png",
    )
    assert report.html is not None and report.png is not None
    return DemoBacktest(
        run_id=run.id,
        portfolio=DEMO_BACKTEST_PORTFOLIO,
        start=run.run.start_date,
        end=run.run.end_date,
        rebalances=0 if run.schedule is None else len(run.schedule),
        html=report.html,
        png=report.png,
        metrics={name: float(report.metrics[name]) for name in HEADLINE if name in report.metrics},
        seconds=time.perf_counter() - started,
    )
