"""A consumer process that reads one message, writes its effect, and dies before committing.

Run by `test_consumer.py` with the test's settings in STOCKER_* variables and the group and
consumer names as arguments. It exits with status 1 from inside the handler (after the effect
is written, before the transaction commits and before XACK), or 3 if no message arrived.
"""

from __future__ import annotations

import os
import sys

from sqlalchemy import text

from stocker.bootstrap import build
from stocker.bus.consumer import Consumer
from stocker.core.messages import BusMessage, MarketBar
from stocker.store.uow import SqlUnitOfWork


def die_after_writing(message: BusMessage, uow: SqlUnitOfWork) -> None:
    assert isinstance(message, MarketBar)
    uow.connection.execute(
        text(
            "INSERT INTO bus_test_effects (consumer_group, symbol, close) "
            "VALUES (:group, :symbol, :close)"
        ),
        {"group": sys.argv[1], "symbol": message.symbol, "close": message.close},
    )
    print(f"read {message.symbol}, dying", flush=True)
    os._exit(1)


def main() -> int:
    app = build()
    assert app.settings.database_url is not None
    consumer = Consumer(
        app.uow,
        app.redis,
        app.settings.bus(),
        "market-bars",
        sys.argv[1],
        sys.argv[2],
        die_after_writing,
    )
    consumer.poll_once(count=1, block_ms=5000)
    return 3


if __name__ == "__main__":
    sys.exit(main())
