"""The signal and portfolio engines' writes: a day's signals per strategy version, and a
portfolio's target exposures once the day is complete (see `stocker.trading.stages`).

Kept apart from the stages' message routing so the decisions of what to hold read in one
place, next to the strategy's numerics in `stocker.core.strategy` that they apply.
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from stocker.core.messages import (
    PortfolioTargets,
    SignalGenerated,
    SignalMetrics,
    TargetExposure,
    TargetsMeta,
)
from stocker.core.strategy import (
    compute_signals,
    drawdown_rule,
    history_sessions,
    portfolio_targets,
    predicted_vol,
)
from stocker.store.repositories.trading import SignalValues
from stocker.trading.strategy_files import PortfolioSetup

if TYPE_CHECKING:
    from stocker.store.uow import SqlUnitOfWork


def finite_or_none(value: float) -> float | None:
    """A signal value as stored: NaN and infinities (no signal yet) become NULL."""
    return float(value) if np.isfinite(value) else None


def signals_for_day(
    uow: SqlUnitOfWork, setup: PortfolioSetup, version: str, symbols: list[str], day: dt.date
) -> None:
    """The day's signals of ``symbols`` for one strategy version, written in one statement."""
    bar_ids = uow.trading.bar_ids_on(symbols, day)
    symbols = [symbol for symbol in symbols if symbol in bar_ids]
    if not symbols:
        return
    window = history_sessions(setup.config)
    history = uow.trading.adj_close_history(symbols, day, window)
    values = history.to_numpy()
    started = np.argmax(~np.isnan(values), axis=0)
    gaps = [
        symbol
        for column, symbol in enumerate(symbols)
        if np.isnan(values[started[column] :, column]).any()
    ]
    computed = compute_signals(history, setup.config)
    lookbacks = computed.lookback_return.to_numpy()[-1]
    vols = computed.vol_annual.to_numpy()[-1]
    directions = computed.direction.to_numpy()[-1]
    rows: list[SignalValues] = []
    for column, symbol in enumerate(symbols):
        if symbol in gaps:  # its own sessions only, as `signal_engine` computes it
            own, _ = uow.trading.symbol_history(symbol, day, window)
            alone = compute_signals(own, setup.config)
            lookback = float(alone.lookback_return.to_numpy()[-1, 0])
            vol = float(alone.vol_annual.to_numpy()[-1, 0])
            direction = float(alone.direction.to_numpy()[-1, 0])
        else:
            lookback, vol = float(lookbacks[column]), float(vols[column])
            direction = float(directions[column])
        rows.append(_signal_values(symbol, lookback, vol, direction, bar_ids[symbol]))
    new = uow.trading.add_signals(version, day, rows)
    uow.outbox.add_many(
        SignalGenerated(
            strategy=version,
            symbol=row.symbol,
            date=day,
            metrics=SignalMetrics(
                lookback_return=float(row.lookback_return),  # type: ignore[arg-type]
                ewma_vol=float(row.ewma_vol),  # type: ignore[arg-type]
                direction=row.direction,
            ),
            raw_weight=float(row.target_weight),  # type: ignore[arg-type]
        )
        for row in rows
        if row.symbol in new and row.direction is not None
    )


def _signal_values(
    symbol: str, lookback: float, vol: float, direction: float, bar_id: int
) -> SignalValues:
    """A signal row as `signal_engine` writes it: nulls where there is no signal."""
    has_signal = np.isfinite(direction)
    with np.errstate(divide="ignore", invalid="ignore"):
        weight = float(np.float64(direction) / np.float64(vol))
    if has_signal and not np.isfinite(weight):
        weight = 0.0  # as `raw_weights` counts it (a zero volatility)
    return SignalValues(
        symbol=symbol,
        lookback_return=finite_or_none(lookback),
        ewma_vol=finite_or_none(vol),
        direction=int(direction) if has_signal else None,
        target_weight=finite_or_none(weight),
        price_bar_id=bar_id,
    )


def decide_targets(
    uow: SqlUnitOfWork, setup: PortfolioSetup, day: dt.date, *, cutoff: bool
) -> None:
    """The day's target exposures, once its signals and state are in (or at the cut-off)."""
    portfolio, symbols = setup.portfolio_id, list(setup.symbols)
    if uow.trading.has_targets(portfolio, day):
        return
    if not cutoff and (
        not uow.trading.has_state(portfolio, day)
        or uow.trading.signal_count(setup.strategy_version, day, symbols) < len(symbols)
    ):
        return  # cheap checks first: most calls come before the day is complete
    signals = uow.trading.signals_on(setup.strategy_version, day, symbols)
    navs = uow.trading.state_dates(portfolio, day)
    if not navs:
        return  # an unfunded portfolio has nothing to size
    history = uow.trading.adj_close_history(symbols, day, history_sessions(setup.config))
    if history.empty or history.index[-1] != pd.Timestamp(day):
        return
    config = setup.config
    computed = compute_signals(history, config)
    predicted = predicted_vol(computed.raw_weight, history, config)
    drawdown = drawdown_rule(np.array([float(nav) for _, nav in navs]), config)[0][-1:]
    targets = portfolio_targets(
        computed.raw_weight.iloc[-1:], predicted.iloc[-1:], drawdown, config
    )
    date = targets.exposure.index[-1]
    reasons = targets.reasons(date)
    k = float(targets.k.iloc[-1])
    exposure_row = targets.exposure.to_numpy()[-1]
    capped_row = targets.is_capped.to_numpy()[-1]
    rows, exposures = [], []
    for column, symbol in enumerate(symbols):
        exposure = float(exposure_row[column])
        reason = reasons.get(symbol, "")
        if symbol not in signals:
            late = "No bar or signal by the cut-off: no signal, position kept"
            reason = f"{late}; {reason}" if reason else late
        rows.append(
            {
                "portfolio_id": portfolio,
                "date": day,
                "symbol": symbol,
                "target_exposure": exposure,
                "scaling_factor": k,
                "is_capped": bool(capped_row[column]),
                "reason": reason or None,
                "signal_id": signals[symbol].id if symbol in signals else None,
            }
        )
        exposures.append(
            TargetExposure(symbol=symbol, target_exposure=exposure, reason=reason or None)
        )
    if uow.trading.add_targets(rows):
        uow.outbox.add(
            PortfolioTargets(
                portfolio_id=portfolio,
                date=day,
                targets=tuple(exposures),
                meta=TargetsMeta(scaling_factor=k, drawdown=float(drawdown[-1])),
            )
        )
