"""Maintaining `price_returns` from adjusted closes, incrementally, on real PostgreSQL."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import numpy as np
import pandas as pd
import pytest
from sqlalchemy import Engine, text
from typer.testing import CliRunner

from stocker.bootstrap import App
from stocker.cli import app as cli_app
from stocker.data.corporate_actions import apply_new_actions, readjust
from stocker.data.price_returns import refresh_price_returns

SESSIONS = pd.bdate_range("2024-01-02", periods=60).date
MISSING_BBB_BAR = SESSIONS[20]


def _bars(symbol: str, seed: int) -> list[dict]:
    rng = np.random.default_rng(seed)
    closes = 50.0 * np.exp(np.cumsum(rng.normal(0, 0.02, len(SESSIONS))))
    return [
        {"symbol": symbol, "date": day, "close": Decimal(f"{close:.4f}")}
        for day, close in zip(SESSIONS, closes, strict=True)
        if not (symbol == "BBB" and day == MISSING_BBB_BAR)
    ]


def _insert_bars(conn, bars: list[dict]) -> None:
    conn.execute(
        text(
            "INSERT INTO prices_daily (symbol, date, open, high, low, close, adj_close, volume, "
            "source) VALUES (:symbol, :date, :close, :close, :close, :close, :close, 100, 'test')"
        ),
        bars,
    )


def _stored_returns(conn) -> dict[tuple[str, date], float]:
    rows = conn.execute(text('SELECT symbol, date, "return" FROM price_returns'))
    return {(symbol, day): value for symbol, day, value in rows}


def _expected_returns(conn) -> dict[tuple[str, date], float]:
    """Each bar's adj_close over the symbol's previous bar's, read and divided here."""
    rows = conn.execute(
        text("SELECT symbol, date, adj_close FROM prices_daily ORDER BY symbol, date")
    ).all()
    expected = {}
    for (symbol, day, adj), (previous_symbol, _, previous_adj) in zip(rows[1:], rows, strict=False):
        if symbol == previous_symbol:
            expected[(symbol, day)] = float(adj) / float(previous_adj) - 1
    return expected


@pytest.fixture
def market(engine: Engine) -> Engine:
    """AAA and BBB with 60 bars each (BBB lacks one), loaded as of day 40 only."""
    with engine.begin() as conn:
        for symbol in ("AAA", "BBB"):
            conn.execute(text("INSERT INTO instrument_info (symbol) VALUES (:s)"), {"s": symbol})
        _insert_bars(
            conn, [bar for bar in _bars("AAA", 1) + _bars("BBB", 2) if bar["date"] <= SESSIONS[39]]
        )
    return engine


def _load_rest(engine: Engine) -> None:
    with engine.begin() as conn:
        _insert_bars(
            conn, [bar for bar in _bars("AAA", 1) + _bars("BBB", 2) if bar["date"] > SESSIONS[39]]
        )


def test_refresh_incremental_equals_full_recompute_and_independent_division(market, uow):
    first = refresh_price_returns(uow)
    _load_rest(market)
    second = refresh_price_returns(uow)
    with market.connect() as conn:
        incremental = _stored_returns(conn)
    full = refresh_price_returns(uow, full=True)
    with market.connect() as conn:
        expected = _expected_returns(conn)
    assert first.computed == 39 + 38  # BBB lacks one bar before day 40
    assert second.recomputed == ()
    assert second.computed == 2 * 20  # only the new bars
    assert second.first_date == {"AAA": SESSIONS[40], "BBB": SESSIONS[40]}
    assert full.recomputed == ("AAA", "BBB")
    assert full.inserted == full.updated == full.deleted == 0  # full agrees with incremental
    assert incremental.keys() == expected.keys()
    assert len(incremental) == 59 + 58
    for key, value in expected.items():
        assert incremental[key] == pytest.approx(value, rel=1e-12, abs=1e-15)
    # BBB's return after its missing bar spans back to its previous bar.
    day_after = SESSIONS[21]
    assert ("BBB", MISSING_BBB_BAR) not in incremental
    assert incremental[("BBB", day_after)] == pytest.approx(expected[("BBB", day_after)])


def test_refresh_when_nothing_new_computes_nothing(market, uow):
    refresh_price_returns(uow)
    again = refresh_price_returns(uow)
    assert again.computed == 0
    assert again.inserted == again.updated == 0


def test_readjust_then_refresh_updates_earlier_returns(market, uow):
    _load_rest(market)
    refresh_price_returns(uow)
    with market.connect() as conn:
        before = _stored_returns(conn)
    ex_date = SESSIONS[30]
    dividend = pd.DataFrame(
        [{"symbol": "AAA", "date": ex_date, "action_type": "DIVIDEND", "value": "1.25"}]
    )
    applied = apply_new_actions(uow, dividend)
    report = refresh_price_returns(uow)
    with market.connect() as conn:
        after = _stored_returns(conn)
        expected = _expected_returns(conn)
    assert applied.adjustment.first_changed == {"AAA": SESSIONS[0]}
    assert report.recomputed == ("AAA",)  # found out of step; BBB stays incremental
    assert report.updated >= 1
    assert after.keys() == expected.keys()
    for key, value in expected.items():
        assert after[key] == pytest.approx(value, rel=1e-12, abs=1e-15)
    # The ex-date's return now includes the dividend: it rose by about 1.25 / previous close.
    previous_close = float(_bars("AAA", 1)[29]["close"])
    gain = after[("AAA", ex_date)] - before[("AAA", ex_date)]
    assert gain == pytest.approx(
        1.25 / (previous_close - 1.25) * (1 + before[("AAA", ex_date)]), rel=1e-3
    )
    assert all(after[key] == before[key] for key in before if key[0] == "BBB")


def test_refresh_when_stored_return_corrupted_or_bar_removed_repairs_history(market, uow):
    _load_rest(market)
    refresh_price_returns(uow)
    with market.begin() as conn:
        conn.execute(
            text("""UPDATE price_returns SET "return" = 0.5 WHERE date = :d"""), {"d": SESSIONS[5]}
        )
        conn.execute(
            text("DELETE FROM prices_daily WHERE symbol = 'AAA' AND date = :d"), {"d": SESSIONS[10]}
        )
    report = refresh_price_returns(uow)
    with market.connect() as conn:
        stored = _stored_returns(conn)
        expected = _expected_returns(conn)
    assert report.recomputed == ("AAA", "BBB")
    assert report.deleted == 1  # AAA's return on the removed bar
    assert stored.keys() == expected.keys()
    for key, value in expected.items():
        assert stored[key] == pytest.approx(value, rel=1e-12, abs=1e-15)


def test_refresh_with_since_recomputes_from_that_date(market, uow):
    _load_rest(market)
    refresh_price_returns(uow, ["AAA"])
    report = refresh_price_returns(uow, ["AAA"], since=SESSIONS[55])
    assert report.symbols == ("AAA",)
    assert report.computed == 5
    assert report.first_date == {"AAA": SESSIONS[55]}
    assert report.inserted == report.updated == 0


def test_refresh_after_readjust_of_all_symbols_matches_adjusted_closes(market, uow):
    _load_rest(market)
    with market.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO corporate_actions (symbol, date, action_type, value) "
                "VALUES ('BBB', :d, 'SPLIT', 3)"
            ),
            {"d": SESSIONS[45]},
        )
    readjust(uow)
    refresh_price_returns(uow)
    with market.connect() as conn:
        stored = _stored_returns(conn)
        expected = _expected_returns(conn)
    for key, value in expected.items():
        assert stored[key] == pytest.approx(value, rel=1e-12, abs=1e-15)


def test_returns_command_computes_only_the_new_returns_on_a_second_run(market, app: App):
    from typer.testing import CliRunner

    from stocker.cli import app as cli

    runner = CliRunner()
    first = runner.invoke(cli, ["data", "returns"], obj=app)
    _load_rest(market)
    second = runner.invoke(cli, ["data", "returns", "--symbols", "aaa"], obj=app)

    assert first.exit_code == 0 and second.exit_code == 0, first.output + second.output
    with market.connect() as conn:
        stored = _stored_returns(conn)
        expected = _expected_returns(conn)
    assert {key for key in stored if key[0] == "AAA"} == {k for k in expected if k[0] == "AAA"}
    assert max(key[1] for key in stored if key[0] == "BBB") == SESSIONS[39]
    counts = second.output.splitlines()[-2]  # the counts row of the table
    # symbols, recomputed, computed: one symbol, nothing recomputed, only its 20 new sessions
    assert [int(cell) for cell in counts.split("│")[1:4]] == [1, 0, 20]


def test_refresh_of_a_symbol_without_prices_says_so_and_exits_non_zero(
    app: App, market: Engine
) -> None:
    runner = CliRunner()
    unknown = runner.invoke(cli_app, ["data", "returns", "--symbols", "NOPE"], obj=app)
    assert unknown.exit_code != 0
    assert "unknown symbol(s) NOPE" in unknown.output and "stocker data ingest" in unknown.output
    with market.begin() as conn:
        conn.execute(text("INSERT INTO instrument_info (symbol) VALUES ('IDLE')"))
    idle = runner.invoke(cli_app, ["data", "returns", "--symbols", "IDLE"], obj=app)
    assert idle.exit_code != 0 and "no daily prices for IDLE" in idle.output
