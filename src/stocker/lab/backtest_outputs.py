"""The rows a backtest stores (SigmaQLab 11.7), computed from the engine's result.

Pure pandas / numpy: the use case `stocker.lab.backtests` writes them through the repository,
and `bench/backtest_persist.py` times them.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np
import pandas as pd

from stocker.core.backtest import BacktestResult

ROLLING_VOLATILITY_DAYS = 21
"""Window of `volatility_rolling`: one trading month of daily returns, annualized by √252."""
PERIODS_PER_YEAR = 252
UNCLASSIFIED = "Unclassified"
"""backtest_sector_exposures.sector of names without a sector (holdings keep a NULL)."""
FACTORS = ("value", "quality", "momentum", "low_vol", "size")


@dataclass(frozen=True)
class Outputs:
    """One frame per backtest_* output table (without backtest_id)."""

    holdings: HoldingPeriods
    timeseries: pd.DataFrame
    sector_exposures: pd.DataFrame
    factor_exposures: pd.DataFrame
    trades: pd.DataFrame

    def counts(self) -> dict[str, int]:
        return {
            "holdings": len(self.holdings),
            "holding_periods": len(self.holdings.starts),
            "timeseries": len(self.timeseries),
            "sector_exposures": len(self.sector_exposures),
            "factor_exposures": len(self.factor_exposures),
            "trades": len(self.trades),
        }


def timeseries(nav: pd.Series, initial_capital: float) -> pd.DataFrame:
    """nav, return (the first day's against the initial capital), cumulative return, drawdown
    (against the running peak, the initial capital included) and 21-day rolling volatility."""
    values = nav.to_numpy(dtype=np.float64)
    previous = np.r_[initial_capital, values[:-1]]
    returns = values / previous - 1.0
    peak = np.maximum.accumulate(np.r_[initial_capital, values])[1:]
    rolling = pd.Series(returns).rolling(ROLLING_VOLATILITY_DAYS).std(ddof=1)
    return pd.DataFrame(
        {
            "date": pd.DatetimeIndex(nav.index).date,
            "nav": values,
            "return": returns,
            "cumulative_return": values / initial_capital - 1.0,
            "drawdown": values / peak - 1.0,
            "volatility_rolling": rolling.to_numpy() * np.sqrt(PERIODS_PER_YEAR),
        }
    )


@dataclass(frozen=True)
class HoldingPeriods:
    """Holdings stored when they change: one period per stretch of sessions over which no
    share count changes, each with the names held, their shares and daily weights.

    `symbols` / `sectors` are the run's names (position i + 1 in the arrays' numbering);
    period p covers sessions `starts[p]` to `ends[p]` (row numbers of `sessions`) and holds
    the names `names[p]` (0-based into `symbols`) with `shares[p]` and `weights[p]`
    (names × sessions). `rows` counts the daily (session, name) holdings they stand for.
    """

    symbols: list[str]
    sectors: list[str | None]
    sessions: pd.DatetimeIndex
    starts: np.ndarray
    ends: np.ndarray
    names: list[np.ndarray]
    shares: list[np.ndarray]
    weights: list[np.ndarray]
    rows: int

    def __len__(self) -> int:
        return self.rows

    def daily(self) -> pd.DataFrame:
        """The daily rows (date, symbol, shares, weight, sector) the periods stand for."""
        parts = []
        symbols = np.array(self.symbols, dtype=object)
        sectors = np.array(self.sectors, dtype=object)
        for start, end, names, shares, weights in zip(
            self.starts, self.ends, self.names, self.shares, self.weights, strict=True
        ):
            days = self.sessions[start : end + 1]
            parts.append(
                pd.DataFrame(
                    {
                        "date": np.repeat(days.to_numpy()[None, :], len(names), 0).T.ravel(),
                        "symbol": np.tile(symbols[names], len(days)),
                        "shares": np.tile(shares, len(days)),
                        "weight": weights.T.ravel(),
                        "sector": np.tile(sectors[names], len(days)),
                    }
                )
            )
        columns = ["date", "symbol", "shares", "weight", "sector"]
        return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=columns)


def holdings(result: BacktestResult, sectors: dict[str, str]) -> HoldingPeriods:
    """The held positions (shares ≠ 0) as periods of unchanged shares with daily weights;
    `symbols` are every name held or traded (the trades are numbered by them too)."""
    shares = result.holdings.to_numpy(dtype=np.float64)
    weights = result.weights.to_numpy(dtype=np.float64)
    sessions = pd.DatetimeIndex(result.holdings.index)
    traded = result.holdings.columns.isin(result.trades["symbol"].astype(str).unique())
    held_ever = np.flatnonzero((shares != 0.0).any(axis=0) | traded)
    shares, weights = shares[:, held_ever], weights[:, held_ever]
    symbols = [str(result.holdings.columns[int(i)]) for i in held_ever]
    changes = np.r_[0, 1 + np.flatnonzero((shares[1:] != shares[:-1]).any(axis=1))]
    ends = np.r_[changes[1:], len(sessions)] - 1
    starts_kept, ends_kept, names, held_shares, held_weights = [], [], [], [], []
    rows = 0
    for start, end in zip(changes, ends, strict=True):
        held = np.flatnonzero(shares[start] != 0.0)
        if not len(held):
            continue
        starts_kept.append(start)
        ends_kept.append(end)
        names.append(held)
        held_shares.append(shares[start, held])
        held_weights.append(np.ascontiguousarray(weights[start : end + 1, held].T))
        rows += len(held) * (end - start + 1)
    return HoldingPeriods(
        symbols=symbols,
        sectors=[sectors.get(symbol) or None for symbol in symbols],
        sessions=sessions,
        starts=np.asarray(starts_kept, dtype=np.int64),
        ends=np.asarray(ends_kept, dtype=np.int64),
        names=names,
        shares=held_shares,
        weights=held_weights,
        rows=rows,
    )


def sector_exposures(result: BacktestResult, sectors: dict[str, str]) -> pd.DataFrame:
    """Σ end-of-day weight per sector and day, over the names held that day."""
    weights = result.weights
    held = result.holdings.to_numpy() != 0
    labels = [sectors.get(str(symbol)) or UNCLASSIFIED for symbol in weights.columns]
    values = np.where(held, weights.to_numpy(dtype=np.float64), 0.0)
    names = sorted(set(labels))
    code = np.array([names.index(label) for label in labels])
    totals = np.zeros((len(weights), len(names)))
    any_held = np.zeros((len(weights), len(names)), dtype=bool)
    for position in range(len(names)):
        members = code == position
        totals[:, position] = values[:, members].sum(axis=1)
        any_held[:, position] = held[:, members].any(axis=1)
    rows, columns = np.nonzero(any_held)
    return pd.DataFrame(
        {
            "date": pd.DatetimeIndex(weights.index).date[rows],
            "sector": np.array(names, dtype=object)[columns],
            "weight": totals[rows, columns],
        }
    )


def factor_exposures(result: BacktestResult, exposures: pd.DataFrame) -> pd.DataFrame:
    """Σ weight × exposure per factor and day, each name's latest stored exposure on or before
    the day; NULL where no name held that day has one (every day when none are stored)."""
    weights = result.weights.where(result.holdings != 0)
    frame = pd.DataFrame({"date": pd.DatetimeIndex(weights.index).date})
    for factor in FACTORS:
        if exposures.empty or factor not in exposures.columns:
            frame[factor] = np.nan
            continue
        table = exposures.pivot_table(
            index="as_of_date", columns="symbol", values=factor, aggfunc="last"
        )
        table.index = pd.to_datetime(table.index)
        known = (
            table.reindex(pd.DatetimeIndex(table.index).union(pd.DatetimeIndex(weights.index)))
            .ffill()
            .reindex(weights.index)
        )
        known = known.reindex(columns=weights.columns)
        frame[factor] = (weights * known).sum(axis=1, min_count=1).to_numpy()
    return frame


def trades(result: BacktestResult, decided_on: dict[pd.Timestamp, pd.Timestamp]) -> pd.DataFrame:
    """The engine's trades under their rebalance (decision) date, value signed (+ bought)."""
    table = result.trades
    return pd.DataFrame(
        {
            "rebalance_date": pd.DatetimeIndex(table["date"].map(decided_on)).date,
            "symbol": table["symbol"].astype(str).to_numpy(),
            "shares_delta": table["quantity"].to_numpy(),
            "trade_value": table["notional"].to_numpy(),
            "transaction_cost": table["cost"].to_numpy(),
        }
    )


def sector_periods(
    held: HoldingPeriods,
) -> list[tuple[int, int, list[str], np.ndarray]]:
    """Per holding period (first and last session row, the sectors held, their weights as
    sectors × sessions): Σ end-of-day weight of the names held in each sector ("Unclassified"
    for names without one) — the rows of `sector_exposures`, stored the way holdings are."""
    labels = np.array([sector or UNCLASSIFIED for sector in held.sectors], dtype=object)
    periods = []
    for start, end, names, weights in zip(
        held.starts, held.ends, held.names, held.weights, strict=True
    ):
        named = labels[names]
        sectors = sorted(set(named))
        codes = np.searchsorted(np.array(sectors, dtype=object), named)
        totals = np.zeros((len(sectors), weights.shape[1]))
        np.add.at(totals, codes, weights)
        periods.append((int(start), int(end), sectors, totals))
    return periods


def trade_sets(
    trades: pd.DataFrame, symbols: list[str]
) -> list[tuple[dt.date, np.ndarray, np.ndarray, np.ndarray, np.ndarray]]:
    """The trades grouped by rebalance date: (date, 0-based numbers of the names in
    `symbols`, shares delta, signed value, cost), names in `symbols`' order."""
    if trades.empty:
        return []
    codes = pd.Categorical(trades["symbol"], categories=symbols).codes.astype(np.int64)
    if (codes < 0).any():
        raise ValueError("trades name symbols the holdings do not number")
    days = pd.DatetimeIndex(pd.to_datetime(trades["rebalance_date"])).to_numpy()
    order = np.lexsort((codes, days))
    days, codes = days[order], codes[order]
    columns = [
        trades[name].to_numpy(dtype=np.float64)[order]
        for name in ("shares_delta", "trade_value", "transaction_cost")
    ]
    starts = np.r_[0, np.flatnonzero(days[1:] != days[:-1]) + 1]
    ends = np.r_[starts[1:], len(days)]
    return [
        (
            pd.Timestamp(days[a]).date(),
            codes[a:b],
            columns[0][a:b],
            columns[1][a:b],
            columns[2][a:b],
        )
        for a, b in zip(starts, ends, strict=True)
    ]


def outputs(
    result: BacktestResult,
    *,
    initial_capital: float,
    sectors: dict[str, str],
    exposures: pd.DataFrame,
    decided_on: dict[pd.Timestamp, pd.Timestamp],
) -> Outputs:
    """Every output table of one run."""
    return Outputs(
        holdings=holdings(result, sectors),
        timeseries=timeseries(result.nav, initial_capital),
        sector_exposures=sector_exposures(result, sectors),
        factor_exposures=factor_exposures(result, exposures),
        trades=trades(result, decided_on),
    )
