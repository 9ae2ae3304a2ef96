"""The production daily cycle (`live_cycle`) over the sample against the stand-in: the pipeline
decides, the live stage sends market-on-open orders, the stand-in fills them at the next open,
reconciliation finds nothing to break, and a restarted daemon runs every session once."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pandas as pd
import pytest
from live_helpers import control

from stocker.bootstrap import App
from stocker.brokers.alpaca import AlpacaBroker
from stocker.brokers.alpaca_standin import StandIn
from stocker.core.clock import FixedClock
from stocker.data.calendars import session_times, sessions
from stocker.data.sample import load_sample
from stocker.trading.daemon import TradingDaemon, live_cycle
from stocker.trading.ledger_audit import verify

pytestmark = [pytest.mark.integration, pytest.mark.slow]
SYMBOLS = ["AAPL", "KO", "MSFT", "XOM"]


def test_the_daily_cycle_trades_through_the_stand_in(
    app: App, stand_in: StandIn, broker: AlpacaBroker, tmp_path: Path
) -> None:
    load_sample(app.uow())
    strategy = tmp_path / "trend.toml"
    strategy.write_text(
        '[portfolio]\nid = "daemon"\nsymbols = ["AAPL", "KO", "MSFT", "XOM"]\n'
        "[strategy]\nlookback_days = 20\nvol_seed_returns = 10\n"
    )
    days = [d.date() for d in sessions("XNYS", "1990-01-02", "1990-02-09")]
    times = session_times("XNYS", days[0], days[-1])
    cycle = live_cycle(app.uow, broker, [strategy], settle_s=2.0)
    book = stand_in.book
    for day, opened, closed in zip(days, times["open"], times["close"], strict=True):
        with app.uow() as uow:
            bars = uow.trading.bars_on(SYMBOLS, day)
        at_open = pd.Timestamp(opened).to_pydatetime()
        with book.lock:
            book.clock = lambda at=at_open: at
            book.prices.update({s: bar.open for s, bar in bars.items()})
        control(stand_in, "/_standin/open")  # the orders sent after yesterday's close fill
        clock = FixedClock(pd.Timestamp(closed).to_pydatetime() + dt.timedelta(hours=1))
        ran = TradingDaemon(app.uow, ("daemon",), clock, cycle, first=days[0]).run_once()
        assert ran == [("daemon", day)]
    with app.uow() as uow:
        rows = uow.live_trading.sessions("daemon")
        breaks = uow.live_trading.breaks("daemon")
        positions = uow.ledger.positions("daemon", SYMBOLS)
        orders = uow.trading.orders_between("daemon", days[0], days[-1] + dt.timedelta(days=7))
    assert [r.session_date for r in rows] == days and all(r.status == "done" for r in rows)
    assert breaks == []
    assert len(book.orders) == len([o for o in orders if o.status != "PENDING"]) > 0
    assert book.summary()["duplicate_orders"] == 0
    theirs = {s: q for s, (q, _) in book.positions.items() if q != 0}
    assert {s: p.quantity for s, p in positions.items() if p.quantity != 0} == theirs
    assert verify(app.uow(), "daemon").ok
