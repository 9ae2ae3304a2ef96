"""Order sizing (issue 8 item 6): target exposure → target shares → order, one implementation.

``target = trunc(target_exposure × NAV / close)`` (toward zero, whole shares), ``order = target −
current``; an order whose notional is below ``min_trade_fraction × NAV`` is skipped unless it
closes the position (target 0). The arrays broadcast: one day is symbols-long vectors and a
scalar NAV (the live order manager), a panel is dates × symbols with one NAV per date; the
backtest engine sizes its whole-share trades with this same function, so both agree.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import pandas as pd

from stocker.core.errors import DataError

FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True)
class SizedOrders:
    """Shares wanted, shares to trade (0 where skipped) and which trades were skipped."""

    target_shares: FloatArray
    order_shares: FloatArray
    skipped: npt.NDArray[np.bool_]


def size_orders(
    target_exposure: npt.ArrayLike,
    nav: npt.ArrayLike,
    close: npt.ArrayLike,
    current_shares: npt.ArrayLike,
    *,
    min_trade_fraction: float = 0.005,
    whole: bool = True,
) -> SizedOrders:
    """Size orders; ``nav`` is a scalar or one value per row of a dates × symbols panel.

    ``whole=False`` keeps fractional target shares (for research on fractional holdings).
    A symbol without a usable close (missing, zero) gets no order and keeps its shares.
    """
    exposure = np.asarray(target_exposure, dtype=np.float64)
    prices = np.asarray(close, dtype=np.float64)
    current = np.asarray(current_shares, dtype=np.float64)
    nav_values = np.asarray(nav, dtype=np.float64)
    if nav_values.ndim == 1 and exposure.ndim == 2:
        nav_values = nav_values[:, None]
    if not np.isfinite(nav_values).all():
        raise DataError(f"nav must be finite; got {nav!r}")
    # Comparisons are False for NaN, so this also drops missing closes and exposures.
    tradable = (prices > 0) & (prices < np.inf) & (np.abs(exposure) < np.inf)
    safe_prices = np.where(tradable, prices, 1.0)
    wanted = np.where(tradable, exposure * nav_values / safe_prices, current)
    target = np.trunc(wanted) if whole else wanted
    order = target - current  # 0 where not tradable
    closing = (target == 0.0) & (current != 0.0)
    small = np.abs(order) * safe_prices < min_trade_fraction * np.abs(nav_values)
    skipped = (order != 0.0) & small & ~closing
    order = np.where(skipped, 0.0, order)
    return SizedOrders(target_shares=target, order_shares=order, skipped=skipped)


def orders_for_day(
    target_exposure: pd.Series,
    nav: float,
    close: pd.Series,
    current_shares: pd.Series,
    *,
    min_trade_fraction: float = 0.005,
) -> pd.DataFrame:
    """One day's orders as a table with a ``reason`` per symbol (the live order manager)."""
    symbols = target_exposure.index.union(current_shares.index)
    exposure = target_exposure.reindex(symbols).fillna(0.0)
    current = current_shares.reindex(symbols).fillna(0.0)
    prices = close.reindex(symbols)
    sized = size_orders(
        exposure.to_numpy(),
        nav,
        prices.to_numpy(),
        current.to_numpy(),
        min_trade_fraction=min_trade_fraction,
    )
    reasons = []
    for position, symbol in enumerate(symbols):
        price = float(prices.iloc[position])
        exact = float(exposure.iloc[position]) * nav / price if price > 0 else float("nan")
        if not np.isfinite(exact):
            reasons.append(f"No order: no usable close for {symbol}")
        elif sized.skipped[position]:
            reasons.append(
                f"Skipped: trade of {abs(sized.target_shares[position] - current.iloc[position]):g}"
                f" shares is below {min_trade_fraction:.1%} of NAV"
            )
        elif exact != sized.target_shares[position]:
            reasons.append(f"Rounded toward zero from {exact:.4f} shares")
        else:
            reasons.append("")
    return pd.DataFrame(
        {
            "target_exposure": exposure.to_numpy(),
            "close": prices.to_numpy(),
            "current_shares": current.to_numpy(),
            "target_shares": sized.target_shares,
            "order_shares": sized.order_shares,
            "skipped": sized.skipped,
            "reason": reasons,
        },
        index=symbols,
    )
