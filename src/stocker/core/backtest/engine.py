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
    if not np.isnan(np.min(close, initial=np.inf)):  # one fast pass finds any gap
        return close
    return np.nan_to_num(pd.DataFrame(close).ffill().to_numpy(), nan=0.0)


class _Marks:
    """Valuation prices, gap-filled only when a gap is met: most panels have none."""

    def __init__(self, close: FloatArray) -> None:
        self.close = close
        self._filled: FloatArray | None = None

    def filled(self) -> FloatArray:
        if self._filled is None:
            self._filled = _marks(self.close)
        return self._filled

    def rows(self, index: npt.NDArray[np.int64]) -> FloatArray:
        taken = self.close[index]
        return self.filled()[index] if np.isnan(taken).any() else taken


def _solve_fractional(
    nav_pre: float,
    weights: FloatArray,
    values: FloatArray,
    rate: FloatArray | float,
    min_commission: float,
) -> tuple[float, FloatArray]:
    """Exact post-cost NAV for trading ``values`` to ``weights × NAV_post``; costs per name.

    The cost is piecewise linear in NAV_post; guess the piece (sign of each trade, whether the
    minimum commission binds), solve the linear equation, repeat until the piece holds.
    """
    traded = (weights != 0.0) | (values != 0.0)
    nav = nav_pre
    sign = np.zeros_like(weights)
    linear = traded
    for round_number in range(_MAX_SOLVE_ROUNDS):
        delta = weights * nav - values
        new_sign = np.sign(delta)
        new_linear = traded
        if min_commission > 0:
            new_linear = traded & (rate * np.abs(delta) >= min_commission)
        if round_number and np.array_equal(new_sign, sign) and np.array_equal(new_linear, linear):
            break
        sign, linear = new_sign, new_linear
        signed_rate = np.where(linear, rate * sign, 0.0)
        at_minimum = int(np.count_nonzero(traded & ~linear))
        nav = float(
            (nav_pre - min_commission * at_minimum + signed_rate @ values)
            / (1.0 + signed_rate @ weights)
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
    opens = close
    if open_prices is not None:
        opens = open_prices.reindex(index=prices.index, columns=prices.columns).to_numpy(
            dtype=np.float64
        )
    target, rows = _aligned_weights(prices, weights)
    n_dates = close.shape[0]
    decision_rows = rows.astype(np.int64)
    trade_rows = decision_rows + (1 if execution == "next_open" else 0)
    keep = trade_rows < n_dates
    target, decision_rows, trade_rows = target[keep], decision_rows[keep], trade_rows[keep]
    marks = _Marks(close)
    # The rows the trades need, gathered once (C-ordered, whatever the frame's layout).
    quoted = (close if execution == "close" else opens)[trade_rows]
    tradable = np.isfinite(quoted) & (quoted > 0)
    if not tradable.all():
        # No quote: valued at the last close (that day's under close, the day before's at open).
        last = marks.rows(trade_rows if execution == "close" else trade_rows - 1)
        quoted = np.where(tradable, quoted, last)
    decided = None
    if shares == "whole":
        decided = (close[decision_rows], marks.rows(decision_rows))
    events = _simulate(
        quoted,
        tradable,
        np.where(tradable, target, 0.0),
        decided,
        initial_capital,
        cost_bps / 1e4,
        cost_per_share,
        min_commission,
        min_trade,
    )
    shares_after, cash_after, event_costs = events

    # Every date takes the state after the last trade on or before it (state 0: the start).
    starts = np.r_[0, trade_rows, n_dates]
    rows_per_state = np.diff(starts)
    holdings = np.repeat(shares_after, rows_per_state, axis=0)
    cash_daily = np.repeat(cash_after, rows_per_state)
    nav = _segment_nav(close, starts, shares_after, cash_daily)
    if np.isnan(nav).any():  # a gap somewhere: value it at the last known close
        nav = _segment_nav(marks.filled(), starts, shares_after, cash_daily)
    costs_daily = np.zeros(n_dates)
    costs_daily[trade_rows] = event_costs.sum(axis=1)
    index = prices.index
    return BacktestResult(
        nav=pd.Series(nav, index=index, name="nav"),
        holdings=pd.DataFrame(holdings, index=index, columns=prices.columns, copy=False),
        cash=pd.Series(cash_daily, index=index, name="cash"),
        costs=pd.Series(costs_daily, index=index, name="costs"),
        trades=_trade_table(index, prices.columns, trade_rows, shares_after, quoted, event_costs),
        prices=prices,
    )


def _segment_nav(
    marks: FloatArray, starts: npt.NDArray[np.int64], shares_after: FloatArray, cash: FloatArray
) -> FloatArray:
    """Cash plus one matrix-vector product per holding period."""
    nav = cash.copy()
    for state in range(len(shares_after)):
        segment = slice(starts[state], starts[state + 1])
        nav[segment] += marks[segment] @ shares_after[state]
    return nav


def _simulate(
    prices: FloatArray,
    tradable: npt.NDArray[np.bool_],
    target: FloatArray,
    decided: tuple[FloatArray, FloatArray] | None,
    initial_capital: float,
    rate_bps: float,
    cost_per_share: float,
    min_commission: float,
    min_trade: float,
) -> tuple[FloatArray, FloatArray, FloatArray]:
    """The sequential part: one step per trade (events × symbols arrays in, states out).

    ``decided`` holds the decision dates' closes and marks, which size whole-share orders;
    without it the shares are fractional.
    """
    n_events, n_symbols = prices.shape
    shares_after = np.zeros((n_events + 1, n_symbols))
    cash_after = np.full(n_events + 1, float(initial_capital))
    event_costs = np.zeros((n_events, n_symbols))
    held = np.zeros(n_symbols)
    cash = float(initial_capital)
    for event in range(n_events):
        price, weights_row, can_trade = prices[event], target[event], tradable[event]
        if decided is None:
            values = held * price
            nav_pre = cash + values.sum()
            active = can_trade
            if min_trade > 0:
                quote = np.where(can_trade, price, np.nan)
                sized = size_orders(
                    weights_row, nav_pre, quote, held, min_trade_fraction=min_trade, whole=False
                )
                active = can_trade & ~sized.skipped
            if active.all():  # the usual case: every name trades, no masks needed
                rate: FloatArray | float = rate_bps + cost_per_share / price
                if cost_per_share == 0:
                    rate = rate_bps
                nav_post, costs = _solve_fractional(
                    nav_pre, weights_row, values, rate, min_commission
                )
                new_held = weights_row * nav_post / price
            else:
                safe_price = np.where(active, price, 1.0)
                rate = np.where(active, rate_bps + cost_per_share / safe_price, 0.0)
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
            decision_close, decision_marks = decided[0][event], decided[1][event]
            sized = size_orders(
                weights_row,
                cash + held @ decision_marks,
                np.where(can_trade, decision_close, np.nan),
                held,
                min_trade_fraction=min_trade,
                whole=True,
            )
            order = np.where(can_trade, sized.order_shares, 0.0)
            traded = np.abs(order)
            costs = np.where(
                order != 0.0,
                np.maximum(rate_bps * traded * price + cost_per_share * traded, min_commission),
                0.0,
            )
            new_held = held + order
        cash = cash - (new_held - held) @ price - costs.sum()
        held = new_held
        shares_after[event + 1] = held
        cash_after[event + 1] = cash
        event_costs[event] = costs
    return shares_after, cash_after, event_costs


def _trade_table(
    index: pd.Index,
    columns: pd.Index,
    trade_rows: npt.NDArray[np.int64],
    shares_after: FloatArray,
    fill_prices: FloatArray,
    event_costs: FloatArray,
) -> pd.DataFrame:
    """One row per (trade date, symbol) whose shares changed."""
    quantity = np.diff(shares_after, axis=0).ravel()
    flat = np.flatnonzero(quantity)
    events, symbols = np.divmod(flat, shares_after.shape[1])
    # One float block built in place: pandas would otherwise copy four columns into one.
    numbers = np.empty((len(flat), 4))
    numbers[:, 0] = quantity[flat]
    numbers[:, 1] = fill_prices.ravel()[flat]
    np.multiply(numbers[:, 0], numbers[:, 1], out=numbers[:, 2])
    numbers[:, 3] = event_costs.ravel()[flat]
    table = pd.DataFrame(numbers, columns=["quantity", "price", "notional", "cost"], copy=False)
    table.insert(0, "symbol", pd.Series(pd.Categorical.from_codes(symbols, categories=columns)))
    table.insert(0, "date", index.take(trade_rows[events]))
    return table
