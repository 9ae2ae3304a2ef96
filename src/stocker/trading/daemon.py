"""`stocker trade daemon`: each portfolio's daily cycle, run once per session of the exchange
calendar after the session's close, by the app's clock.

A session is claimed in `daemon_sessions` (unique per portfolio and session) before its cycle
runs and marked done after; a daemon that restarts finds the claimed session still running and
resumes it (every step of the cycle is idempotent: orders have deterministic ids and the broker
is asked by client order id before anything is sent), never starts a done one again, and runs
the sessions it missed in order, so no day runs twice and none is skipped.

The cycle of a session t (`live_cycle`): ingest t's bars of the portfolio's universe from the
configured source (`SessionBars`); backfill and reconcile; the day's bars through the pipeline
(signals, targets, the orders for t+1); send t+1's market-on-open orders unless the portfolio
is halted; apply the broker's updates; reconcile again.

A bar the source does not have (or a source that fails) does not hold the cycle: the session
runs with what is stored, and the pipeline's cut-off gives the missing symbol its reason ("No
bar or signal by the cut-off: no signal, position kept"); the symbols are listed in the
session's detail (`missing_bars`).
"""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from stocker.data.calendars import session_times, sessions

if TYPE_CHECKING:
    from stocker.core.broker import LiveBroker
    from stocker.core.clock import Clock
    from stocker.trading.days import UowFactory

Cycle = Callable[[str, dt.date], dict[str, Any]]
SourceFactory = Callable[..., Any]
"""`App.source`: a registered market-data source by name, with its options."""


@dataclass(frozen=True)
class SessionBars:
    """Where each session's bars come from after its close: a registered source
    (`stocker.sources.registry`) and its options, `{session}` in an option value standing for
    the session's date (a file per day). Without a name, the source of the universe's most
    recent stored bar (where the portfolio's data came from); when that is not a source that
    can be fetched again (the bundled sample), the bars stored are used as they are."""

    source_factory: SourceFactory
    source: str | None = None
    options: Mapping[str, str] = field(default_factory=dict)

    def ingest(
        self, uow_factory: UowFactory, symbols: Iterable[str], day: dt.date
    ) -> dict[str, Any]:
        """Fetch and ingest `day`'s bars of `symbols`; what happened, for the session's detail."""
        from stocker.core.errors import StockerError
        from stocker.data.ingest import FetchRequest, fetch_and_ingest
        from stocker.sources.registry import source_name

        wanted = sorted(set(symbols))
        name = self.source
        if name is None:
            with uow_factory() as uow:
                stored = uow.live_trading.latest_bar_source(wanted)
            name = stored.split(":", 1)[0] if stored else None  # "csv:day.csv" -> "csv"
        detail: dict[str, Any] = {"source": name}
        try:
            if name is None:
                raise StockerError("no bars stored and no source configured")
            key = source_name(name)
            if key in ("csv", "parquet") and "path" not in self.options:
                raise StockerError(f"source {key} needs a path option (--source-option path=...)")
            options = {
                k: str(v).replace("{session}", day.isoformat()) for k, v in self.options.items()
            }
            source = self.source_factory(key, **options)
            report = fetch_and_ingest(
                uow_factory(), source, FetchRequest(tuple(wanted), day, day), today=day
            )
            counts = next((t for t in report.tables if t.table == "prices_daily"), None)
            detail["inserted"] = counts.inserted if counts else 0
            detail["quarantined"] = report.quarantined
        except StockerError as error:
            detail["ingest_error"] = f"{error}; the bars stored are used"
        with uow_factory() as uow:
            detail["missing_bars"] = uow.live_trading.symbols_without_bar(wanted, day)
        return detail


@dataclass
class TradingDaemon:
    """Runs `cycle(portfolio, session)` once per closed session from `first` on."""

    uow_factory: UowFactory
    portfolios: tuple[str, ...]
    clock: Clock
    cycle: Cycle
    first: dt.date
    calendar: str = "XNYS"
    ran: list[tuple[str, dt.date]] = field(default_factory=list)

    def due(self, portfolio_id: str) -> list[dt.date]:
        """Sessions closed by now and not done yet, oldest first."""
        with self.uow_factory() as uow:
            last = uow.live_trading.last_done_session(portfolio_id)
        start = max(self.first, last + dt.timedelta(days=1)) if last else self.first
        now = self.clock.now()
        if start > now.date():
            return []
        days = sessions(self.calendar, start, now.date())
        if len(days) == 0:
            return []
        closes = session_times(self.calendar, days[0], days[-1])["close"]
        return [
            day.date()
            for day, close in zip(days, closes, strict=True)
            if pd.Timestamp(close).to_pydatetime() <= now
        ]

    def run_once(self) -> list[tuple[str, dt.date]]:
        """Run every due session of every portfolio; returns what ran."""
        ran = []
        for portfolio_id in self.portfolios:
            for day in self.due(portfolio_id):
                with self.uow_factory() as uow:
                    claimed = uow.live_trading.claim_session(portfolio_id, day)
                    uow.commit()
                if claimed.status == "done":
                    continue
                detail = self.cycle(portfolio_id, day)
                with self.uow_factory() as uow:
                    uow.live_trading.finish_session(
                        portfolio_id, day, {**detail, "attempts": claimed.attempts}
                    )
                    uow.commit()
                ran.append((portfolio_id, day))
                self.ran.append((portfolio_id, day))
        return ran

    def run(self, stop: threading.Event, poll_s: float = 60.0) -> None:
        """Run due sessions until `stop` is set."""
        while not stop.is_set():
            self.run_once()
            stop.wait(poll_s)


def live_cycle(
    uow_factory: UowFactory,
    broker: LiveBroker,
    strategy_paths: Iterable[Path],
    *,
    settle_s: float = 5.0,
    bars: SessionBars | None = None,
) -> Cycle:
    """The production cycle: the session's bars in, reconcile, the pipeline's day, orders out,
    updates in, reconcile. Without `bars`, the bars already stored are used."""
    from stocker.trading.days import load_pipeline, run_day
    from stocker.trading.live_broker import LiveTrading
    from stocker.trading.reconcile import reconcile

    stages, registry = load_pipeline(uow_factory, list(strategy_paths), HeldForLiveBroker())
    live = LiveTrading(uow_factory, broker)
    universes = {setup.portfolio_id: setup.symbols for setup in stages.portfolios}

    def cycle(portfolio_id: str, day: dt.date) -> dict[str, Any]:
        ingested = (
            bars.ingest(uow_factory, universes.get(portfolio_id, ()), day)
            if bars is not None
            else {}
        )
        before = reconcile(uow_factory, broker, portfolio_id)
        report = run_day(uow_factory, registry, stages, day)
        sent = live.submit(portfolio_id=portfolio_id)
        deadline = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=settle_s)
        while dt.datetime.now(dt.UTC) < deadline and live.pump(0.2):
            pass
        after = reconcile(uow_factory, broker, portfolio_id)
        return {
            **({"bars": ingested} if ingested else {}),
            "handled": report.handled,
            "submitted": len(sent.submitted),
            "halted_orders": len(sent.halted),
            "breaks_before": before.open_breaks,
            "breaks_after": after.open_breaks,
        }

    return cycle


@dataclass(frozen=True)
class HeldForLiveBroker:
    """The pipeline's broker stage when orders go to a live broker: it executes nothing (the
    live stage sends the orders and records their fills as they come)."""

    name: str = "live"
    live: bool = True

    def execute(self, order_id: Any, side: str, qty: Any, open_price: Any, at: Any) -> list[Any]:
        return []
