"""The daemon's cycle takes each session's bars from the configured source after the close: a
day's CSV written into a directory, read by the `csv` source (the real file adapter). A symbol
the file lacks, or a day whose file never came, does not hold the cycle: the session runs with
what is stored and the pipeline's cut-off gives the missing symbol its reason."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from pathlib import Path

import pandas as pd
import pytest

from stocker.bootstrap import App
from stocker.brokers.alpaca import AlpacaBroker
from stocker.core.clock import FixedClock
from stocker.data.calendars import session_times
from stocker.data.sample import load_sample
from stocker.trading.daemon import SessionBars, TradingDaemon, live_cycle

pytestmark = [pytest.mark.integration, pytest.mark.slow]
SYMBOLS = ["AAPL", "KO", "MSFT", "XOM"]
LAST_SAMPLE_DAY = dt.date(2022, 12, 28)
FIRST, SECOND = dt.date(2022, 12, 29), dt.date(2022, 12, 30)  # the next XNYS sessions


def _after_close(day: dt.date) -> FixedClock:
    close = session_times("XNYS", day, day)["close"].iloc[0]
    return FixedClock(pd.Timestamp(close).to_pydatetime() + dt.timedelta(hours=1))


def test_each_session_ingests_its_bars_from_the_configured_source(
    app: App, broker: AlpacaBroker, tmp_path: Path
) -> None:
    load_sample(app.uow())
    strategy = tmp_path / "trend.toml"
    strategy.write_text(
        '[portfolio]\nid = "ingesting"\nsymbols = ["AAPL", "KO", "MSFT", "XOM"]\n'
        "[strategy]\nlookback_days = 20\nvol_seed_returns = 10\n"
    )
    with app.uow() as uow:
        last = uow.trading.bars_on(SYMBOLS, LAST_SAMPLE_DAY)
    # the vendor's file of the first session, after its close; XOM is not in it
    rows = [
        {
            "symbol": s,
            "date": FIRST.isoformat(),
            **{
                k: str((last[s].close * Decimal("1.01")).quantize(Decimal("0.01")))
                for k in ("open", "high", "low", "close", "adj_close")
            },
            "volume": 1_000_000,
        }
        for s in SYMBOLS
        if s != "XOM"
    ]
    pd.DataFrame(rows).to_csv(tmp_path / f"bars-{FIRST}.csv", index=False)
    bars = SessionBars(app.source, "csv", {"path": str(tmp_path / "bars-{session}.csv")})
    cycle = live_cycle(app.uow, broker, [strategy], settle_s=0.5, bars=bars)

    ran = TradingDaemon(app.uow, ("ingesting",), _after_close(FIRST), cycle, first=FIRST)
    assert ran.run_once() == [("ingesting", FIRST)]
    with app.uow() as uow:
        stored = uow.trading.bars_on(SYMBOLS, FIRST)
        [session] = uow.live_trading.sessions("ingesting")
        targets = uow.trading.targets_on("ingesting", FIRST)
    assert sorted(stored) == ["AAPL", "KO", "MSFT"]
    assert {bar.source for bar in stored.values()} == {f"csv:bars-{FIRST}.csv"}
    assert session.status == "done"
    assert session.detail is not None
    assert session.detail["bars"]["inserted"] == 3
    assert session.detail["bars"]["missing_bars"] == ["XOM"]
    assert "No bar or signal by the cut-off" in (targets["XOM"].reason or "")
    assert "No bar or signal" not in (targets["AAPL"].reason or "")

    # the next session's file never comes: the session still runs, once, and says why
    again = TradingDaemon(app.uow, ("ingesting",), _after_close(SECOND), cycle, first=FIRST)
    assert again.run_once() == [("ingesting", SECOND)]
    assert again.run_once() == []
    with app.uow() as uow:
        second = uow.live_trading.session("ingesting", SECOND)
    assert second is not None and second.detail is not None
    assert "the bars stored are used" in second.detail["bars"]["ingest_error"]
    assert second.detail["bars"]["missing_bars"] == SYMBOLS
