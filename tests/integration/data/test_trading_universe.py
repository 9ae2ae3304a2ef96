"""The dynamic trading universe on real PostgreSQL: hand-computed ranks, point-in-time rule."""

from __future__ import annotations

from datetime import date

import pandas as pd
import pytest
from sqlalchemy import Connection, Engine, text
from typer.testing import CliRunner

from stocker.bootstrap import App
from stocker.data.trading_universe import refresh_trading_universe, trading_universe_on
from stocker.store.uow import SqlUnitOfWork

DAYS = [date(2024, 1, 2), date(2024, 1, 3), date(2024, 1, 4), date(2024, 1, 5), date(2024, 1, 8)]
# (close, volume) per day; dollar volumes in the comments.
BARS = {
    "AAA": [(10, 100), (11, 100), (12, 100), (13, 100), (14, 100)],  # 1000 1100 1200 1300 1400
    "BBB": [(5, 300), (5, 100), (5, 500), (5, 100), (5, 100)],  # 1500 500 2500 500 500
    "CCC": [(20, 10), None, (20, 10), (20, 10), (20, 10)],  # 200 - 200 200 200
}


def _insert(conn: Connection, symbol: str, day: date, close: float, volume: int) -> None:
    conn.execute(
        text(
            "INSERT INTO prices_daily (symbol, date, open, high, low, close, adj_close, volume, "
            "source) VALUES (:symbol, :day, :close, :close, :close, :close, :close, :volume, 't') "
            "ON CONFLICT (symbol, date) DO UPDATE SET open = EXCLUDED.open, high = EXCLUDED.high, "
            "low = EXCLUDED.low, close = EXCLUDED.close, adj_close = EXCLUDED.adj_close, "
            "volume = EXCLUDED.volume"
        ),
        {"symbol": symbol, "day": day, "close": close, "volume": volume},
    )


@pytest.fixture
def market(engine: Engine) -> Engine:
    with engine.begin() as conn:
        conn.execute(text("INSERT INTO instrument_info (symbol) VALUES ('AAA'), ('BBB'), ('CCC')"))
        for symbol, bars in BARS.items():
            for day, bar in zip(DAYS, bars, strict=True):
                if bar is not None:
                    _insert(conn, symbol, day, *bar)
    return engine


def _stored(engine: Engine) -> list[tuple]:
    with engine.connect() as conn:
        rows = conn.execute(
            text(
                "SELECT as_of_date, symbol, rank, avg_dollar_volume, source, lookback_days "
                "FROM trading_universe ORDER BY as_of_date, rank"
            )
        )
        return [(row[0], row[1], row[2], float(row[3]), row[4], row[5]) for row in rows]


def test_refresh_trading_universe_stores_hand_computed_top_n(
    market: Engine, uow: SqlUnitOfWork
) -> None:
    result = refresh_trading_universe(uow, start=DAYS[1], end=DAYS[3], top=2, lookback_days=2)
    stored = _stored(market)
    assert (result.sessions, result.rows, result.inserted) == (3, 6, 6)
    assert stored == [
        (DAYS[1], "AAA", 1, 1050.0, "prices_daily", 2),
        (DAYS[1], "BBB", 2, 1000.0, "prices_daily", 2),
        (DAYS[2], "BBB", 1, 1500.0, "prices_daily", 2),
        (DAYS[2], "AAA", 2, 1150.0, "prices_daily", 2),
        (DAYS[3], "BBB", 1, 1500.0, "prices_daily", 2),
        (DAYS[3], "AAA", 2, 1250.0, "prices_daily", 2),
    ]


def test_refresh_trading_universe_when_start_is_late_uses_earlier_bars_for_the_window(
    market: Engine, uow: SqlUnitOfWork
) -> None:
    refresh_trading_universe(uow, start=DAYS[4], end=DAYS[4], top=3, lookback_days=3)
    ranking = trading_universe_on(uow, DAYS[4])
    # Windows DAYS[2..4]: AAA (1200+1300+1400)/3, BBB (2500+500+500)/3, CCC 200.
    assert list(ranking["symbol"]) == ["AAA", "BBB", "CCC"]
    assert ranking["avg_dollar_volume"].tolist() == [1300.0, 1166.67, 200.0]


def test_refresh_trading_universe_when_rerun_reports_unchanged_and_drops_fallen_rows(
    market: Engine, uow: SqlUnitOfWork
) -> None:
    refresh_trading_universe(uow, start=DAYS[1], end=DAYS[4], top=2, lookback_days=2)
    again = refresh_trading_universe(uow, start=DAYS[1], end=DAYS[4], top=2, lookback_days=2)
    narrower = refresh_trading_universe(uow, start=DAYS[1], end=DAYS[4], top=1, lookback_days=2)
    ranks = {row[2] for row in _stored(market)}
    assert (again.inserted, again.updated, again.unchanged, again.deleted) == (0, 0, 8, 0)
    assert narrower.deleted == 4
    assert ranks == {1}


def test_trading_universe_when_later_data_changes_keeps_earlier_rows(
    market: Engine, uow: SqlUnitOfWork
) -> None:
    as_of = DAYS[2]
    refresh_trading_universe(uow, start=DAYS[1], end=DAYS[4], top=3, lookback_days=2)
    before = trading_universe_on(uow, as_of)
    later_before = trading_universe_on(uow, DAYS[3])
    with market.begin() as conn:
        # Rewrite every bar after D and add a symbol that starts trading after D with a huge
        # dollar volume.
        for symbol in ("AAA", "BBB", "CCC"):
            for day in DAYS[3:]:
                _insert(conn, symbol, day, 999.0, 1_000_000)
        conn.execute(text("INSERT INTO instrument_info (symbol) VALUES ('NEW')"))
        for day in DAYS[3:]:
            _insert(conn, "NEW", day, 5000.0, 10_000_000)
        _insert(conn, "NEW", date(2024, 1, 9), 5000.0, 10_000_000)
    refresh_trading_universe(uow, start=DAYS[1], end=date(2024, 1, 9), top=3, lookback_days=2)
    after = trading_universe_on(uow, as_of)
    later_after = trading_universe_on(uow, DAYS[3])
    newest = trading_universe_on(uow, DAYS[4])
    pd.testing.assert_frame_equal(before, after)
    assert not later_before.equals(later_after)
    assert newest["symbol"].iloc[0] == "NEW"


def test_trading_universe_cli_ranks_and_prints_counts(market: Engine, app: App) -> None:
    from stocker.cli import app as cli

    arguments = ["data", "trading-universe", "--top", "2", "--lookback", "2"]
    arguments += ["--start", "2024-01-03", "--end", "2024-01-05"]
    result = CliRunner().invoke(cli, arguments, obj=app)
    assert result.exit_code == 0, result.output
    assert len(_stored(market)) == 6
