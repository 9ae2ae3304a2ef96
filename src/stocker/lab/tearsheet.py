"""A backtest's tearsheet: the figures built from its stored outputs, as HTML and as PNG.

Pure figure building: the inputs are plain frames (a run's NAV, an optional benchmark, weights
over time, sector exposures, trades), so a notebook can draw any NAV the same way.

- HTML with Plotly; the plotly.js bundle is written *inline* from the installed ``plotly``
  package (``include_plotlyjs=True``), so the file opens offline and loads no script from a CDN.
- PNG with matplotlib (Agg backend). Plotly's own static export needs kaleido and a Chrome
  binary, which a server or CI box often cannot download; matplotlib draws the same panels.

Panels: NAV against the benchmark (both rebased to 1), drawdown, rolling volatility and Sharpe
(`ROLLING_WINDOW` periods, annualized with 252 as in `stocker.core.metrics`), weights over time,
sector exposure, monthly returns heatmap (year × month) and turnover at each rebalance.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from stocker.core.metrics import PERIODS_PER_YEAR, monthly_returns

ROLLING_WINDOW = 63
"""Periods of the rolling volatility and Sharpe (one quarter of sessions)."""
TOP_WEIGHTS = 10
"""Symbols drawn by name in the weights panel; the rest are summed as "other"."""
MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]


@dataclass(frozen=True)
class TearsheetData:
    """What a tearsheet is drawn from; every frame is indexed by date.

    weights: dates × symbols; sector_exposure: dates × sectors; trades: rows with
    ``rebalance_date`` and ``trade_value`` (signed currency traded).
    """

    nav: pd.Series
    benchmark: pd.Series | None = None
    weights: pd.DataFrame | None = None
    sector_exposure: pd.DataFrame | None = None
    trades: pd.DataFrame | None = None
    title: str = "Backtest"
    benchmark_name: str = "benchmark"


@dataclass(frozen=True)
class TearsheetFrames:
    """The series every panel plots (computed once, drawn by both renderers)."""

    nav: pd.Series
    benchmark: pd.Series | None
    drawdown: pd.Series
    rolling_volatility: pd.Series
    rolling_sharpe: pd.Series
    weights: pd.DataFrame | None
    sector_exposure: pd.DataFrame | None
    monthly: pd.DataFrame
    turnover: pd.Series


def drawdown(nav: pd.Series) -> pd.Series:
    """NAV over its running peak, minus one (0 at a new high, negative below it)."""
    return nav / nav.cummax() - 1.0


def rolling_volatility(nav: pd.Series, window: int = ROLLING_WINDOW) -> pd.Series:
    """Annualized standard deviation (ddof=1) of the last `window` simple returns."""
    return nav.pct_change().rolling(window).std(ddof=1) * np.sqrt(PERIODS_PER_YEAR)


def rolling_sharpe(nav: pd.Series, window: int = ROLLING_WINDOW) -> pd.Series:
    """Annualized Sharpe (no risk-free rate) of the last `window` simple returns."""
    returns = nav.pct_change().rolling(window)
    with np.errstate(divide="ignore", invalid="ignore"):
        return returns.mean() / returns.std(ddof=1) * np.sqrt(PERIODS_PER_YEAR)


def monthly_table(nav: pd.Series) -> pd.DataFrame:
    """Monthly returns as a year × month (1..12) table; months outside the NAV are NaN."""
    monthly = monthly_returns(nav)
    months = pd.PeriodIndex(monthly.index)
    table = pd.DataFrame(
        {"year": months.year, "month": months.month, "value": monthly.to_numpy()}
    ).pivot(index="year", columns="month", values="value")
    return table.reindex(columns=range(1, 13))


def turnover(data: TearsheetData) -> pd.Series:
    """One-way turnover at each rebalance: ½·Σ|traded value| / NAV of that day (from trades),
    else ½·Σ|Δ weight| between consecutive weight rows that differ."""
    if data.trades is not None and len(data.trades):
        traded = (
            data.trades.assign(value=data.trades["trade_value"].astype(float).abs())
            .groupby("rebalance_date")["value"]
            .sum()
        )
        traded.index = pd.DatetimeIndex(traded.index)
        nav = data.nav.reindex(traded.index, method="ffill")
        return (0.5 * traded / nav).rename("turnover")
    if data.weights is not None and len(data.weights) > 1:
        change = 0.5 * data.weights.fillna(0.0).diff().abs().sum(axis=1).iloc[1:]
        return change[change > 1e-12].rename("turnover")
    return pd.Series(dtype=float, name="turnover")


def _grouped_weights(weights: pd.DataFrame) -> pd.DataFrame:
    """The `TOP_WEIGHTS` largest average holdings by name, the rest summed as "other"."""
    filled = weights.fillna(0.0)
    order = filled.abs().mean().sort_values(ascending=False).index
    top = filled[order[:TOP_WEIGHTS]]
    if len(order) > TOP_WEIGHTS:
        top = top.assign(other=filled[order[TOP_WEIGHTS:]].sum(axis=1))
    return top


def frames(data: TearsheetData) -> TearsheetFrames:
    """Every panel's series, the NAV and benchmark rebased to 1 at the first date."""
    nav = data.nav.astype(float).sort_index()
    nav.index = pd.DatetimeIndex(nav.index)
    benchmark = None
    if data.benchmark is not None:
        bench = data.benchmark.astype(float).sort_index()
        bench.index = pd.DatetimeIndex(bench.index)
        bench = bench.reindex(nav.index).ffill().dropna()
        benchmark = bench / bench.iloc[0] if len(bench) else None
    weights = _grouped_weights(data.weights) if data.weights is not None else None
    return TearsheetFrames(
        nav=nav / nav.iloc[0],
        benchmark=benchmark,
        drawdown=drawdown(nav),
        rolling_volatility=rolling_volatility(nav),
        rolling_sharpe=rolling_sharpe(nav),
        weights=weights,
        sector_exposure=data.sector_exposure,
        monthly=monthly_table(nav),
        turnover=turnover(data),
    )


PANEL_TITLES = (
    "NAV (rebased to 1)",
    "Drawdown",
    f"Rolling volatility ({ROLLING_WINDOW} periods)",
    f"Rolling Sharpe ({ROLLING_WINDOW} periods)",
    "Weights",
    "Sector exposure",
    "Monthly returns",
    "Turnover at each rebalance",
)


def figure(data: TearsheetData) -> Any:
    """The tearsheet as one Plotly figure (eight stacked panels)."""
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    panels = frames(data)
    fig = make_subplots(rows=len(PANEL_TITLES), cols=1, subplot_titles=PANEL_TITLES)
    fig.add_trace(go.Scatter(x=panels.nav.index, y=panels.nav, name="NAV"), row=1, col=1)
    if panels.benchmark is not None:
        fig.add_trace(
            go.Scatter(x=panels.benchmark.index, y=panels.benchmark, name=data.benchmark_name),
            row=1,
            col=1,
        )
    fig.add_trace(
        go.Scatter(x=panels.drawdown.index, y=panels.drawdown, name="drawdown", fill="tozeroy"),
        row=2,
        col=1,
    )
    for row, series, name in (
        (3, panels.rolling_volatility, "rolling volatility"),
        (4, panels.rolling_sharpe, "rolling Sharpe"),
    ):
        fig.add_trace(go.Scatter(x=series.index, y=series, name=name), row=row, col=1)
    for row, stacked in ((5, panels.weights), (6, panels.sector_exposure)):
        if stacked is None:
            continue
        for column in stacked.columns:
            fig.add_trace(
                go.Scatter(
                    x=stacked.index,
                    y=stacked[column],
                    name=str(column),
                    stackgroup=f"stack{row}",
                    legendgroup=f"panel{row}",
                ),
                row=row,
                col=1,
            )
    fig.add_trace(
        go.Heatmap(
            z=panels.monthly.to_numpy(),
            x=MONTHS,
            y=[str(year) for year in panels.monthly.index],
            colorscale="RdYlGn",
            zmid=0.0,
            showscale=False,
            name="monthly returns",
        ),
        row=7,
        col=1,
    )
    fig.add_trace(go.Bar(x=panels.turnover.index, y=panels.turnover, name="turnover"), row=8, col=1)
    fig.update_layout(title=data.title, height=300 * len(PANEL_TITLES), showlegend=True)
    return fig


def write_html(data: TearsheetData, path: Path | str) -> Path:
    """The tearsheet as a self-contained HTML file (plotly.js inline, no CDN)."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    figure(data).write_html(str(target), include_plotlyjs=True, full_html=True)
    return target


def write_png(data: TearsheetData, path: Path | str, *, dpi: int = 100) -> Path:
    """The tearsheet as a PNG drawn with matplotlib (no browser needed)."""
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    panels = frames(data)
    fig, axes = plt.subplots(len(PANEL_TITLES), 1, figsize=(11, 3.0 * len(PANEL_TITLES)))
    for axis, title in zip(axes, PANEL_TITLES, strict=True):
        axis.set_title(title, fontsize=10)
    axes[0].plot(panels.nav.index, panels.nav.to_numpy(), label="NAV")
    if panels.benchmark is not None:
        axes[0].plot(panels.benchmark.index, panels.benchmark.to_numpy(), label=data.benchmark_name)
    axes[0].legend(loc="upper left", fontsize=8)
    axes[1].fill_between(panels.drawdown.index, panels.drawdown.to_numpy(), 0.0, alpha=0.5)
    axes[2].plot(panels.rolling_volatility.index, panels.rolling_volatility.to_numpy())
    axes[3].plot(panels.rolling_sharpe.index, panels.rolling_sharpe.to_numpy())
    for axis, stacked in ((axes[4], panels.weights), (axes[5], panels.sector_exposure)):
        if stacked is not None and len(stacked.columns):
            values = stacked.fillna(0.0)
            axis.stackplot(
                values.index,
                values.to_numpy().T.clip(min=0.0),
                labels=[str(c) for c in values.columns],
            )
            axis.legend(loc="upper left", fontsize=6, ncol=4)
    monthly = panels.monthly
    limit = float(np.nanmax(np.abs(monthly.to_numpy()))) if monthly.notna().any().any() else 1.0
    axes[6].imshow(monthly.to_numpy(), aspect="auto", cmap="RdYlGn", vmin=-limit, vmax=limit or 1.0)
    axes[6].set_xticks(range(12), MONTHS, fontsize=7)
    axes[6].set_yticks(range(len(monthly.index)), [str(y) for y in monthly.index], fontsize=7)
    if len(panels.turnover):
        axes[7].bar(panels.turnover.index, panels.turnover.to_numpy(), width=5.0)
    fig.suptitle(data.title, fontsize=12)
    fig.tight_layout(rect=(0.0, 0.0, 1.0, 0.985))  # room for the title above the first panel
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(target, dpi=dpi, format="png")
    plt.close(fig)
    return target
