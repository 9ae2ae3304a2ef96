"""The 11.11 query patterns, run unchanged (as parsed from the spec) against what the screener
stores: fundamentals snapshots and factor rows as the factor lab writes them, and a group saved
from a screen. `test_schema_sigmaqlab_spec.py` runs them against a hand-written seed; here the
rows come through the use cases, and each query must agree with the screen that produced them."""

from __future__ import annotations

import datetime as dt
import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pandas as pd
import pytest
from sqlalchemy import Engine, text

from stocker.lab.screener import ScreenResult, save_group, screen
from stocker.store.uow import SqlUnitOfWork

HERE = Path(__file__).resolve().parent
DAY = dt.date(2024, 1, 31)


def _load(path: Path) -> ModuleType:
    """A test helper module by path (tests are not a package)."""
    spec = importlib.util.spec_from_file_location(f"_{path.stem}", path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while it loads
    spec.loader.exec_module(module)
    return module


QUERIES = _load(HERE / "test_schema_sigmaqlab_spec.py").parse_query_patterns()
screen_data = _load(HERE.parent / "lab" / "screen_data.py")


@pytest.fixture
def saved(engine: Engine) -> tuple[ScreenResult, int]:
    """Four symbols with fundamentals and factors on DAY (and older rows), screened and saved."""
    screen_data.add_instruments(
        engine,
        [
            {"symbol": "AAA", "sector": "Technology"},
            {"symbol": "BBB", "sector": "Financials"},
            {"symbol": "CCC", "sector": "Technology"},
            {"symbol": "DDD", "sector": "Energy"},
        ],
    )
    rows = [("AAA", 25.0, 0.2), ("BBB", 10.0, 0.15), ("CCC", 40.0, 0.05), ("DDD", 8.0, 0.3)]
    screen_data.add_fundamentals(
        engine,
        [{"symbol": s, "as_of_date": DAY, "pe": pe, "roe": roe} for s, pe, roe in rows]
        + [{"symbol": s, "as_of_date": dt.date(2023, 12, 29), "pe": 99.0} for s, _, _ in rows],
    )
    factors = {
        "AAA": (0.5, 1.5, 0.9),
        "BBB": (1.2, -0.4, 0.3),
        "CCC": (-0.7, 0.9, 0.1),
        "DDD": (0.1, 0.2, 0.4),
    }
    screen_data.add_factors(
        engine,
        [
            {"symbol": s, "as_of_date": DAY, "value": v, "momentum": m, "composite_score": c}
            for s, (v, m, c) in factors.items()
        ]
        + [{"symbol": s, "as_of_date": dt.date(2023, 12, 29), "value": 9.0} for s in factors],
    )
    uow = SqlUnitOfWork(engine)
    result = screen(uow, "pe < 30 order by composite_score desc", day=DAY)
    group = save_group(uow, "cheap", result)
    return result, group.id


def test_spec_query_patterns_when_parsed_are_the_three_with_sql() -> None:
    assert sorted(QUERIES) == ["analytics", "optimizer", "screener"]


def test_screener_pattern_when_run_on_stored_rows_agrees_with_the_screen(
    engine: Engine, saved: tuple[ScreenResult, int]
) -> None:
    result, _ = saved
    with engine.connect() as conn:
        rows = conn.execute(text(QUERIES["screener"]), {"as_of_date": DAY}).all()

    found = {row.symbol: (float(row.pe), float(row.roe), row.value, row.momentum) for row in rows}
    assert sorted(found) == ["AAA", "BBB", "CCC", "DDD"]
    passing = sorted(s for s, (pe, *_rest) in found.items() if pe < 30)
    assert sorted(result.symbols) == passing
    frame = result.rows.set_index("symbol")
    for symbol in result.symbols:
        assert found[symbol] == tuple(frame.loc[symbol, ["pe", "roe", "value", "momentum"]])


def test_optimizer_pattern_when_given_the_saved_group_selects_its_factors(
    engine: Engine, saved: tuple[ScreenResult, int]
) -> None:
    result, group_id = saved
    with engine.connect() as conn:
        rows = (
            conn.execute(text(QUERIES["optimizer"]), {"rebalance_date": DAY, "group_id": group_id})
            .mappings()
            .all()
        )
        ranked = (
            conn.execute(
                text("SELECT symbol FROM group_members WHERE group_id = :g ORDER BY position"),
                {"g": group_id},
            )
            .scalars()
            .all()
        )

    assert list(ranked) == result.symbols == ["AAA", "DDD", "BBB"]
    assert sorted(row["symbol"] for row in rows) == sorted(result.symbols)
    assert {row["as_of_date"] for row in rows} == {DAY}
    frame = result.rows.set_index("symbol")
    assert {row["symbol"]: row["composite_score"] for row in rows} == frame[
        "composite_score"
    ].to_dict()


def test_analytics_pattern_when_the_group_is_held_sums_weights_by_screened_sector(
    engine: Engine, saved: tuple[ScreenResult, int]
) -> None:
    result, group_id = saved
    weight = 1 / len(result.symbols)
    with engine.begin() as conn:
        portfolio = conn.execute(
            text(
                "INSERT INTO portfolios (code, name, group_id, initial_capital)"
                " VALUES ('cheap', 'Cheap', :g, 100000) RETURNING id"
            ),
            {"g": group_id},
        ).scalar_one()
        backtest = conn.execute(
            text(
                "INSERT INTO backtest_runs (portfolio_id, start_date, end_date,"
                " rebalance_frequency, initial_capital) VALUES (:p, :d, :d, 'MONTHLY', 100000)"
                " RETURNING id"
            ),
            {"p": portfolio, "d": DAY},
        ).scalar_one()
        for row in result.rows.itertuples():
            conn.execute(
                text(
                    "INSERT INTO backtest_holdings (backtest_id, date, symbol, shares, weight,"
                    " sector) VALUES (:b, :d, :s, 10, :w, :sector)"
                ),
                {"b": backtest, "d": DAY, "s": row.symbol, "w": weight, "sector": row.sector},
            )
    with engine.connect() as conn:
        sums = dict(conn.execute(text(QUERIES["analytics"]), {"d": DAY}).all())

    expected = result.rows.assign(weight=weight).groupby("sector")["weight"].sum()
    assert sums == pytest.approx(expected.to_dict())
    assert set(sums) == set(pd.unique(result.rows["sector"]))
