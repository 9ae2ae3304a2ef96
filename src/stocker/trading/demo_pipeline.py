"""The demo's pipeline part: the last year of the loaded 20-stock sample, session by session,
through every stage of the live pipeline, and the explanation of one of its orders.

Used by `stocker demo` after the sample is loaded. The portfolio (`demo-trend`, the default
strategy parameters, the composition root's broker) is funded on the first session replayed; a
second run finds every row already written and changes nothing.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from stocker.core.errors import DataError
from stocker.core.ledger import PortfolioState
from stocker.core.strategy.config import StrategyConfig
from stocker.trading.strategy_files import PortfolioSetup

if TYPE_CHECKING:
    from stocker.trading.days import DayReport

PORTFOLIO_ID = "demo-trend"
STRATEGY_VERSION = "demo-trend-v1"

FLAT_BARS_NOTE = (
    "The sample has adjusted closes only: its bars are flat (open = high = low = close, no "
    "volume), so an order filled at a session's open fills at that session's close, the price "
    "the strategy sized it with the evening before moved by one day. With real bars the fill "
    "would be at the open, and the backtest would need the opens (`open_prices`)."
)


@dataclass(frozen=True)
class PipelineDemo:
    """What the replay did: sessions, orders and fills, the final state, one explained order."""

    portfolio_id: str
    first: dt.date
    last: dt.date
    sessions: int
    orders: int
    fills: int
    state: PortfolioState | None
    holdings: dict[str, Any]
    """Symbol → quantity held after the last session."""
    order_id: str | None
    explanation: list[str]
    note: str
    seconds: float


def replay_last_year(
    app: Any,
    *,
    start: dt.date | None = None,
    end: dt.date | None = None,
    progress: Callable[[DayReport], None] | None = None,
) -> PipelineDemo:
    """Replay the sample's last year (or ``start``…``end``) through the pipeline.

    ``app`` is the composition root's `App` (its `uow` and `broker`); the sample must be
    loaded (`stocker data load-sample`)."""
    from stocker.bus.handlers import HandlerRegistry
    from stocker.trading.days import replay
    from stocker.trading.explain import explain
    from stocker.trading.stages import Stages
    from stocker.trading.trend_report import sample_stocks

    symbols = sample_stocks()
    with app.uow() as uow:
        stored = uow.trading.sessions_with_bars(symbols, dt.date(1900, 1, 1), dt.date(9999, 1, 1))
    if not stored:
        raise DataError("the sample is not loaded: run `stocker data load-sample` first")
    last = end or stored[-1]
    first = start or last - dt.timedelta(days=365)
    setup = PortfolioSetup(PORTFOLIO_ID, STRATEGY_VERSION, symbols, StrategyConfig())
    stages = Stages((setup,), app.broker)
    registry = HandlerRegistry()
    stages.register(registry)
    started = time.perf_counter()
    reports = replay(app.uow, registry, stages, first, last, progress=progress)
    seconds = time.perf_counter() - started
    with app.uow() as uow:
        orders = uow.trading.orders_between(PORTFOLIO_ID, first, last + dt.timedelta(days=7))
        fills = sum(len(uow.trading.fills_of(order.order_id)) for order in orders)
        state = uow.ledger.state_before(PORTFOLIO_ID, last + dt.timedelta(days=1))
        positions = uow.ledger.positions(
            PORTFOLIO_ID, list(symbols), before=last + dt.timedelta(days=1)
        )
    holdings = {s: p.quantity for s, p in sorted(positions.items()) if p.quantity}
    shown = _order_to_explain(orders)
    lines = explain(app.uow(), str(shown.order_id)).lines() if shown is not None else []
    return PipelineDemo(
        portfolio_id=PORTFOLIO_ID,
        first=reports[0].day,
        last=reports[-1].day,
        sessions=len(reports),
        orders=len(orders),
        fills=fills,
        state=state,
        holdings=holdings,
        order_id=str(shown.order_id) if shown is not None else None,
        explanation=lines,
        note=FLAT_BARS_NOTE,
        seconds=seconds,
    )


def _order_to_explain(orders: list[Any]) -> Any:
    """The latest filled order (its lineage is complete), else the latest order."""
    filled = [order for order in orders if order.status == "FILLED"]
    chosen = filled or orders
    return chosen[-1] if chosen else None
