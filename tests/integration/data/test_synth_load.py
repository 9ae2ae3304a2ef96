"""Storing a synthetic market on real PostgreSQL: every table lands as generated, a reload
changes nothing, the stored adjusted closes agree with the stored actions, and a market made
with other parameters is refused unless replaced."""

from __future__ import annotations

import re
from datetime import date

import numpy as np
import pandas as pd
import pytest
from sqlalchemy import Engine, text
from typer.testing import CliRunner

from stocker.bootstrap import App
from stocker.cli import app as cli
from stocker.core.errors import DataError
from stocker.data.corporate_actions import readjust
from stocker.data.synthetic import load_synthetic_market, synthetic_sessions
from stocker.sample import generate_market
from stocker.store.uow import SqlUnitOfWork

TABLES = ("instrument_info", "prices_daily", "corporate_actions", "instrument_metrics")


def _count(engine: Engine, table: str) -> int:
    with engine.connect() as conn:
        return int(conn.execute(text(f"SELECT count(*) FROM {table}")).scalar_one())


def test_synthetic_load_stores_every_table_as_generated(engine: Engine, uow: SqlUnitOfWork) -> None:
    report = load_synthetic_market(uow, symbols=20, years=2, seed=5, chunk_rows=3_000)

    sessions = synthetic_sessions("XNYS", date(2000, 1, 3), 2)
    market = generate_market(20, sessions, 5)
    for table, frame in market.tables().items():
        assert _count(engine, table) == len(frame) > 0
        assert report.tables[table].inserted == len(frame)
    assert report.sessions == len(sessions)
    assert (report.first_date, report.last_date) == (date(2000, 1, 3), date(2002, 1, 2))
    with engine.connect() as conn:
        stored = pd.read_sql(
            text(
                "SELECT symbol, date, open::float8, high::float8, low::float8, close::float8, "
                "adj_close::float8, volume FROM prices_daily ORDER BY symbol, date"
            ),
            conn,
        )
        fundamentals = pd.read_sql(
            text(
                "SELECT symbol, as_of_date, period_end, revenue::float8 "
                "FROM instrument_metrics ORDER BY symbol, as_of_date"
            ),
            conn,
        )
    expected = market.prices
    for column in ("open", "high", "low", "close", "adj_close", "volume"):
        np.testing.assert_array_equal(stored[column].to_numpy(), expected[column].to_numpy())
    reported_after = pd.to_datetime(fundamentals["as_of_date"]) > pd.to_datetime(
        fundamentals["period_end"]
    )
    assert reported_after.all()
    np.testing.assert_allclose(
        fundamentals["revenue"], market.fundamentals["revenue"], rtol=0, atol=0.005
    )


def test_synthetic_load_when_reloaded_changes_nothing(engine: Engine, uow: SqlUnitOfWork) -> None:
    load_synthetic_market(uow, symbols=20, years=2, seed=5)

    again = load_synthetic_market(uow, symbols=20, years=2, seed=5)

    for table in TABLES:
        counts = again.tables[table]
        assert (counts.inserted, counts.updated) == (0, 0), table
        assert counts.unchanged == counts.received > 0


def test_synthetic_adj_close_is_what_readjusting_from_the_stored_actions_gives(
    engine: Engine, uow: SqlUnitOfWork
) -> None:
    load_synthetic_market(uow, symbols=20, years=4, seed=8)
    assert _count(engine, "corporate_actions") > 50

    report = readjust(uow)

    assert report.rows == _count(engine, "prices_daily")
    assert report.updated == 0


def test_synthetic_load_with_other_parameters_is_refused_unless_replaced(
    engine: Engine, uow: SqlUnitOfWork
) -> None:
    load_synthetic_market(uow, symbols=20, years=2, seed=1)

    with pytest.raises(DataError, match=r"synthetic:seed=1.*--replace"):
        load_synthetic_market(uow, symbols=10, years=2, seed=2)
    replaced = load_synthetic_market(uow, symbols=10, years=2, seed=2, replace=True)

    market = generate_market(10, synthetic_sessions("XNYS", date(2000, 1, 3), 2), 2)
    assert replaced.replaced_rows > 0
    assert _count(engine, "prices_daily") == len(market.prices)
    assert _count(engine, "corporate_actions") == len(market.corporate_actions)
    with engine.connect() as conn:
        sources = conn.execute(text("SELECT DISTINCT source FROM prices_daily")).scalars().all()
        inactive = conn.execute(
            text("SELECT count(*) FROM instrument_info WHERE NOT active")
        ).scalar_one()
    assert sources == ["synthetic:seed=2"]
    assert inactive == 10


def test_synth_command_stores_the_market_and_prints_a_summary(app: App, engine: Engine) -> None:
    arguments = ["data", "synth", "--symbols", "12", "--years", "1", "--seed", "3"]
    arguments += ["--start", "2010-01-04"]

    result = CliRunner().invoke(cli, arguments, obj=app)

    assert result.exit_code == 0, result.output
    assert "synthetic:seed=3" in result.output
    assert "2010-01-04" in result.output
    assert re.search(r"instrument_info\W+12\W+12\W+0\W+0", result.output), result.output
    assert _count(engine, "instrument_info") == 12
    assert _count(engine, "prices_daily") == 12 * len(
        synthetic_sessions("XNYS", date(2010, 1, 4), 1)
    )


def test_synth_command_with_an_unknown_calendar_fails_clearly(app: App) -> None:
    arguments = ["data", "synth", "--symbols", "2", "--years", "1", "--seed", "1"]

    result = CliRunner().invoke(cli, [*arguments, "--calendar", "XLON"], obj=app)

    assert result.exit_code == 2
    assert "calendar" in result.output and "XLON" in result.output
