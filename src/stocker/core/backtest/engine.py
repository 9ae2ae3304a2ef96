"""The one vectorized backtest engine: prices + a weights schedule → NAV, holdings, trades, cash.

Conventions (docs/backtest.md has the worked details):

- ``prices`` is a dates × symbols panel of closes; ``weights`` has one row per rebalance date
  (a subset of the price dates), target fractions of NAV (missing means 0).
- ``execution="close"`` trades at the rebalance date's close; ``"next_open"`` trades at the
  next date's open (``open_prices``; without them the next close stands in, as on flat bars),
  so a weight decided from day t's close can never fill before t+1.
- ``shares="fractional"``: after a rebalance the holdings equal the weights × the post-cost NAV,
  with ``NAV_post = NAV_pre − Σ cost_i`` solved exactly (``cost_i = (cost_bps/1e4 +
  cost_per_share/price_i) × |w_i·NAV_post − value_i|``, at least ``min_commission`` for a traded
  name); with weights summing to 1 no cash is left over.
- ``shares="whole"``: shares from `stocker.core.strategy.orders.size_orders` (the live order
  manager's function: toward zero, on the NAV and close of the decision date), costs from cash.
- ``min_trade`` skips trades smaller than that fraction of NAV unless they close a position;
  a symbol without a price at the trade keeps its shares. Between trades shares and cash stay
  put; the NAV is marked at each close (the last known close for a symbol without one).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import Literal

import numpy as np
import numpy.typing as npt
import pandas as pd

from stocker.core.errors import DataError
from stocker.core.strategy.orders import size_orders

Execution = Literal["close", "next_open"]
ShareMode = Literal["fractional", "whole"]
FloatArray = npt.NDArray[np.float64]
_MAX_SOLVE_ROUNDS = 64


@dataclass(frozen=True)
class BacktestResult:
    """Daily NAV, cash and costs; end-of-day shares; one row per trade."""

    nav: pd.Series
    holdings: pd.DataFrame
    cash: pd.Series
    costs: pd.Series
    trades: pd.DataFrame
    prices: pd.DataFrame

    @cached_property
    def weights(self) -> pd.DataFrame:
        """End-of-day weights: value of each holding over the NAV."""
        marks = _marks(self.prices.to_numpy(dtype=np.float64))
        values = self.holdings.to_numpy() * marks
        return pd.DataFrame(
            values / self.nav.to_numpy()[:, None],
            index=self.holdings.index,
            columns=self.holdings.columns,
        )


def _marks(close: FloatArray) -> FloatArray:
    """Closes with gaps filled by the last known close and 0 before a symbol's first price."""
    if not np.isnan(close).any():
        return close
    return np.nan_to_num(pd.DataFrame(close).ffill().to_numpy(), nan=0.0)


def _solve_fractional(
    nav_pre: float,
    weights: FloatArray,
    values: FloatArray,
    rate: FloatArray,
    min_commission: float,
) -> tuple[float, FloatArray]:
    """Exact post-cost NAV for trading ``values`` to ``weights × NAV_post``; costs per name.

    The cost is piecewise linear in NAV_post; guess the piece (sign of each trade, whether the
    minimum commission binds), solve the linear equation, repeat until the piece holds.
    """
    traded = (weights != 0.0) | (values != 0.0)
    nav = nav_pre
    pattern: tuple[bytes, bytes] | None = None
    for _ in range(_MAX_SOLVE_ROUNDS):
        delta = weights * nav - values
        sign = np.sign(delta)
        linear = traded & (rate * np.abs(delta) >= min_commission)
        at_minimum = traded & ~linear
        current = (sign.tobytes(), linear.tobytes())
        if current == pattern:
            break
        pattern = current
        s_rate = np.where(linear, rate * sign, 0.0)
        nav = (nav_pre - min_commission * at_minimum.sum() + s_rate @ values) / (
            1.0 + s_rate @ weights
        )
    delta = weights * nav - values
    costs = np.where(traded, np.maximum(rate * np.abs(delta), min_commission), 0.0)
    return float(nav), costs


def _aligned_weights(prices: pd.DataFrame, weights: pd.DataFrame) -> tuple[FloatArray, FloatArray]:
    """Weights on the price columns (0 elsewhere) and each row's position in the price index."""
    unknown = weights.columns.difference(prices.columns)
    if len(unknown):
        raise DataError(f"weights name symbols without prices: {list(unknown)[:5]}")
    if not weights.index.is_monotonic_increasing or not weights.index.is_unique:
        raise DataError("weights index must be strictly ascending rebalance dates")
    rows = prices.index.get_indexer(weights.index)
    if (rows < 0).any():
        missing = weights.index[rows < 0][:3].tolist()
        raise DataError(f"rebalance dates must be price dates; not found: {missing}")
    aligned = weights.reindex(columns=prices.columns).to_numpy(dtype=np.float64)
    return np.nan_to_num(aligned, nan=0.0), rows.astype(np.float64)


def backtest(
    prices: pd.DataFrame,
    weights: pd.DataFrame,
    *,
    cost_bps: float = 0.0,
    cost_per_share: float = 0.0,
    min_commission: float = 0.0,
    execution: Execution = "close",
    shares: ShareMode = "fractional",
    min_trade: float = 0.0,
    initial_capital: float = 1_000_000.0,
    open_prices: pd.DataFrame | None = None,
) -> BacktestResult:
    """Run the weights schedule over the price panel (module docstring: conventions).

    Returns
    -------
    BacktestResult
        ``nav``, ``cash``, ``costs`` per date; ``holdings`` (shares at each close);
        ``trades`` with columns date, symbol, quantity, price, notional, cost.
    """
    if execution not in ("close", "next_open"):
        raise DataError(f"execution must be 'close' or 'next_open'; got {execution!r}")
    if shares not in ("fractional", "whole"):
        raise DataError(f"shares must be 'fractional' or 'whole'; got {shares!r}")
    if not prices.index.is_monotonic_increasing or not prices.index.is_unique:
        raise DataError("prices index must be strictly ascending dates")
    close = prices.to_numpy(dtype=np.float64)
    marks = _marks(close)
    opens = close
    if open_prices is not None:
        opens = open_prices.reindex(index=prices.index, columns=prices.columns).to_numpy(
            dtype=np.float64
        )
    target, rows = _aligned_weights(prices, weights)
    n_dates, n_symbols = close.shape
    decision_rows = rows.astype(np.int64)
    trade_rows = decision_rows + (1 if execution == "next_open" else 0)
    keep = trade_rows < n_dates
    target, decision_rows, trade_rows = target[keep], decision_rows[keep], trade_rows[keep]
    n_events = len(trade_rows)

    shares_after = np.zeros((n_events + 1, n_symbols))
    cash_after = np.full(n_events + 1, float(initial_capital))
    event_costs = np.zeros((n_events, n_symbols))
    fill_prices = np.zeros((n_events, n_symbols))
    held = np.zeros(n_symbols)
    cash = float(initial_capital)
    bps = cost_bps / 1e4
    for event in range(n_events):
        row, decided = trade_rows[event], decision_rows[event]
        if execution == "close":
            quoted = close[row]
            mark = marks[row]
        else:
            quoted = opens[row]
            mark = marks[row - 1]
        tradable = np.isfinite(quoted) & (quoted > 0)
        price = np.where(tradable, quoted, mark)
        weights_row = np.where(tradable, target[event], 0.0)
        if shares == "fractional":
            values = held * price
            nav_pre = cash + values.sum()
            sized = size_orders(
                weights_row,
                nav_pre,
                np.where(tradable, price, np.nan),
                held,
                min_trade_fraction=min_trade,
                whole=False,
            )
            active = tradable & ~sized.skipped
            safe_price = np.where(active, price, 1.0)
            rate = np.where(active, bps + cost_per_share / safe_price, 0.0)
            nav_post, costs = _solve_fractional(
                nav_pre,
                np.where(active, weights_row, 0.0),
                np.where(active, values, 0.0),
                rate,
                min_commission,
            )
            new_held = np.where(active, weights_row * nav_post / safe_price, held)
        else:
            # Sized like the live order manager: on the decision date's NAV and close.
            decision_nav = cash + held @ marks[decided]
            sized = size_orders(
                weights_row,
                decision_nav,
                np.where(tradable, close[decided], np.nan),
                held,
                min_trade_fraction=min_trade,
                whole=True,
            )
            order = np.where(tradable, sized.order_shares, 0.0)
            notional = np.abs(order) * price
            costs = np.where(
                order != 0.0,
                np.maximum(bps * notional + cost_per_share * np.abs(order), min_commission),
                0.0,
            )
            new_held = held + order
        cash = cash - (new_held - held) @ price - costs.sum()
        held = new_held
        shares_after[event + 1] = held
        cash_after[event + 1] = cash
        event_costs[event] = costs
        fill_prices[event] = price

    # Every date takes the state after the last trade on or before it (row 0: the start).
    state = np.searchsorted(trade_rows, np.arange(n_dates), side="right")
    holdings = shares_after[state]
    cash_daily = cash_after[state]
    nav = cash_daily + np.einsum("ij,ij->i", holdings, marks)
    costs_daily = np.zeros(n_dates)
    costs_daily[trade_rows] = event_costs.sum(axis=1)
    index = prices.index
    return BacktestResult(
        nav=pd.Series(nav, index=index, name="nav"),
        holdings=pd.DataFrame(holdings, index=index, columns=prices.columns, copy=False),
        cash=pd.Series(cash_daily, index=index, name="cash"),
        costs=pd.Series(costs_daily, index=index, name="costs"),
        trades=_trade_table(
            index, prices.columns, trade_rows, shares_after, fill_prices, event_costs
        ),
        prices=prices,
    )


def _trade_table(
    index: pd.Index,
    columns: pd.Index,
    trade_rows: npt.NDArray[np.int64],
    shares_after: FloatArray,
    fill_prices: FloatArray,
    event_costs: FloatArray,
) -> pd.DataFrame:
    """One row per (trade date, symbol) whose shares changed."""
    quantity = np.diff(shares_after, axis=0)
    events, symbols = np.nonzero(quantity)
    traded_quantity = quantity[events, symbols]
    price = fill_prices[events, symbols]
    return pd.DataFrame(
        {
            "date": index[trade_rows[events]],
            "symbol": columns[symbols],
            "quantity": traded_quantity,
            "price": price,
            "notional": traded_quantity * price,
            "cost": event_costs[events, symbols],
        }
    )
