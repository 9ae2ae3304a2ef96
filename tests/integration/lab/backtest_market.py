"""The lab's synthetic markets: the instrument and price rows every lab test stores (each test draws
its own closes), and one small market with a portfolio on it, for report, comparison and sweep
tests. Shared by `from .backtest_market import …` (tests are not a package, pytest imports them
with importlib) or by path."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import date

import numpy as np
import pandas as pd
from sqlalchemy import Connection, Engine, text

from stocker.data.universes import create_universe
from stocker.lab.construction import StoredConstraints, create_portfolio
from stocker.store.uow import SqlUnitOfWork

SECTORS = {"AAA": "Technology", "BBB": "Technology", "CCC": "Energy", "DDD": "Health Care"}
BENCHMARK = "IDX"
DATES = pd.bdate_range("2023-01-02", periods=400)
START = DATES[260].date()
END = DATES[-1].date()
CODE = "analytics"


def instruments(sectors: Mapping[str, str | None]) -> pd.DataFrame:
    """instrument_info rows: each symbol named after itself, a US equity in dollars, active."""
    return pd.DataFrame(
        {
            "symbol": list(sectors),
            "name": list(sectors),
            "sector": list(sectors.values()),
            "asset_class": "US_EQUITY",
            "currency": "USD",
            "active": True,
            "source": "test",
        }
    )


def prices(
    dates: pd.DatetimeIndex,
    closes: Mapping[str, np.ndarray],
    *,
    high: float = 1.0,
    low: float = 1.0,
    opens: Mapping[str, np.ndarray] | None = None,
) -> pd.DataFrame:
    """prices_daily rows from each symbol's closes: high and low a fixed multiple of the close,
    the open the close unless given, the adjusted close the close."""
    return pd.concat(
        [
            pd.DataFrame(
                {
                    "symbol": symbol,
                    "date": dates.date,
                    "open": close if opens is None else opens[symbol],
                    "high": close * high,
                    "low": close * low,
                    "close": close,
                    "adj_close": close,
                    "volume": 1000,
                    "source": "test",
                }
            )
            for symbol, close in closes.items()
        ],
        ignore_index=True,
    )


def store_market(
    uow: SqlUnitOfWork,
    sectors: Mapping[str, str | None],
    dates: pd.DatetimeIndex | None = None,
    closes: Mapping[str, np.ndarray] | None = None,
    *,
    high: float = 1.0,
    low: float = 1.0,
    opens: Mapping[str, np.ndarray] | None = None,
) -> None:
    """Stores the instruments and, when closes are given, their prices (see `prices`)."""
    with uow:
        uow.derived.upsert("instrument_info", instruments(sectors))
        if closes is not None:
            assert dates is not None, "closes need their dates"
            uow.derived.upsert(
                "prices_daily", prices(dates, closes, high=high, low=low, opens=opens)
            )
        uow.commit()


def insert_market_caps(conn: Connection, rows: Iterable[tuple[str, date, float]]) -> None:
    """`instrument_metrics` snapshots (symbol, as_of_date, market_cap): what Black–Litterman's
    prior reads."""
    conn.execute(
        text("INSERT INTO instrument_metrics (symbol, as_of_date, period_type, source, "
             "market_cap) VALUES (:s, :d, 'TTM', 'test', :c)"),
        [{"s": symbol, "d": day, "c": cap} for symbol, day, cap in rows],
    )  # fmt: skip


def store_market_caps(engine: Engine, day: date, caps: Mapping[str, float]) -> None:
    """One market-cap snapshot of each symbol, known on `day`."""
    with engine.begin() as conn:
        insert_market_caps(conn, [(symbol, day, cap) for symbol, cap in caps.items()])


def store_scores(uow: SqlUnitOfWork, day: date, scores: Mapping[str, float]) -> None:
    """One factor snapshot on `day` with only composite scores (what factor-implied returns
    read); the other factors are missing."""
    nan = [np.nan] * len(scores)
    with uow:
        uow.factors.replace_exposures(
            day,
            pd.DataFrame(
                {"symbol": list(scores), "composite_score": list(scores.values())}
                | {name: nan for name in ("value", "quality", "momentum", "low_vol", "size")}
            ),
        )
        uow.commit()


def load_market(uow: SqlUnitOfWork, engine: Engine) -> None:
    """Prices of four stocks and a benchmark, a group of the four and a portfolio on it."""
    rng = np.random.default_rng(11)
    symbols = {**SECTORS, BENCHMARK: None}
    closes = {
        symbol: 100 * np.exp(np.cumsum(rng.normal(0.0004, 0.008 + 0.002 * number, len(DATES))))
        for number, symbol in enumerate(symbols)
    }
    store_market(uow, symbols, DATES, closes, high=1.02, low=0.97)
    create_universe(uow, "four", symbols=list(SECTORS), ranked=True)
    with engine.begin() as conn:  # the group was founded when the prices start
        conn.execute(text("UPDATE instrument_universe_member SET created_at = '2023-01-02'"))
    create_portfolio(
        uow,
        CODE,
        group="four",
        method="min_variance",
        constraints=StoredConstraints(max_weight=0.5),
    )
