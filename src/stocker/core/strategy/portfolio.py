"""The portfolio engine (issue 8 item 5): raw weights → target exposures, with a reason per cut.

Order of the rules, on every date:

1. predicted volatility of the raw weights from the EWMA covariance (the same λ, seeding and
   annualization as `ewma_vol`, so its diagonal is exactly that variance);
2. ``k = min(target_vol / predicted_vol, gross_limit / gross)``;
3. drawdown from the NAV's high-water mark: ``k`` halved beyond ``drawdown_halve``, zero beyond
   ``drawdown_zero``; with ``drawdown_reentry = "cooloff"`` the mark resets to the NAV after
   ``drawdown_cooloff`` sessions at zero, so the strategy re-enters (`drawdown_rule`);
4. exposure ``= k × raw weight``, then clipped to ``±asset_cap`` (``is_capped``; the clipped
   part stays in cash, it is not handed to other assets).

Since the raw weights' |values| sum to 1, step 2 bounds the gross by ``gross_limit`` and steps
3–4 only shrink, so no final exposure exceeds the cap or the gross limit.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import pandas as pd

from stocker.core.errors import DataError
from stocker.core.returns import simple_returns
from stocker.core.strategy.config import StrategyConfig


def ewma_covariance_path(
    returns: np.ndarray, decay: float, seed_returns: int
) -> Iterator[np.ndarray]:
    """Yield the daily EWMA covariance (symbols × symbols) after each row of ``returns``.

    Each pair is seeded at its ``seed_returns``-th common return with the mean of the first
    products, then ``C = λC + (1−λ) r rᵀ`` on days both returns exist. A pair not yet seeded is
    0 (its assets may each be seeded). The yielded array is reused: copy it to keep it.
    """
    values = np.asarray(returns, dtype=np.float64)
    if values.ndim != 2:
        raise DataError(f"returns must be dates × symbols (2-D); got shape {values.shape}")
    n_symbols = values.shape[1]
    state = np.zeros((n_symbols, n_symbols))
    seed_sum = np.zeros((n_symbols, n_symbols))
    count = np.zeros((n_symbols, n_symbols), dtype=np.int64)
    settled = False  # every pair seeded: the fast path is two in-place operations
    for r in values:
        present = ~np.isnan(r)
        if settled and present.all():
            state *= decay
            state += (1.0 - decay) * np.outer(r, r)
            yield state
            continue
        filled = np.where(present, r, 0.0)
        product = np.outer(filled, filled)
        joint = np.outer(present, present)
        seeding = joint & (count < seed_returns)
        seed_sum += np.where(seeding, product, 0.0)
        count += seeding
        updating = joint & ~seeding
        state = np.where(updating, decay * state + (1.0 - decay) * product, state)
        state = np.where(seeding & (count == seed_returns), seed_sum / seed_returns, state)
        settled = bool((count >= seed_returns).all())
        yield state


def ewma_covariance(adj_close: pd.DataFrame, config: StrategyConfig) -> pd.DataFrame:
    """Annualized EWMA covariance on the panel's last date (what the live engine needs)."""
    returns = simple_returns(adj_close).to_numpy()
    n_symbols = adj_close.shape[1]
    last = np.zeros((n_symbols, n_symbols))
    for covariance in ewma_covariance_path(returns, config.ewma_decay, config.vol_seed_returns):
        last = covariance
    return pd.DataFrame(
        config.periods_per_year * last, index=adj_close.columns, columns=adj_close.columns
    )


def predicted_vol(
    raw_weight: pd.DataFrame, adj_close: pd.DataFrame, config: StrategyConfig
) -> pd.Series:
    """Annualized ``√(wᵀ C w)`` of each date's raw weights under that date's EWMA covariance."""
    if not raw_weight.index.equals(adj_close.index) or not raw_weight.columns.equals(
        adj_close.columns
    ):
        raise DataError("raw_weight and adj_close must share dates and symbols")
    weights = raw_weight.to_numpy(dtype=np.float64)
    returns = simple_returns(adj_close).to_numpy()
    variance = np.zeros(len(weights))
    path = ewma_covariance_path(returns, config.ewma_decay, config.vol_seed_returns)
    for row, covariance in enumerate(path):
        held = np.flatnonzero(weights[row])
        if held.size:
            w = weights[row, held]
            variance[row] = w @ covariance[np.ix_(held, held)] @ w
    vol = np.sqrt(np.maximum(variance, 0.0) * config.periods_per_year)
    return pd.Series(vol, index=raw_weight.index, name="predicted_vol")


def drawdown_multiplier(drawdown: np.ndarray | pd.Series, config: StrategyConfig) -> np.ndarray:
    """1, 0.5 beyond ``drawdown_halve``, 0 beyond ``drawdown_zero`` (drawdown ≥ 0, a fraction)."""
    values = np.asarray(drawdown, dtype=np.float64)
    return np.where(
        values > config.drawdown_zero, 0.0, np.where(values > config.drawdown_halve, 0.5, 1.0)
    )


def drawdown_from_nav(nav: pd.Series | np.ndarray, initial: float | None = None) -> np.ndarray:
    """``1 − NAV / high-water mark`` at each date; the mark starts at ``initial`` if given."""
    values = np.asarray(nav, dtype=np.float64)
    peak = np.maximum.accumulate(values)
    if initial is not None:
        peak = np.maximum(peak, initial)
    return 1.0 - values / peak


def drawdown_rule(
    nav: pd.Series | np.ndarray, config: StrategyConfig, initial: float | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """The drawdown each date's decision sees and its multiplier, under the re-entry rule.

    ``never`` (the spec's rule): ``1 − NAV / high-water mark``; beyond ``drawdown_zero`` the
    multiplier is 0 for good, since a portfolio in cash cannot recover its mark. ``cooloff``:
    the same, except that after ``drawdown_cooloff`` consecutive decisions at zero the
    high-water mark resets to that day's NAV (drawdown 0), so the strategy re-enters with the
    drawdown measured afresh from there. A function of the NAV path alone, so the backtest (on
    its marked NAV) and the live engine (on the stored states) decide identically.
    """
    values = np.asarray(nav, dtype=np.float64)
    if config.drawdown_reentry == "never":
        drawdown = drawdown_from_nav(values, initial)
        return drawdown, drawdown_multiplier(drawdown, config)
    drawdown = np.zeros(len(values))
    peak = -np.inf if initial is None else float(initial)
    zero, cooloff, at_zero = config.drawdown_zero, config.drawdown_cooloff, 0
    for row, value in enumerate(values.tolist()):
        peak = max(peak, value)
        level = 1.0 - value / peak
        if level > zero:
            at_zero += 1
            if at_zero > cooloff:  # `cooloff` decisions in cash: a new mark, re-enter
                peak, level, at_zero = value, 0.0, 0
        else:
            at_zero = 0
        drawdown[row] = level
    return drawdown, drawdown_multiplier(drawdown, config)


@dataclass(frozen=True)
class Targets:
    """Target exposures (fractions of NAV) and every number that explains them."""

    exposure: pd.DataFrame
    raw_weight: pd.DataFrame
    predicted_vol: pd.Series
    k_vol: pd.Series
    k_gross: pd.Series
    drawdown: pd.Series
    drawdown_multiplier: pd.Series
    k: pd.Series
    is_capped: pd.DataFrame
    config: StrategyConfig

    def reasons(self, date: pd.Timestamp) -> dict[str, str]:
        """Human-readable reason of every cap or cut on ``date``, per symbol ('' if none)."""
        cfg = self.config
        parts: list[str] = []
        k_vol, k_gross = float(self.k_vol[date]), float(self.k_gross[date])
        if k_vol < k_gross and k_vol < 1.0:
            parts.append(
                f"Scaled by {k_vol:.2f}: predicted vol {self.predicted_vol[date]:.1%} "
                f"above target {cfg.target_vol_annual:.0%}"
            )
        elif k_gross <= k_vol and k_gross < np.inf:
            parts.append(f"Scaled by {k_gross:.2f} to the gross limit {cfg.gross_limit:.0%}")
        multiplier, drawdown = float(self.drawdown_multiplier[date]), float(self.drawdown[date])
        if multiplier == 0.0:
            parts.append(f"Cut to zero: drawdown {drawdown:.1%} beyond {cfg.drawdown_zero:.0%}")
        elif multiplier < 1.0:
            parts.append(f"Halved: drawdown {drawdown:.1%} beyond {cfg.drawdown_halve:.0%}")
        shared = "; ".join(parts)
        row = self.raw_weight.index.get_loc(date)
        raw = self.raw_weight.to_numpy()[row]
        capped = self.is_capped.to_numpy()[row]
        result: dict[str, str] = {}
        for column, symbol in enumerate(self.exposure.columns):
            if raw[column] == 0.0:
                result[symbol] = ""
                continue
            own = [shared] if shared else []
            if capped[column]:
                own.append(f"Capped at {cfg.asset_cap:.0%}")
            result[symbol] = "; ".join(own)
        return result


def portfolio_targets(
    raw_weight: pd.DataFrame,
    predicted: pd.Series,
    drawdown: pd.Series | np.ndarray,
    config: StrategyConfig,
) -> Targets:
    """Apply k, the drawdown rule and the per-asset cap on every date (module docstring)."""
    raw = raw_weight.to_numpy(dtype=np.float64)
    vol = predicted.to_numpy(dtype=np.float64)
    gross = np.abs(raw).sum(axis=1)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        k_vol = np.where(vol > 0, config.target_vol_annual / vol, np.inf)
        k_gross = np.where(gross > 0, config.gross_limit / gross, np.inf)
    drawdowns = np.asarray(drawdown, dtype=np.float64)
    multiplier = drawdown_multiplier(drawdowns, config)
    k = np.minimum(k_vol, k_gross)
    k = np.where(np.isfinite(k), k, 0.0) * multiplier
    exposure = k[:, None] * raw
    capped = np.abs(exposure) > config.asset_cap
    exposure = np.clip(exposure, -config.asset_cap, config.asset_cap)
    index, columns = raw_weight.index, raw_weight.columns
    return Targets(
        exposure=pd.DataFrame(exposure, index=index, columns=columns),
        raw_weight=raw_weight,
        predicted_vol=predicted,
        k_vol=pd.Series(k_vol, index=index, name="k_vol"),
        k_gross=pd.Series(k_gross, index=index, name="k_gross"),
        drawdown=pd.Series(drawdowns, index=index, name="drawdown"),
        drawdown_multiplier=pd.Series(multiplier, index=index, name="drawdown_multiplier"),
        k=pd.Series(k, index=index, name="k"),
        is_capped=pd.DataFrame(capped, index=index, columns=columns),
        config=config,
    )
