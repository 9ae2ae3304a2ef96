"""The live pipeline's stages as bus handlers, each writing its rows and its event together.

- ``signal-engine``: `MarketBar` → `signals` → `SignalGenerated`
- ``portfolio-engine``: `SignalGenerated`, `StateUpdate`, `MarketBar` → `target_exposures` →
  `PortfolioTargets`
- ``order-manager``: `PortfolioTargets` → `orders`, `order_events` → `OrderCreated`
- ``broker``: `OrderCreated`, `MarketBar` → `fills`, `order_events` → `OrderFilled`
- ``ledger``: `OrderFilled`, `MarketBar` → ledger, `holdings`, `portfolio_state` → `StateUpdate`

Every write is keyed by its natural key, so a message delivered twice changes nothing and
emits nothing. When a day is complete (docs/pipeline.md): the ledger marks day t once every
order executing on t is filled and posted and every universe symbol has t's bar; the portfolio
engine decides day t once every universe symbol has t's signal and t's state is stored. A bar
that never arrives cannot block: the first bar of a later session (or `close_session`, which
`run_day` calls) closes the day, and the missing symbols' reason says so.

This module routes messages to the stages' steps; what each step writes lives in
`stocker.trading.decisions` (signals, targets) and `stocker.trading.execution` (orders,
fills, the session's mark), so each stays a module of one subject.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from stocker.core.ledger import Fill
from stocker.core.messages import (
    MarketBar,
    OrderCreated,
    OrderFilled,
    PortfolioTargets,
    SignalGenerated,
    SignalMetrics,
    StateUpdate,
)
from stocker.core.strategy import compute_signals, history_sessions
from stocker.trading.brokers.base import Broker
from stocker.trading.decisions import decide_targets, finite_or_none, signals_for_day
from stocker.trading.execution import (
    FINAL,
    ORDER_NAMESPACE,
    create_orders,
    execute_order,
    mark_session,
    order_uuid,
)
from stocker.trading.ledger import post_fills_in
from stocker.trading.strategy_files import PortfolioSetup

if TYPE_CHECKING:
    from stocker.bus.handlers import HandlerRegistry
    from stocker.store.uow import SqlUnitOfWork

__all__ = [
    "FINAL",
    "GROUPS",
    "ORDER_NAMESPACE",
    "Stages",
    "create_orders",
    "decide_targets",
    "execute_order",
    "mark_session",
    "order_uuid",
]

GROUPS = ("signal-engine", "portfolio-engine", "order-manager", "broker", "ledger")


@dataclass(frozen=True)
class Stages:
    """The handlers of every stage for a set of portfolios and one broker."""

    portfolios: tuple[PortfolioSetup, ...]
    broker: Broker

    def register(self, registry: HandlerRegistry) -> None:
        """Register every stage's handlers, in the order a session flows through them."""
        registry.register(
            MarketBar, "signal-engine", self.signal_engine, batch=self.signal_engine_batch
        )
        registry.register(
            MarketBar, "portfolio-engine", self.portfolio_on_bar, batch=self.portfolio_on_bars
        )
        registry.register(
            SignalGenerated,
            "portfolio-engine",
            self.portfolio_on_signal,
            batch=self.portfolio_on_signals,
        )
        registry.register(StateUpdate, "portfolio-engine", self.portfolio_on_state)
        registry.register(PortfolioTargets, "order-manager", self.order_manager)
        registry.register(MarketBar, "broker", self.broker_on_bar, batch=self.broker_on_bars)
        registry.register(OrderCreated, "broker", self.broker_on_order)
        registry.register(OrderFilled, "ledger", self.ledger_on_fill, batch=self.ledger_on_fills)
        registry.register(MarketBar, "ledger", self.ledger_on_bar, batch=self.ledger_on_bars)

    def _portfolio(self, portfolio_id: str) -> PortfolioSetup | None:
        return next((p for p in self.portfolios if p.portfolio_id == portfolio_id), None)

    def _holding(self, symbol: str) -> list[PortfolioSetup]:
        return [p for p in self.portfolios if symbol in p.symbols]

    # -- signal engine -----------------------------------------------------------------------

    def signal_engine(self, message: MarketBar, uow: SqlUnitOfWork) -> None:
        """The bar's symbol's signal for the day, per strategy version trading it."""
        seen: set[str] = set()
        for setup in self._holding(message.symbol):
            if setup.strategy_version in seen:
                continue
            seen.add(setup.strategy_version)
            history, bar_id = uow.trading.symbol_history(
                message.symbol, message.date, history_sessions(setup.config)
            )
            if bar_id is None:
                continue
            signals = compute_signals(history, setup.config)
            lookback = float(signals.lookback_return.to_numpy()[-1, 0])
            vol = float(signals.vol_annual.to_numpy()[-1, 0])
            direction = float(signals.direction.to_numpy()[-1, 0])
            has_signal = np.isfinite(direction)
            with np.errstate(divide="ignore", invalid="ignore"):
                weight = float(np.float64(direction) / np.float64(vol))
            if has_signal and not np.isfinite(weight):
                weight = 0.0  # as `raw_weights` counts it (a zero volatility)
            new = uow.trading.add_signal(
                setup.strategy_version,
                message.symbol,
                message.date,
                lookback_return=finite_or_none(lookback),
                ewma_vol=finite_or_none(vol),
                direction=int(direction) if has_signal else None,
                target_weight=finite_or_none(weight),
                price_bar_id=bar_id,
            )
            if new and has_signal:  # "no signal" is a row with nulls and no message
                uow.outbox.add(
                    SignalGenerated(
                        strategy=setup.strategy_version,
                        symbol=message.symbol,
                        date=message.date,
                        metrics=SignalMetrics(
                            lookback_return=lookback, ewma_vol=vol, direction=int(direction)
                        ),
                        raw_weight=weight,
                    )
                )

    def signal_engine_batch(self, messages: Sequence[MarketBar], uow: SqlUnitOfWork) -> None:
        """`signal_engine` for a batch of bars: per strategy version and date, one history
        query, `compute_signals` over the panel and one insert. A symbol whose stored history
        has a gap inside the panel's dates is computed alone (the lookback counts its own
        sessions), so every value equals what `signal_engine` stores."""
        days: dict[dt.date, list[str]] = {}
        for message in messages:
            days.setdefault(message.date, [])
            if message.symbol not in days[message.date]:
                days[message.date].append(message.symbol)
        for day, symbols in days.items():
            versions: dict[str, tuple[PortfolioSetup, list[str]]] = {}
            for symbol in symbols:
                for setup in self._holding(symbol):
                    entry = versions.setdefault(setup.strategy_version, (setup, []))
                    if symbol not in entry[1]:
                        entry[1].append(symbol)
            for version, (setup, held) in versions.items():
                signals_for_day(uow, setup, version, held, day)

    # -- portfolio engine --------------------------------------------------------------------

    def portfolio_on_signals(self, messages: Sequence[SignalGenerated], uow: SqlUnitOfWork) -> None:
        """`portfolio_on_signal` once per portfolio and day of the batch (the later calls of
        the same day would find it decided)."""
        seen: set[tuple[str, dt.date]] = set()
        for message in messages:
            for setup in self.portfolios:
                key = (setup.portfolio_id, message.date)
                if (
                    key not in seen
                    and setup.strategy_version == message.strategy
                    and message.symbol in setup.symbols
                ):
                    seen.add(key)
                    decide_targets(uow, setup, message.date, cutoff=False)

    def portfolio_on_bars(self, messages: Sequence[MarketBar], uow: SqlUnitOfWork) -> None:
        """`portfolio_on_bar` once per portfolio and date of the batch."""
        for setup, day in self._portfolio_days(messages):
            for undecided in uow.trading.undecided_days(setup.portfolio_id, day):
                decide_targets(uow, setup, undecided, cutoff=True)

    def _portfolio_days(
        self, messages: Sequence[MarketBar]
    ) -> list[tuple[PortfolioSetup, dt.date]]:
        """Each (portfolio holding a bar's symbol, the bar's date) once, in message order."""
        pairs: dict[tuple[str, dt.date], tuple[PortfolioSetup, dt.date]] = {}
        for message in messages:
            for setup in self._holding(message.symbol):
                pairs.setdefault((setup.portfolio_id, message.date), (setup, message.date))
        return list(pairs.values())

    def portfolio_on_signal(self, message: SignalGenerated, uow: SqlUnitOfWork) -> None:
        for setup in self.portfolios:
            if setup.strategy_version == message.strategy and message.symbol in setup.symbols:
                decide_targets(uow, setup, message.date, cutoff=False)

    def portfolio_on_state(self, message: StateUpdate, uow: SqlUnitOfWork) -> None:
        setup = self._portfolio(message.portfolio_id)
        if setup is not None:
            decide_targets(uow, setup, message.date, cutoff=False)

    def portfolio_on_bar(self, message: MarketBar, uow: SqlUnitOfWork) -> None:
        """A later session's bar is the cut-off of every earlier undecided day."""
        for setup in self._holding(message.symbol):
            for day in uow.trading.undecided_days(setup.portfolio_id, message.date):
                decide_targets(uow, setup, day, cutoff=True)

    # -- order manager -----------------------------------------------------------------------

    def order_manager(self, message: PortfolioTargets, uow: SqlUnitOfWork) -> None:
        setup = self._portfolio(message.portfolio_id)
        if setup is not None:
            create_orders(uow, setup, message)

    # -- broker ------------------------------------------------------------------------------

    def broker_on_order(self, message: OrderCreated, uow: SqlUnitOfWork) -> None:
        order = uow.trading.order(message.order_uuid)
        if order is None or order.status != "PENDING":
            return
        bar = uow.trading.bars_on([order.symbol], order.date).get(order.symbol)
        if bar is not None:  # otherwise the session's bar fills it when it arrives
            execute_order(uow, self.broker, order, bar.open)

    def broker_on_bar(self, message: MarketBar, uow: SqlUnitOfWork) -> None:
        for order in uow.trading.orders_on(message.date, symbol=message.symbol):
            if order.status == "PENDING" and self._portfolio(order.portfolio_id) is not None:
                execute_order(uow, self.broker, order, message.open)

    def broker_on_bars(self, messages: Sequence[MarketBar], uow: SqlUnitOfWork) -> None:
        """`broker_on_bar` with one order query per date of the batch."""
        by_day: dict[dt.date, dict[str, MarketBar]] = {}
        for message in messages:
            by_day.setdefault(message.date, {}).setdefault(message.symbol, message)
        for day, bars in by_day.items():
            for order in uow.trading.orders_on(day):
                bar = bars.get(order.symbol)
                if (
                    bar is not None
                    and order.status == "PENDING"
                    and self._portfolio(order.portfolio_id) is not None
                ):
                    execute_order(uow, self.broker, order, bar.open)

    # -- ledger ------------------------------------------------------------------------------

    def ledger_on_fill(self, message: OrderFilled, uow: SqlUnitOfWork) -> None:
        order = uow.trading.order(message.order_uuid)
        setup = self._portfolio(order.portfolio_id) if order is not None else None
        if order is None or setup is None:
            return
        fill = Fill.from_message(message, order.side, setup.currency)  # type: ignore[arg-type]
        post_fills_in(uow, setup.portfolio_id, [fill])
        mark_session(uow, setup, order.date, cutoff=False)

    def ledger_on_fills(self, messages: Sequence[OrderFilled], uow: SqlUnitOfWork) -> None:
        """`ledger_on_fill` for a batch: each run of fills of one portfolio and session is
        posted in one call, then the session marked once. (Marking between the fills of a run
        would find the run's later fills unposted, since they are stored before they are
        announced, and do nothing.)"""
        run: list[Fill] = []
        run_key: tuple[str, dt.date] | None = None
        run_setup: PortfolioSetup | None = None
        for message in messages:
            order = uow.trading.order(message.order_uuid)
            setup = self._portfolio(order.portfolio_id) if order is not None else None
            if order is None or setup is None:
                continue
            key = (setup.portfolio_id, order.date)
            if key != run_key and run_setup is not None and run_key is not None:
                post_fills_in(uow, run_setup.portfolio_id, run)
                mark_session(uow, run_setup, run_key[1], cutoff=False)
                run = []
            run_key, run_setup = key, setup
            run.append(Fill.from_message(message, order.side, setup.currency))  # type: ignore[arg-type]
        if run and run_setup is not None and run_key is not None:
            post_fills_in(uow, run_setup.portfolio_id, run)
            mark_session(uow, run_setup, run_key[1], cutoff=False)

    def ledger_on_bar(self, message: MarketBar, uow: SqlUnitOfWork) -> None:
        """Mark the bar's session when it is complete; a later session's bar is the cut-off of
        earlier sessions still unmarked (a bar that never came, an order that never filled)."""
        for setup in self._holding(message.symbol):
            self._ledger_mark(uow, setup, message.date)

    def ledger_on_bars(self, messages: Sequence[MarketBar], uow: SqlUnitOfWork) -> None:
        """`ledger_on_bar` once per portfolio and date of the batch."""
        for setup, day in self._portfolio_days(messages):
            self._ledger_mark(uow, setup, day)

    def _ledger_mark(self, uow: SqlUnitOfWork, setup: PortfolioSetup, day: dt.date) -> None:
        last = uow.trading.last_state_date(setup.portfolio_id)
        if last is not None and (day - last).days > 1:
            late = uow.trading.sessions_with_bars(
                setup.symbols, last + dt.timedelta(days=1), day - dt.timedelta(days=1)
            )
            for earlier in late:
                mark_session(uow, setup, earlier, cutoff=True)
        mark_session(uow, setup, day, cutoff=False)

    def close_session(self, uow: SqlUnitOfWork, day: dt.date) -> None:
        """The cut-off of ``day``: mark and decide it with whatever arrived (see module doc)."""
        for setup in self.portfolios:
            mark_session(uow, setup, day, cutoff=True)
            decide_targets(uow, setup, day, cutoff=True)
