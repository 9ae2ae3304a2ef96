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
from stocker.core.backtest.engine import _marks

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
    sector_periods: list[SectorPeriod]
    """`sector_exposures` as stored (`sector_periods(holdings)`)."""
    trade_sets: list[TradeSet]
    """`trades` as stored (`trade_sets(trades, holdings.symbols)`)."""

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
    `symbols` are every name held or traded (the trades are numbered by them too).

    The weights are the engine's (`result.weights`: shares × mark / NAV, the same operations
    bit for bit) computed for the names held in each period only, never for the whole panel.
    """
    shares = result.holdings.to_numpy(dtype=np.float64)
    sessions = pd.DatetimeIndex(result.holdings.index)
    traded = np.zeros(shares.shape[1], dtype=bool)
    traded[np.asarray(result.trades["symbol"].cat.codes, dtype=np.int64)] = True
    held_ever = np.flatnonzero((shares != 0.0).any(axis=0) | traded)
    symbols = [str(result.holdings.columns[int(i)]) for i in held_ever]
    close = result.prices.to_numpy(dtype=np.float64)
    if len(held_ever) < shares.shape[1]:
        shares, close = shares[:, held_ever], close[:, held_ever]
    nav = result.nav.to_numpy(dtype=np.float64)
    gaps = bool(np.isnan(np.min(close, initial=np.inf)))  # one pass: most panels have none
    filled: np.ndarray | None = None
    changes = np.r_[0, 1 + np.flatnonzero((shares[1:] != shares[:-1]).any(axis=1))]
    ends = np.r_[changes[1:], len(sessions)] - 1
    starts_kept, ends_kept, names, held_shares, held_weights = [], [], [], [], []
    rows = 0
    for start, end in zip(changes, ends, strict=True):
        held = np.flatnonzero(shares[start] != 0.0)
        if not len(held):
            continue
        count = shares[start, held]
        every = len(held) == close.shape[1]  # a slice, not a gathered copy
        marks = close[start : end + 1].T if every else close[start : end + 1, held].T
        if gaps and np.isnan(marks).any():  # the engine's marks: the last close, 0 before any
            if filled is None:
                filled = _marks(close)
            marks = filled[start : end + 1].T if every else filled[start : end + 1, held].T
        weights = np.multiply(count[:, None], marks)
        np.divide(weights, nav[None, start : end + 1], out=weights)
        starts_kept.append(start)
        ends_kept.append(end)
        names.append(held)
        held_shares.append(count)
        held_weights.append(weights)
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


SectorPeriod = tuple[int, int, list[str], np.ndarray]
"""First and last session row of a holding period, the sectors held, weights sectors × sessions."""
TradeSet = tuple[dt.date, np.ndarray, np.ndarray, np.ndarray, np.ndarray]
"""A rebalance's decision date, names (0-based in the run's symbols), shares delta, value, cost."""


def sector_exposures(held: HoldingPeriods, periods: list[SectorPeriod]) -> pd.DataFrame:
    """Σ end-of-day weight per sector and day, over the names held that day: the daily rows
    the stored `sector_periods` stand for."""
    days = held.sessions.to_numpy()
    if not periods:
        return pd.DataFrame({"date": [], "sector": [], "weight": []})
    parts_date, parts_sector, parts_weight = [], [], []
    for start, end, sectors, weights in periods:  # day by day, sectors sorted within a day
        parts_date.append(np.repeat(days[start : end + 1], len(sectors)))
        parts_sector.append(np.tile(np.array(sectors, dtype=object), end - start + 1))
        parts_weight.append(weights.T.ravel())
    return pd.DataFrame(
        {
            "date": pd.DatetimeIndex(np.concatenate(parts_date)).date,
            "sector": np.concatenate(parts_sector),
            "weight": np.concatenate(parts_weight),
        }
    )


def factor_exposures(result: BacktestResult, exposures: pd.DataFrame) -> pd.DataFrame:
    """Σ weight × exposure per factor and day, each name's latest stored exposure on or before
    the day; NULL where no name held that day has one (every day when none are stored)."""
    frame = pd.DataFrame({"date": pd.DatetimeIndex(result.nav.index).date})
    if exposures.empty:  # no exposure stored: the full weights are not needed
        for factor in FACTORS:
            frame[factor] = np.nan
        return frame
    weights = result.weights.where(result.holdings != 0)
    for factor in FACTORS:
        if factor not in exposures.columns:
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
    executed = pd.DatetimeIndex(list(decided_on))
    decided = pd.DatetimeIndex(list(decided_on.values()))
    found = executed.get_indexer(pd.DatetimeIndex(table["date"]))
    if (found < 0).any():
        raise ValueError("trades on a day no rebalance executes on")
    symbol = table["symbol"]
    names = np.asarray([str(name) for name in symbol.cat.categories], dtype=object)
    return pd.DataFrame(
        {
            "rebalance_date": decided.date[found],
            "symbol": names[np.asarray(symbol.cat.codes, dtype=np.int64)],
            "shares_delta": table["quantity"].to_numpy(),
            "trade_value": table["notional"].to_numpy(),
            "transaction_cost": table["cost"].to_numpy(),
        }
    )


def sector_periods(held: HoldingPeriods) -> list[SectorPeriod]:
    """Per holding period (first and last session row, the sectors held, their weights as
    sectors × sessions): Σ end-of-day weight of the names held in each sector ("Unclassified"
    for names without one) — the rows of `sector_exposures`, stored the way holdings are."""
    labels = np.array([sector or UNCLASSIFIED for sector in held.sectors], dtype=object)
    names_sorted = sorted(set(labels))
    code_of = {name: code for code, name in enumerate(names_sorted)}
    codes = np.array([code_of[label] for label in labels], dtype=np.int64)
    table = np.array(names_sorted, dtype=object)
    periods: list[SectorPeriod] = []
    for start, end, names, weights in zip(
        held.starts, held.ends, held.names, held.weights, strict=True
    ):
        named = codes[names]
        order = np.argsort(named, kind="stable")  # each sector's names in holding order
        ordered = named[order]
        firsts = np.r_[0, np.flatnonzero(ordered[1:] != ordered[:-1]) + 1]
        totals = np.add.reduceat(weights[order], firsts, axis=0)
        periods.append((int(start), int(end), [str(s) for s in table[ordered[firsts]]], totals))
    return periods


def trade_sets(trades: pd.DataFrame, symbols: list[str]) -> list[TradeSet]:
    """The trades grouped by rebalance date: (date, 0-based numbers of the names in
    `symbols`, shares delta, signed value, cost), names in `symbols`' order."""
    if trades.empty:
        return []
    codes = pd.Index(symbols).get_indexer(pd.Index(trades["symbol"]))
    if (codes < 0).any():
        raise ValueError("trades name symbols the holdings do not number")
    days = pd.DatetimeIndex(pd.to_datetime(trades["rebalance_date"])).to_numpy()
    order = np.lexsort((codes, days))
    days, codes = days[order], codes[order].astype(np.int64)
    columns = [
        trades[name].to_numpy(dtype=np.float64)[order]
        for name in ("shares_delta", "trade_value", "transaction_cost")
    ]
    starts = np.r_[0, np.flatnonzero(days[1:] != days[:-1]) + 1]
    ends = np.r_[starts[1:], len(days)]
    dates = pd.DatetimeIndex(days[starts]).date
    return [
        (dates[n], codes[a:b], columns[0][a:b], columns[1][a:b], columns[2][a:b])
        for n, (a, b) in enumerate(zip(starts, ends, strict=True))
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
    held = holdings(result, sectors)
    periods = sector_periods(held)
    traded = trades(result, decided_on)
    return Outputs(
        holdings=held,
        timeseries=timeseries(result.nav, initial_capital),
        sector_exposures=sector_exposures(held, periods),
        factor_exposures=factor_exposures(result, exposures),
        trades=traded,
        sector_periods=periods,
        trade_sets=trade_sets(traded, held.symbols),
    )
