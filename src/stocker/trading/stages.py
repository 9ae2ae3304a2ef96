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
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from stocker.core.ledger import Fill, state_update
from stocker.core.messages import (
    MarketBar,
    OrderCreated,
    OrderFilled,
    PortfolioTargets,
    SignalGenerated,
    SignalMetrics,
    StateUpdate,
    TargetExposure,
    TargetsMeta,
)
from stocker.core.strategy import (
    compute_signals,
    drawdown_rule,
    history_sessions,
    orders_for_day,
    portfolio_targets,
    predicted_vol,
)
from stocker.data.calendars import calendar_for_exchange, next_session, session_times
from stocker.store.repositories.trading import FillRow, OrderRow, SignalValues
from stocker.trading.brokers.base import Broker
from stocker.trading.ledger import close_day_in, post_fills_in
from stocker.trading.strategy_files import PortfolioSetup

if TYPE_CHECKING:
    from stocker.bus.handlers import HandlerRegistry
    from stocker.store.uow import SqlUnitOfWork

ORDER_NAMESPACE = uuid.UUID("7d1f3c9e-2b4a-5c6d-8e9f-0a1b2c3d4e5f")
GROUPS = ("signal-engine", "portfolio-engine", "order-manager", "broker", "ledger")
FINAL = ("FILLED", "CANCELED")


def order_uuid(portfolio_id: str, symbol: str, target_date: dt.date) -> uuid.UUID:
    """The order's id: one per portfolio, symbol and session, so a replay never makes two."""
    return uuid.uuid5(ORDER_NAMESPACE, f"{portfolio_id}|{symbol}|{target_date.isoformat()}")


def _f(value: Any) -> float:
    """A frame cell as a float (pandas types its cells loosely)."""
    return float(value)


def _number(value: float) -> float | None:
    return float(value) if np.isfinite(value) else None


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
                lookback_return=_number(lookback),
                ewma_vol=_number(vol),
                direction=int(direction) if has_signal else None,
                target_weight=_number(weight),
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
                _signals_for_day(uow, setup, version, held, day)

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


def _signals_for_day(
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
        lookback_return=_number(lookback),
        ewma_vol=_number(vol),
        direction=int(direction) if has_signal else None,
        target_weight=_number(weight),
        price_bar_id=bar_id,
    )


def mark_session(uow: SqlUnitOfWork, setup: PortfolioSetup, day: dt.date, *, cutoff: bool) -> None:
    """Mark the portfolio at ``day``'s close once the day's executions are all posted."""
    portfolio = setup.portfolio_id
    if uow.trading.has_state(portfolio, day):
        return
    orders = uow.trading.orders_on(day, portfolio_id=portfolio)
    waiting = [order for order in orders if order.status not in FINAL]
    if waiting and not cutoff:
        return
    if waiting:  # the cut-off: an order whose session's bar never came is canceled
        priced = uow.trading.bars_on([order.symbol for order in waiting], day)
        for order in waiting:
            if order.status == "PENDING" and order.symbol not in priced:
                uow.trading.set_order_status(order.order_id, "CANCELED")
                uow.trading.add_order_event(
                    order.order_id,
                    "CANCELED",
                    detail={"reason": f"no {order.symbol} bar for {day} by the cut-off"},
                )
    if uow.ledger.unposted_fills(portfolio):
        return
    if not cutoff and len(uow.trading.bars_on(setup.symbols, day)) < len(setup.symbols):
        return
    uow.ledger.lock(portfolio)
    if uow.trading.has_state(portfolio, day):
        return
    previous = uow.ledger.state_before(portfolio, day)
    state = close_day_in(uow, portfolio, day, currency=setup.currency)  # dividends, splits
    uow.outbox.add(state_update(state, previous))


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


def _next_sessions(uow: SqlUnitOfWork, symbols: Sequence[str], day: dt.date) -> dict[str, dt.date]:
    terms = uow.trading.instrument_terms(symbols)
    calendars = {
        symbol: calendar_for_exchange(terms.get(symbol, (None, None))[0]) for symbol in symbols
    }
    sessions = {code: next_session(code, day).date() for code in set(calendars.values())}
    return {symbol: sessions[code] for symbol, code in calendars.items()}


def create_orders(uow: SqlUnitOfWork, setup: PortfolioSetup, message: PortfolioTargets) -> None:
    """Size the day's orders from the NAV and holdings of the day's state; market on open at
    the next session. Sizes come from the message's exact exposures (the stored NUMERIC(10,6)
    is the record), so a replay sizes identically."""
    portfolio, day = setup.portfolio_id, message.date
    navs = uow.trading.state_dates(portfolio, day)
    if not navs:
        return
    nav = float(navs[-1][1])
    symbols = [target.symbol for target in message.targets]
    exposure = pd.Series({t.symbol: t.target_exposure for t in message.targets}, dtype=float)
    bars = uow.trading.bars_on(symbols, day)
    close = pd.Series({s: float(bars[s].close) if s in bars else np.nan for s in symbols})
    # Held at the decision day's close: a redelivered target sizes exactly as it did then.
    positions = uow.ledger.positions(portfolio, symbols, before=day + dt.timedelta(days=1))
    current = pd.Series({s: float(positions[s].quantity) for s in symbols}, dtype=float)
    table = orders_for_day(
        exposure, nav, close, current, min_trade_fraction=setup.config.min_trade_fraction
    )
    stored = uow.trading.targets_on(portfolio, day)
    skipped = {s: str(table.at[s, "reason"]) for s in table.index if bool(table.at[s, "skipped"])}
    sessions = _next_sessions(uow, symbols, day)
    for symbol in table.index:
        shares = _f(table.at[symbol, "order_shares"])
        if shares == 0.0:
            continue
        target_date = sessions[symbol]
        order = OrderRow(
            order_id=order_uuid(portfolio, symbol, target_date),
            portfolio_id=portfolio,
            date=target_date,
            symbol=symbol,
            side="BUY" if shares > 0 else "SELL",
            qty=Decimal(str(abs(shares))),
            type="MOO",
            status="PENDING",
            target_exposure_id=stored[symbol].id if symbol in stored else None,
        )
        if not uow.trading.add_order(order):
            continue
        uow.trading.add_order_event(
            order.order_id,
            "PENDING",
            detail={
                "decided_on": day.isoformat(),
                "nav": nav,
                "close": _f(table.at[symbol, "close"]),
                "target_exposure": _f(table.at[symbol, "target_exposure"]),
                "current_shares": _f(table.at[symbol, "current_shares"]),
                "target_shares": _f(table.at[symbol, "target_shares"]),
                "reason": str(table.at[symbol, "reason"]),
                "skipped_today": skipped,
            },
        )
        uow.outbox.add(
            OrderCreated(
                order_uuid=order.order_id,
                portfolio_id=portfolio,
                symbol=symbol,
                side=order.side,  # type: ignore[arg-type]
                qty=order.qty,
                order_type="MOO",
                target_date=target_date,
            )
        )


def _open_time(day: dt.date) -> dt.datetime:
    try:
        opened = session_times("XNYS", day, day)["open"].iloc[0]
        return pd.Timestamp(opened).to_pydatetime()
    except Exception:  # a session outside the calendar: midnight UTC
        return dt.datetime(day.year, day.month, day.day, tzinfo=dt.UTC)


def execute_order(uow: SqlUnitOfWork, broker: Broker, order: OrderRow, open_price: Decimal) -> None:
    """Have the broker execute the order at the session's open; record each fill once."""
    executions = broker.execute(
        order.order_id, order.side, order.qty, open_price, _open_time(order.date)
    )
    if not executions and getattr(broker, "live", False):
        return  # a live broker's orders are sent and filled by stocker.trading.live_broker
    filled = Decimal(0)
    for execution in executions:
        filled += execution.qty
        new = uow.trading.add_fill(
            FillRow(
                fill_id=execution.fill_id,
                order_id=order.order_id,
                date=execution.timestamp,
                symbol=order.symbol,
                side=order.side,
                qty=execution.qty,
                price=execution.price,
                commission=execution.commission,
            )
        )
        if not new:
            continue
        status = "FILLED" if filled >= order.qty else "PARTIALLY_FILLED"
        uow.trading.add_order_event(
            order.order_id,
            status,
            broker_order_id=execution.fill_id,
            detail={
                "qty": str(execution.qty),
                "price": str(execution.price),
                "commission": str(execution.commission),
                "filled": str(filled),
            },
        )
        uow.outbox.add(
            OrderFilled(
                order_uuid=order.order_id,
                broker_id=execution.fill_id,
                symbol=order.symbol,
                qty=execution.qty,
                price=execution.price,
                commission=execution.commission,
                timestamp=execution.timestamp,
            )
        )
    uow.trading.set_order_status(order.order_id, "FILLED" if filled >= order.qty else "SHIPPED")
