"""The halt switch of the dashboard: stop (or allow again) new orders of a trading portfolio.

Writes one `trading_halts` row through the live-trading repository, in one transaction, and
says whether anything changed. (When the trading package gains a halt use case, the dashboard
should call that instead; the table and its meaning are live trading's.)
"""

from __future__ import annotations

from typing import Any

from stocker.core.errors import DataError

REASON_CHARACTERS = 500


def halt(uow: Any, portfolio_id: str, reason: str) -> bool:
    """Halt `portfolio_id` with `reason`; False when it was already halted."""
    reason = reason.strip()
    if not reason or len(reason) > REASON_CHARACTERS:
        raise DataError(f"reason: say why, in 1 to {REASON_CHARACTERS} characters")
    with uow:
        changed = bool(uow.live_trading.halt(portfolio_id, reason))
        uow.commit()
    return changed


def resume(uow: Any, portfolio_id: str) -> bool:
    """Let `portfolio_id` trade again; False when it was not halted."""
    with uow:
        changed = bool(uow.live_trading.resume(portfolio_id))
        uow.commit()
    return changed
