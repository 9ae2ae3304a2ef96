"""Reports of stored backtests: one run's metrics and tearsheet, several runs side by side.

`run_report(uow, run_id, html=..., png=...)` reads the run (timeseries, trades, sector
exposures, holdings on rebalance dates), computes `stocker.performance` — with turnover from
the weights held after each rebalance, and beta / alpha when a benchmark symbol is given — and
writes the tearsheet. `compare_runs(uow, ids, html=...)` puts the metrics of several runs in
one table and their NAVs (rebased to 1) on one chart.

A benchmark is a symbol's adjusted close over the run's dates (`prices_daily.adj_close`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from stocker.core.errors import DataError
from stocker.core.metrics import performance
from stocker.lab.backtests import BacktestRun, read_holdings, read_run
from stocker.lab.tearsheet import TearsheetData, write_html, write_png

if TYPE_CHECKING:
    from stocker.store.uow import SqlUnitOfWork

METRIC_ORDER = (
    "cagr",
    "volatility",
    "sharpe",
    "sortino",
    "max_drawdown",
    "max_drawdown_duration",
    "calmar",
    "turnover",
    "hit_rate",
    "beta",
    "alpha",
    "var_95",
    "cvar_95",
)


@dataclass(frozen=True)
class RunReport:
    """One run's metrics, monthly returns and where its tearsheet was written."""

    run: BacktestRun
    metrics: dict[str, float]
    monthly_returns: pd.Series
    html: Path | None = None
    png: Path | None = None

    def as_json(self) -> dict[str, Any]:
        return {
            **self.run.as_json(),
            "metrics": {name: _plain(value) for name, value in self.metrics.items()},
            "monthly_returns": {
                str(period): float(value) for period, value in self.monthly_returns.items()
            },
            "html": None if self.html is None else str(self.html),
            "png": None if self.png is None else str(self.png),
        }


@dataclass(frozen=True)
class Comparison:
    """Metrics of several runs (a metric per row, a run per column) and their NAVs."""

    metrics: pd.DataFrame
    navs: pd.DataFrame
    runs: list[BacktestRun] = field(default_factory=list)
    html: Path | None = None

    def as_json(self) -> dict[str, Any]:
        return {
            "runs": [run.as_json() | {"metrics": None} for run in self.runs],
            "metrics": {
                str(run_id): {k: _plain(v) for k, v in column.items()}
                for run_id, column in self.metrics.to_dict().items()
            },
            "html": None if self.html is None else str(self.html),
        }


def _plain(value: Any) -> float | None:
    number = float(value)
    return None if number != number else number


def aligned_close(uow: SqlUnitOfWork, symbol: str, nav: pd.Series) -> pd.Series:
    """`symbol`'s adjusted close on the dates of `nav` (carried over gaps): a benchmark, or the
    price a report marks trades on."""
    with uow:
        prices = uow.derived.panel(
            "adj_close", symbols=[symbol], start=nav.index[0], end=nav.index[-1]
        )[symbol]
    prices = prices.dropna()
    if prices.empty:
        raise DataError(f"benchmark: {symbol!r} has no adjusted close between the run's dates")
    return prices.reindex(nav.index).ffill().bfill().rename(symbol)


def daily_weights(uow: SqlUnitOfWork, run_id: int) -> pd.DataFrame | None:
    """Stored holding weights as dates × symbols (None when the run holds nothing)."""
    holdings = read_holdings(uow, run_id)
    if holdings.empty:
        return None
    weights = holdings.pivot_table(index="date", columns="symbol", values="weight", aggfunc="sum")
    weights.index = pd.DatetimeIndex(weights.index)
    return weights


def _at_rebalances(weights: pd.DataFrame | None, trades: pd.DataFrame) -> pd.DataFrame | None:
    """The weights held at the close of each rebalance date: the schedule turnover counts."""
    if weights is None or trades.empty:
        return weights
    rebalances = pd.DatetimeIndex(sorted(set(pd.to_datetime(trades["rebalance_date"]))))
    return weights.reindex(weights.index.intersection(rebalances)).fillna(0.0)


def sector_frame(run: BacktestRun) -> pd.DataFrame | None:
    """The run's sector weights as dates × sectors (None when it stored none)."""
    exposures = run.sector_exposures
    if exposures.empty:
        return None
    frame = exposures.pivot_table(index="date", columns="sector", values="weight", aggfunc="sum")
    frame.index = pd.DatetimeIndex(frame.index)
    return frame


def _metrics(
    nav: pd.Series, benchmark: pd.Series | None, weights: pd.DataFrame | None
) -> dict[str, float]:
    if len(nav) < 3:
        return {}
    if weights is not None and len(weights) < 2:
        weights = None
    return performance(nav, benchmark=benchmark, weights=weights)


def run_report(
    uow: SqlUnitOfWork,
    run_id: int,
    *,
    html: Path | str | None = None,
    png: Path | str | None = None,
    benchmark: str | None = None,
) -> RunReport:
    """Metrics of stored run `run_id` and, when asked, its tearsheet as HTML and / or PNG."""
    from stocker.core.metrics import monthly_returns

    run = read_run(uow, run_id)
    if run.status != "COMPLETED" or run.timeseries.empty:
        raise DataError(
            f"backtest: run {run_id} is {run.status} with {len(run.timeseries)} NAV rows; "
            "a report needs a completed run"
        )
    nav = run.nav.astype(float)
    bench = aligned_close(uow, benchmark, nav) if benchmark else None
    weights = daily_weights(uow, run.id)
    metrics = _metrics(nav, bench, _at_rebalances(weights, run.trades))
    html_path = png_path = None
    if html is not None or png is not None:
        title = f"Backtest {run.id}: {run.run.portfolio} {run.run.start_date}..{run.run.end_date}"
        data = TearsheetData(
            nav=nav,
            benchmark=bench,
            weights=weights,
            sector_exposure=sector_frame(run),
            trades=run.trades,
            title=title,
            benchmark_name=benchmark or "benchmark",
        )
        html_path = write_html(data, html) if html is not None else None
        png_path = write_png(data, png) if png is not None else None
    return RunReport(
        run=run,
        metrics=metrics,
        monthly_returns=monthly_returns(nav),
        html=html_path,
        png=png_path,
    )


def compare_runs(
    uow: SqlUnitOfWork,
    run_ids: Sequence[int],
    *,
    html: Path | str | None = None,
    benchmark: str | None = None,
) -> Comparison:
    """Metrics of `run_ids` side by side and, with `html`, their NAVs on one chart."""
    if not run_ids:
        raise DataError("runs: got none, expected at least one run id")
    runs = [read_run(uow, run_id) for run_id in dict.fromkeys(run_ids)]
    columns: dict[int, dict[str, float]] = {}
    navs: dict[str, pd.Series] = {}
    for run in runs:
        nav = run.nav.astype(float)
        bench = aligned_close(uow, benchmark, nav) if benchmark and len(nav) else None
        weights = _at_rebalances(daily_weights(uow, run.id), run.trades)
        columns[run.id] = _metrics(nav, bench, weights)
        if len(nav):
            navs[_label(run)] = nav / nav.iloc[0]
    table = pd.DataFrame(columns)
    order = [name for name in METRIC_ORDER if name in table.index]
    table = table.reindex(order)
    frame = pd.DataFrame(navs)
    path = _write_navs(frame, html) if html is not None else None
    return Comparison(metrics=table, navs=frame, runs=runs, html=path)


def _label(run: BacktestRun) -> str:
    stored = run.run
    return (
        f"{stored.id}: {stored.portfolio} {stored.rebalance_frequency.lower()} "
        f"{stored.transaction_cost * 1e4:g} bps"
    )


def _write_navs(navs: pd.DataFrame, path: Path | str) -> Path:
    """NAVs (rebased to 1) on one Plotly chart, plotly.js inline (no CDN)."""
    import plotly.graph_objects as go

    fig = go.Figure()
    for label in navs.columns:
        series = navs[label].dropna()
        fig.add_trace(go.Scatter(x=series.index, y=series, name=str(label)))
    fig.update_layout(title="Backtests compared: NAV rebased to 1", height=600)
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    fig.write_html(str(target), include_plotlyjs=True, full_html=True)
    return target
