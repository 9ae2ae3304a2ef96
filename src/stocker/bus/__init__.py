"""Redis Streams adapter: the spec's message models, publish/consume, outbox relay.

Stages write events with `uow.outbox.add` in their own transaction;
`stocker.bus.relay.OutboxRelay` publishes them; `stocker.bus.consumer.Consumer` applies them
exactly once per consumer group. See docs/bus.md.
"""

from stocker.bus.consumer import Consumer, PollReport
from stocker.bus.handlers import Handler, HandlerRegistry
from stocker.bus.relay import OutboxRelay, RelayReport
from stocker.core.messages import (
    STREAMS,
    BusMessage,
    MarketBar,
    OrderCreated,
    OrderFilled,
    PortfolioTargets,
    SignalGenerated,
    StateUpdate,
    parse,
)

__all__ = [
    "STREAMS",
    "BusMessage",
    "Consumer",
    "Handler",
    "HandlerRegistry",
    "MarketBar",
    "OrderCreated",
    "OrderFilled",
    "OutboxRelay",
    "PollReport",
    "PortfolioTargets",
    "RelayReport",
    "SignalGenerated",
    "StateUpdate",
    "parse",
]
