"""A small synthetic market and a portfolio on it, for report, comparison and sweep tests."""

from __future__ import annotations

import numpy as np
import pandas as pd
from sqlalchemy import Engine, text

from stocker.data.universes import create_universe
from stocker.lab.construction import StoredConstraints, create_portfolio
from stocker.store.uow import SqlUnitOfWork

SECTORS = {"AAA": "Technology", "BBB": "Technology", "CCC": "Energy", "DDD": "Health Care"}
BENCHMARK = "IDX"
DATES = pd.bdate_range("2023-01-02", periods=400)
START = DATES[260].date()
END = DATES[-1].date()
CODE = "analytics"


def load_market(uow: SqlUnitOfWork, engine: Engine) -> None:
    """Prices of four stocks and a benchmark, a group of the four and a portfolio on it."""
    rng = np.random.default_rng(11)
    symbols = {**SECTORS, BENCHMARK: None}
    instruments = pd.DataFrame(
        {
            "symbol": list(symbols),
            "name": list(symbols),
            "sector": list(symbols.values()),
            "asset_class": "US_EQUITY",
            "currency": "USD",
            "active": True,
            "source": "test",
        }
    )
    frames = []
    for number, symbol in enumerate(symbols):
        close = 100 * np.exp(np.cumsum(rng.normal(0.0004, 0.008 + 0.002 * number, len(DATES))))
        frames.append(
            pd.DataFrame(
                {
                    "symbol": symbol,
                    "date": DATES.date,
                    "open": close,
                    "high": close * 1.02,
                    "low": close * 0.97,
                    "close": close,
                    "adj_close": close,
                    "volume": 1000,
                    "source": "test",
                }
            )
        )
    with uow:
        uow.derived.upsert("instrument_info", instruments)
        uow.derived.upsert("prices_daily", pd.concat(frames, ignore_index=True))
        uow.commit()
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
