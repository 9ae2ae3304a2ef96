"""Run every pipeline stage as a consumer and SIGKILL the process at a seeded handler call.

Run by `test_pipeline_crashes.py` with the test's settings in STOCKER_* variables. Arguments:
the call to die at (0: never) and where — `before` (the message read, nothing written), `after`
(the handler's rows written, not committed, not acknowledged) or `unacked` (the batch committed,
at its XACK: the messages come again and must change nothing). Without a kill it
polls until the streams are idle and exits 0.
"""

from __future__ import annotations

import os
import signal
import sys
import time
from collections.abc import Callable
from typing import Any

from stocker.bootstrap import build
from stocker.bus.consumer import Consumer
from stocker.bus.handlers import HandlerRegistry
from stocker.bus.relay import OutboxRelay
from stocker.core.strategy.config import StrategyConfig
from stocker.trading.brokers.paper import PaperBroker
from stocker.trading.stages import Stages
from stocker.trading.strategy_files import PortfolioSetup

STOCKS = ("AAPL", "AMD", "BAC", "CVX", "JNJ", "KO", "MSFT", "PG", "WMT", "XOM")
FAST = StrategyConfig(lookback_days=20, vol_seed_returns=10)


def stages(portfolio: str) -> Stages:
    """The portfolio both the test and this process run (same broker, same parameters)."""
    from decimal import Decimal

    broker = PaperBroker(
        slippage_bps=5, commission_per_share=Decimal("0.005"), min_commission=Decimal(1)
    )
    return Stages((PortfolioSetup(portfolio, f"{portfolio}-v1", STOCKS, FAST),), broker)


def main() -> int:
    kill_at, where = int(sys.argv[1]), sys.argv[2]
    calls = 0

    def wrapped(handler: Callable[[Any, Any], None]) -> Callable[[Any, Any], None]:
        def run(message: Any, uow: Any) -> None:
            nonlocal calls
            calls += 1
            if calls == kill_at and where == "before":
                os.kill(os.getpid(), signal.SIGKILL)
            handler(message, uow)
            if calls == kill_at and where == "after":
                os.kill(os.getpid(), signal.SIGKILL)

        return run

    app = build()
    client = app.redis
    acks = 0
    xack = client.xack

    def dying_xack(*args: Any) -> Any:
        nonlocal acks
        acks += 1
        if where == "unacked" and acks == kill_at:
            os.kill(os.getpid(), signal.SIGKILL)
        return xack(*args)

    client.xack = dying_xack  # type: ignore[method-assign]
    registry = HandlerRegistry()
    stages("live").register(registry)
    bus = app.settings.bus()
    consumers = [
        Consumer(app.uow, client, bus, r.stream, r.group, f"c-{r.group}", wrapped(r.handler))
        for r in registry.registrations()
    ]
    for consumer in consumers:
        consumer.ensure_group()
    relay = OutboxRelay(app.uow, client, bus)
    quiet_since = time.monotonic()
    while time.monotonic() - quiet_since < 1.5:  # longer than the claim idle time
        moved = relay.publish_pending()
        for consumer in consumers:
            moved += consumer.poll_once(count=5, block_ms=10).received
        if moved:
            quiet_since = time.monotonic()
        else:
            time.sleep(0.05)
    print(f"done after {calls} handler calls", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
