"""Market breadth written to and read back from `market_breadth` on real PostgreSQL."""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd
import pytest
from sqlalchemy import Engine, text

from stocker.bootstrap import App
from stocker.core.breadth import breadth_metrics
from stocker.core.errors import DataError
from stocker.data import universes
from stocker.data.breadth import compute_breadth, read_breadth, refresh_breadth
from stocker.store.uow import SqlUnitOfWork

SESSIONS = pd.bdate_range("2023-01-02", periods=320).as_unit("ns")
SECTORS = {"AAA": "Technology", "BBB": "Technology", "CCC": "Energy", "DDD": "Energy"}


def _closes() -> pd.DataFrame:
    rng = np.random.default_rng(3)
    walks = 50 * np.exp(np.cumsum(rng.normal(0, 0.02, (len(SESSIONS), 4)), axis=0))
    frame = pd.DataFrame(walks.round(4), index=SESSIONS, columns=list(SECTORS))
    frame.iloc[100:110, 2] = np.nan  # CCC suspended for two weeks
    return frame


@pytest.fixture
def market(engine: Engine) -> Engine:
    closes = _closes()
    with engine.begin() as conn:
        conn.execute(
            text("INSERT INTO instrument_info (symbol, sector) VALUES (:symbol, :sector)"),
            [{"symbol": symbol, "sector": sector} for symbol, sector in SECTORS.items()],
        )
        conn.execute(
            text("INSERT INTO instrument_info (symbol, asset_class) VALUES ('BTC', 'CRYPTO')")
        )
        rows = [
            {"symbol": symbol, "date": day.date(), "close": float(value)}
            for symbol in closes.columns
            for day, value in closes[symbol].items()
            if not np.isnan(value)
        ]
        rows += [{"symbol": "BTC", "date": day.date(), "close": 1.0} for day in SESSIONS]
        conn.execute(
            text(
                "INSERT INTO prices_daily (symbol, date, open, high, low, close, adj_close, "
                "volume, source) VALUES (:symbol, :date, :close, :close, :close, :close, :close, "
                "1000, 't')"
            ),
            rows,
        )
    return engine


def test_refresh_breadth_writes_values_equal_to_pure_computation(
    market: Engine, uow: SqlUnitOfWork
) -> None:
    start, end = date(2023, 12, 1), SESSIONS[-1].date()
    result = refresh_breadth(uow, scope="US_ALL", start=start, end=end)
    stored = read_breadth(uow, scope="US_ALL", start=start, end=end)
    expected = breadth_metrics(_closes(), SECTORS)
    expected = expected[expected["date"] >= pd.Timestamp(start)]
    expected_wide = expected.pivot(index="date", columns="metric", values="value").round(4)
    assert result.symbols == 4  # the crypto instrument is outside US_ALL
    assert result.rows == expected["value"].notna().sum()
    assert set(stored.columns) == {
        "advance_decline_ratio",
        "new_highs_lows",
        "pct_above_200dma",
        "sector_rotation:Energy",
        "sector_rotation:Technology",
    }
    pd.testing.assert_frame_equal(
        stored, expected_wide, check_names=False, check_freq=False, check_index_type=False
    )


def test_refresh_breadth_when_rerun_is_unchanged_and_later_bars_do_not_move_earlier_values(
    market: Engine, uow: SqlUnitOfWork
) -> None:
    start, end = SESSIONS[280].date(), SESSIONS[-1].date()
    refresh_breadth(uow, start=start, end=end)
    again = refresh_breadth(uow, start=start, end=end)
    before = read_breadth(uow, start=start, end=SESSIONS[300].date())
    later_before = read_breadth(uow, start=SESSIONS[301].date(), end=end)
    with market.begin() as conn:
        conn.execute(
            text("UPDATE prices_daily SET adj_close = adj_close * 3 WHERE date > :day"),
            {"day": SESSIONS[300].date()},
        )
    refresh_breadth(uow, start=start, end=end)
    after = read_breadth(uow, start=start, end=SESSIONS[300].date())
    later = read_breadth(uow, start=SESSIONS[301].date(), end=end)
    assert (again.inserted, again.updated, again.deleted) == (0, 0, 0)
    pd.testing.assert_frame_equal(before, after)
    assert not later.equals(later_before)


def test_refresh_breadth_for_universe_scope_uses_its_members(
    market: Engine, uow: SqlUnitOfWork
) -> None:
    universes.create_universe(uow, "tech", symbols=["AAA", "BBB"])
    frame = compute_breadth(uow, scope="tech", start=SESSIONS[-5].date(), end=SESSIONS[-1].date())
    expected = breadth_metrics(_closes()[["AAA", "BBB"]], SECTORS)
    expected = expected[expected["date"] >= SESSIONS[-5]].reset_index(drop=True)
    pd.testing.assert_frame_equal(frame, expected)


def test_refresh_breadth_when_scope_unknown_raises(market: Engine, uow: SqlUnitOfWork) -> None:
    with pytest.raises(DataError, match="'S&P500' does not exist"):
        refresh_breadth(uow, scope="S&P500", start=date(2024, 1, 1), end=date(2024, 1, 31))


def test_breadth_cli_writes_rows_for_the_scope(
    market: Engine, app: App, uow: SqlUnitOfWork
) -> None:
    from typer.testing import CliRunner

    from stocker.cli import app as cli

    arguments = ["data", "breadth", "--scope", "US_ALL", "--start", "2024-03-01"]
    result = CliRunner().invoke(cli, [*arguments, "--end", "2024-03-29"], obj=app)
    assert result.exit_code == 0, result.output
    stored = read_breadth(uow, start=date(2024, 3, 1), end=date(2024, 3, 29))
    march = (SESSIONS >= "2024-03-01") & (SESSIONS <= "2024-03-29")
    assert len(stored) == march.sum()
    assert stored["pct_above_200dma"].between(0, 100).all()
