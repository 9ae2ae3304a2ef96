"""The rows a backtest stores (SigmaQLab 11.7), computed from the engine's result.

Pure pandas / numpy: the use case `stocker.lab.backtests` writes them through the repository,
and `bench/backtest_persist.py` times them.
"""

from __future__ import annotations

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

    holdings: pd.DataFrame
    timeseries: pd.DataFrame
    sector_exposures: pd.DataFrame
    factor_exposures: pd.DataFrame
    trades: pd.DataFrame

    def counts(self) -> dict[str, int]:
        return {
            "holdings": len(self.holdings),
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


def holdings(result: BacktestResult, sectors: dict[str, str]) -> pd.DataFrame:
    """One row per day and symbol held (shares ≠ 0): shares, end-of-day weight, sector."""
    shares = result.holdings.to_numpy(dtype=np.float64)
    weights = result.weights.to_numpy(dtype=np.float64)
    rows, columns = np.nonzero(shares)
    symbols = [str(symbol) for symbol in result.holdings.columns]
    labels = [sectors.get(symbol) for symbol in symbols]
    names = sorted({label for label in labels if label})
    codes = np.array([names.index(label) if label else -1 for label in labels], dtype=np.int32)
    # Categoricals, not 10 million strings: the writer decodes them in Arrow.
    return pd.DataFrame(
        {
            "date": pd.DatetimeIndex(result.holdings.index).to_numpy()[rows],
            "symbol": pd.Categorical.from_codes(
                columns.astype(np.int32), dtype=pd.CategoricalDtype(symbols)
            ),
            "shares": shares[rows, columns],
            "weight": weights[rows, columns],
            "sector": pd.Categorical.from_codes(codes[columns], dtype=pd.CategoricalDtype(names)),
        }
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
