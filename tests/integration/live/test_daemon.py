"""The daemon against the stand-in with a fake clock: ten sessions, the daemon dying in the
middle of each one and restarting; every session runs exactly once and none is skipped."""

from __future__ import annotations

import datetime as dt
from collections import Counter
from typing import Any

import pandas as pd
import pytest
from live_helpers import PORTFOLIO, add_order, control, settle

from stocker.bootstrap import App
from stocker.brokers.alpaca import AlpacaBroker
from stocker.brokers.alpaca_standin import StandIn
from stocker.core.clock import FixedClock
from stocker.data.calendars import session_times, sessions
from stocker.trading.daemon import TradingDaemon
from stocker.trading.live_broker import LiveTrading

pytestmark = [pytest.mark.integration, pytest.mark.slow]


class DiedError(Exception):
    """The daemon process dying mid-session."""


def _after_close(day: dt.date) -> FixedClock:
    close = session_times("XNYS", day, day)["close"].iloc[0]
    return FixedClock(pd.Timestamp(close).to_pydatetime() + dt.timedelta(hours=1))


def test_ten_sessions_run_once_each_across_restarts(
    app: App, stand_in: StandIn, broker: AlpacaBroker
) -> None:
    days = [d.date() for d in sessions("XNYS", "2024-01-02", "2024-01-31")][:13]
    live = LiveTrading(app.uow, broker)
    died: set[dt.date] = set()
    completed: Counter[dt.date] = Counter()

    def cycle(portfolio_id: str, day: dt.date) -> dict[str, Any]:
        side = "BUY" if days.index(day) % 2 == 0 else "SELL"
        add_order(app, "SPY", side, 5, day, portfolio_id)
        live.submit(portfolio_id=portfolio_id)
        if day not in died and day in days[:10]:
            died.add(day)
            raise DiedError(day)  # orders sent, the session not finished
        control(stand_in, "/_standin/open")
        settle(live, quiet_rounds=2)
        completed[day] += 1
        return {"orders": 1}

    def daemon(clock: FixedClock) -> TradingDaemon:
        return TradingDaemon(app.uow, (PORTFOLIO,), clock, cycle, first=days[0])

    for day in days[:10]:
        clock = _after_close(day)
        with pytest.raises(DiedError):
            daemon(clock).run_once()
        assert daemon(clock).run_once() == [(PORTFOLIO, day)]  # the restart resumes it
        assert daemon(clock).run_once() == []  # and never runs it again
    # down for three sessions: on restart they run in order, none skipped
    assert daemon(_after_close(days[12])).run_once() == [(PORTFOLIO, d) for d in days[10:13]]

    assert completed == Counter({day: 1 for day in days})
    with app.uow() as uow:
        rows = uow.live_trading.sessions(PORTFOLIO)
    assert [r.session_date for r in rows] == days
    assert all(r.status == "done" for r in rows)
    assert [r.attempts for r in rows] == [2] * 10 + [1] * 3
    summary = stand_in.book.summary()
    assert summary["orders"] == 13 and summary["duplicate_orders"] == 0
    assert summary["duplicate_submissions"] == 0
