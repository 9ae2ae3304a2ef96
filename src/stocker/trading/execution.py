"""The order manager's, broker's and ledger's writes: orders sized from targets, fills
recorded once per broker fill id, and the session marked once its executions are posted
(see `stocker.trading.stages`).

Kept apart from the stages' message routing so everything that touches orders and fills
reads in one place; `stocker.trading.fill_notices` records a live broker's fills through
`execute_order` too.

An order executing on a split's ex-date was sized at the previous close, in pre-split shares:
`execute_order` carries it across the split first, as a broker does with its open orders
(`split_adjusted`, docs/ledger.md "Open orders across a split").
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Sequence
from decimal import Decimal
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from stocker.core.broker import adjust_for_splits
from stocker.core.ledger import state_update
from stocker.core.messages import OrderCreated, OrderFilled, PortfolioTargets
from stocker.core.strategy import orders_for_day
from stocker.data.calendars import calendar_for_exchange, next_session, session_times
from stocker.store.repositories.trading import FillRow, OrderRow
from stocker.trading.brokers.base import Broker
from stocker.trading.ledger import close_day_in
from stocker.trading.strategy_files import PortfolioSetup

if TYPE_CHECKING:
    from stocker.store.uow import SqlUnitOfWork

ORDER_NAMESPACE = uuid.UUID("7d1f3c9e-2b4a-5c6d-8e9f-0a1b2c3d4e5f")
FINAL = ("FILLED", "CANCELED")


def order_uuid(portfolio_id: str, symbol: str, target_date: dt.date) -> uuid.UUID:
    """The order's id: one per portfolio, symbol and session, so a replay never makes two."""
    return uuid.uuid5(ORDER_NAMESPACE, f"{portfolio_id}|{symbol}|{target_date.isoformat()}")


def _f(value: Any) -> float:
    """A frame cell as a float (pandas types its cells loosely)."""
    return float(value)


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


def split_adjusted(uow: SqlUnitOfWork, broker: Broker, order: OrderRow) -> Decimal:
    """The quantity the broker executes: the order's, carried across the stored splits of its
    symbol going ex at its session (whole shares toward zero; 0: nothing left, the order is
    canceled). Recorded once as an ADJUSTED event whose detail says the ratio, the quantity
    before and after and the remainder; a redelivered message or a re-run day finds the event
    and adjusts nothing again. Only a broker that says so (`adjusts_for_splits`: the paper
    broker, whose open orders are Stocker's to keep) is asked for the adjusted quantity; a live
    broker adjusts its own open orders (Alpaca does) and a webhook's fills are what its broker
    executed, so adjusting those here would adjust them twice."""
    if not getattr(broker, "adjusts_for_splits", False):
        return order.qty
    ratios = [
        value
        for symbol, kind, value in uow.ledger.actions_on(order.date)
        if symbol == order.symbol and kind == "SPLIT"
    ]
    if not ratios:
        return order.qty
    uow.ledger.lock(order.portfolio_id)  # two deliveries of the order at once adjust once
    for event in reversed(uow.trading.order_events(order.order_id)):
        if event.status == "ADJUSTED" and event.detail is not None:
            return Decimal(str(event.detail["qty"]))
    adjustment = adjust_for_splits(order.qty, ratios)
    ratio = adjustment.ratio
    uow.trading.add_order_event(
        order.order_id,
        "ADJUSTED",
        detail={
            **adjustment.detail(),
            "ex_date": order.date.isoformat(),
            "reason": (
                f"split {order.symbol} {ratio.numerator}:{ratio.denominator} ex "
                f"{order.date}: {adjustment.qty_before.normalize():f} shares ordered before it "
                f"are {adjustment.exact.normalize():f} after, {adjustment.qty.normalize():f} "
                f"whole (toward zero), remainder {adjustment.remainder.normalize():f}"
            ),
        },
    )
    if adjustment.qty == 0:
        uow.trading.set_order_status(order.order_id, "CANCELED")
        uow.trading.add_order_event(
            order.order_id,
            "CANCELED",
            detail={"reason": f"nothing left after the {order.symbol} split ex {order.date}"},
        )
    return adjustment.qty


def execute_order(uow: SqlUnitOfWork, broker: Broker, order: OrderRow, open_price: Decimal) -> None:
    """Have the broker execute the order (carried across a split going ex at its session) at
    the session's open; record each fill once."""
    qty = split_adjusted(uow, broker, order)
    if qty == 0:
        return
    executions = broker.execute(order.order_id, order.side, qty, open_price, _open_time(order.date))
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
        status = "FILLED" if filled >= qty else "PARTIALLY_FILLED"
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
    uow.trading.set_order_status(order.order_id, "FILLED" if filled >= qty else "SHIPPED")
