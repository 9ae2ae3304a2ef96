"""Walk-forward backtests on real PostgreSQL: stored outputs, no look-ahead, rule 4, 11.11."""

from __future__ import annotations

import importlib.util
import json
from datetime import date, timedelta
from pathlib import Path
from types import ModuleType

import numpy as np
import pandas as pd
import pytest
from sqlalchemy import Engine, text
from typer.testing import CliRunner

from stocker.bootstrap import App
from stocker.cli import app as cli
from stocker.core.backtest import backtest
from stocker.core.errors import DataError, InfeasibleError
from stocker.data.universes import create_universe
from stocker.lab.backtests import list_runs, read_holdings, read_run, run_backtest
from stocker.lab.construction import StoredConstraints, create_portfolio
from stocker.store.uow import SqlUnitOfWork

from .backtest_market import store_market

pytestmark = pytest.mark.integration

SECTORS = {
    "AAA": "Technology",
    "BBB": "Technology",
    "CCC": "Technology",
    "DDD": "Energy",
    "EEE": "Energy",
    "FFF": "Health Care",
    "GGG": "Health Care",
}
FOUNDERS = ["AAA", "BBB", "CCC", "DDD", "EEE", "FFF"]
DATES = pd.bdate_range("2023-01-02", periods=420)
START = DATES[260].date()
END = DATES[-1].date()
GROUP = "seven"
CODE = "walk"
TURNOVER = 0.6
SOLVER = 1e-8
"""The optimizer's reproducibility: OSQP warm-starts from the previous solve, so solving the
same problem twice agrees to about 1e-9 (6e-10 measured), not to the last bit."""


def _engine_reference() -> ModuleType:
    """The engine's own day-by-day reference (tests/unit/core/backtest/test_engine.py)."""
    path = Path(__file__).parents[2] / "unit" / "core" / "backtest" / "test_engine.py"
    spec = importlib.util.spec_from_file_location("engine_reference", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _load_market(uow: SqlUnitOfWork) -> None:
    rng = np.random.default_rng(7)
    closes, opens = {}, {}
    for number, symbol in enumerate(SECTORS):
        closes[symbol] = 100 * np.exp(
            np.cumsum(rng.normal(0.0003, 0.006 + 0.003 * number, len(DATES)))
        )
        opens[symbol] = closes[symbol] * rng.uniform(0.99, 1.01, len(DATES))
    exposures = pd.DataFrame(
        [
            {"symbol": symbol, "as_of_date": day.date(), "value": rng.normal()}
            for day in DATES[::21]
            for symbol in SECTORS
        ]
    )
    store_market(uow, SECTORS, DATES, closes, high=1.02, low=0.97, opens=opens)
    with uow:
        uow.derived.upsert("factor_exposures", exposures)
        uow.commit()


@pytest.fixture
def market(uow: SqlUnitOfWork, engine: Engine) -> SqlUnitOfWork:
    _load_market(uow)
    create_universe(uow, GROUP, symbols=FOUNDERS, ranked=True)
    with engine.begin() as conn:  # the group was founded when the prices start
        conn.execute(text("UPDATE instrument_universe_member SET created_at = '2023-01-02'"))
    create_portfolio(
        uow,
        CODE,
        group=GROUP,
        method="min_variance",
        constraints=StoredConstraints(
            max_weight=0.4,
            turnover_limit=TURNOVER,
            sector_caps={"Technology": 0.5},
            factor_bounds={"value": (-1.5, 1.5)},
        ),
    )
    return uow


def test_run_when_completed_stores_the_engine_nav_which_equals_the_reference(
    market: SqlUnitOfWork,
) -> None:
    run = run_backtest(market, CODE, start=START, end=END, cost_bps=10, cost_per_share=0.01)

    assert run.status == "COMPLETED" and run.result is not None and run.schedule is not None
    engine_nav = run.result.nav.to_numpy()
    stored = read_run(market, run.id)
    # backtest_timeseries.nav is NUMERIC(18, 4): the engine's NAV rounded to 4 decimals.
    np.testing.assert_allclose(stored.nav.to_numpy(), np.round(engine_nav, 4), rtol=0, atol=1e-9)
    reference = _engine_reference().reference_nav(
        run.result.prices,
        run.schedule,
        cost_bps=10,
        cost_per_share=0.01,
        min_commission=0.0,
        execution="close",
        opens=run.result.prices,
        initial_capital=1_000_000.0,
    )
    np.testing.assert_allclose(engine_nav, reference, rtol=1e-10, atol=0)
    again = backtest(run.result.prices, run.schedule, cost_bps=10, cost_per_share=0.01)
    assert np.array_equal(again.nav.to_numpy(), engine_nav)
    config = stored.run.config
    assert config["code_version"] and len(config["data_version"]) == 16
    assert config["constraints"]["turnover_limit"] == TURNOVER
    assert len(run.schedule) == 8 and stored.run.rebalance_frequency == "MONTHLY"
    assert stored.run.transaction_cost == pytest.approx(0.001)
    # Turnover limit against the drifted previous weights: each rebalance after the first.
    held = run.result.weights
    for before, after in zip(run.schedule.index[:-1], run.schedule.index[1:], strict=True):
        drifted = held.loc[:after].iloc[-1]
        assert 0.5 * np.abs(run.schedule.loc[after] - drifted).sum() <= TURNOVER + 1e-5, before
    trades = stored.trades
    assert set(trades["rebalance_date"]) == {day.date() for day in run.schedule.index}
    assert (trades["transaction_cost"] > 0).all()
    assert len(read_holdings(market, run.id)) == int((run.result.holdings != 0).to_numpy().sum())
    factors = stored.factor_exposures
    invested = (run.result.holdings != 0).any(axis=1).to_numpy()
    assert np.array_equal(factors["value"].notna().to_numpy(), invested) and invested.any()
    assert factors["quality"].isna().all()  # none stored: null
    assert [r.id for r in list_runs(market)] == [run.id]


def test_spec_sector_query_when_run_unchanged_matches_the_sector_exposures(
    market: SqlUnitOfWork, engine: Engine
) -> None:
    run = run_backtest(market, CODE, start=START, end=END, rebalance="weekly")
    day = run.schedule.index[3].date() if run.schedule is not None else START

    with engine.connect() as conn:
        rows = conn.execute(
            text(
                "SELECT sector, SUM(weight)\nFROM backtest_holdings\nWHERE date = :d\n"
                "GROUP BY sector"
            ),
            {"d": day},
        ).fetchall()
    by_query = {str(sector): float(weight) for sector, weight in rows}
    exposures = run.sector_exposures[run.sector_exposures["date"] == day]
    assert by_query == pytest.approx(
        dict(zip(exposures["sector"], exposures["weight"], strict=True)), abs=1e-12
    )
    assert sum(by_query.values()) == pytest.approx(1.0, abs=1e-9)
    assert by_query.get("Technology", 0.0) <= 0.5 + 1e-6  # D's close holds D's targets


def _mutate_after(engine: Engine, day: date, rng: np.random.Generator) -> None:
    """Change every price and exposure after `day`; a member joins and one leaves after it."""
    later = day + timedelta(days=1)
    with engine.begin() as conn:
        conn.execute(
            text(
                "UPDATE prices_daily p SET open = open * r.f, high = high * r.f, "
                "low = low * r.f, close = close * r.f, adj_close = adj_close * r.f FROM "
                "(SELECT id, CAST(0.8 + 0.4 * random() AS NUMERIC) AS f FROM prices_daily "
                "WHERE date > :d) r WHERE p.id = r.id"
            ),
            {"d": day},
        )
        conn.execute(
            text("UPDATE factor_exposures SET value = :v * value WHERE as_of_date > :d"),
            {"d": day, "v": float(rng.uniform(0.5, 1.5))},
        )
        group = conn.execute(
            text("SELECT id FROM instrument_universe WHERE name = :g"), {"g": GROUP}
        ).scalar_one()
        conn.execute(
            text(
                "INSERT INTO instrument_universe_member (universe_id, symbol, created_at) "
                "VALUES (:g, 'GGG', :t) ON CONFLICT (universe_id, symbol) DO UPDATE "
                "SET created_at = EXCLUDED.created_at"
            ),
            {"g": group, "t": later},
        )
        conn.execute(
            text(
                "UPDATE instrument_universe_member SET is_deleted = TRUE, updated_at = :t "
                "WHERE universe_id = :g AND symbol = 'FFF'"
            ),
            {"g": group, "t": later},
        )


def test_weights_on_each_rebalance_when_later_data_change_stay_the_same(
    market: SqlUnitOfWork, engine: Engine
) -> None:
    baseline = run_backtest(market, CODE, start=START, end=END)
    assert baseline.schedule is not None
    rng = np.random.default_rng(3)
    changed = 0
    for day in reversed(baseline.schedule.index[:-1]):
        _mutate_after(engine, day.date(), rng)
        mutated = run_backtest(market, CODE, start=START, end=END)
        assert mutated.schedule is not None
        columns = mutated.schedule.columns  # GGG, which joins later, is 0 up to `day`
        expected = baseline.schedule.reindex(columns=columns, fill_value=0.0)
        pd.testing.assert_frame_equal(
            mutated.schedule.loc[:day], expected.loc[:day], check_exact=False, rtol=0, atol=SOLVER
        )
        later = (mutated.schedule - expected).loc[day:].iloc[1:]
        changed += int(later.abs().to_numpy().max() > 1e-4)
    assert changed == len(baseline.schedule) - 1  # the mutations did reach later decisions


def test_next_open_when_day_t_close_changes_leaves_every_fill_up_to_t(
    market: SqlUnitOfWork, engine: Engine
) -> None:
    before = run_backtest(
        market, CODE, start=START, end=END, rebalance="weekly", execution="next_open"
    )
    assert before.result is not None and before.schedule is not None
    day = before.schedule.index[5]
    with engine.begin() as conn:  # the close moves, the open does not
        conn.execute(
            text(
                "UPDATE prices_daily SET close = close * 1.2, adj_close = adj_close * 1.2, "
                "high = GREATEST(high, close * 1.2) WHERE date = :d"
            ),
            {"d": day.date()},
        )
    after = run_backtest(
        market, CODE, start=START, end=END, rebalance="weekly", execution="next_open"
    )
    assert after.result is not None

    def fills(run_trades: pd.DataFrame, after: bool = False) -> pd.DataFrame:
        """Value traded per (fill date, symbol). The optimizer reproduces weights to ~1e-9 (see
        SOLVER), i.e. ~1e-3 of value on a 1e6 NAV, hence the tolerance (5e-8 of the NAV)."""
        chosen = run_trades[(run_trades["date"] > day) if after else (run_trades["date"] <= day)]
        table = chosen.pivot_table(index="date", columns="symbol", values="notional", aggfunc="sum")
        return table.fillna(0.0).sort_index(axis=1)

    expected = fills(before.result.trades)
    found = fills(after.result.trades).reindex_like(expected).fillna(0.0)
    np.testing.assert_allclose(found.to_numpy(), expected.to_numpy(), rtol=0, atol=5 * SOLVER * 1e6)
    assert len(expected) > 0
    later = fills(after.result.trades, after=True)
    assert not np.allclose(
        later.reindex_like(fills(before.result.trades, after=True)).fillna(0.0).to_numpy(),
        fills(before.result.trades, after=True).to_numpy(),
        rtol=0,
        atol=1.0,
    )


def test_run_when_prices_are_missing_refuses_and_names_them(
    market: SqlUnitOfWork, engine: Engine
) -> None:
    dates = run_backtest(market, CODE, start=START, end=END).schedule
    assert dates is not None
    gaps = [("DDD", dates.index[2].date()), ("AAA", dates.index[4].date())]
    with engine.begin() as conn:
        for symbol, day in gaps:
            conn.execute(
                text("DELETE FROM prices_daily WHERE symbol = :s AND date = :d"),
                {"s": symbol, "d": day},
            )

    with pytest.raises(DataError, match="data incomplete") as caught:
        run_backtest(market, CODE, start=START, end=END)
    for symbol, day in gaps:
        assert f"{symbol} {day}" in str(caught.value)
    assert "missing 2:" in str(caught.value)
    assert len(list_runs(market)) == 1  # nothing queued


def _invoke(app: App, *arguments: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, list(arguments), obj=app, env={"COLUMNS": "200"})
    return result.exit_code, result.output


def test_cli_run_list_show_when_json_asked_print_parseable_documents(
    app: App, market: SqlUnitOfWork
) -> None:
    code, output = _invoke(
        app, "backtest", "run", CODE, "--start", str(START), "--end", str(END), "--cost-bps",
        "10", "--execution", "next_open", "--json",
    )  # fmt: skip
    assert code == 0, output
    document = json.loads(output)
    assert document["status"] == "COMPLETED" and document["config"]["execution"] == "next_open"
    assert set(document["metrics"]) >= {"cagr", "sharpe", "max_drawdown", "var_95"}
    code, output = _invoke(app, "backtest", "list", "--json")
    assert code == 0 and json.loads(output)[0]["id"] == document["id"]
    code, output = _invoke(app, "backtest", "show", str(document["id"]), "--json")
    assert code == 0 and json.loads(output)["metrics"] == document["metrics"]
    code, output = _invoke(app, "backtest", "show", str(document["id"]))
    assert code == 0 and "sharpe" in output
    code, output = _invoke(app, "backtest", "show", "999999")
    assert code != 0 and "no run 999999" in output


def test_run_when_the_optimizer_fails_is_stored_as_failed_with_the_error(
    market: SqlUnitOfWork,
) -> None:
    create_portfolio(
        market,
        "impossible",
        group=GROUP,
        method="min_variance",
        constraints=StoredConstraints(factor_bounds={"value": (5.0, 6.0)}),
    )

    with pytest.raises(InfeasibleError):
        run_backtest(market, "impossible", start=START, end=END)
    (failed,) = list_runs(market, portfolio_code="impossible")
    assert failed.status == "FAILED" and failed.finished_at is not None
    assert failed.error is not None and "value" in failed.error


def test_whole_shares_when_run_hold_whole_shares_and_the_stored_trades_add_up(
    market: SqlUnitOfWork,
) -> None:
    run = run_backtest(
        market, CODE, start=START, end=END, shares="whole", cost_bps=5, initial_capital=250_000
    )

    assert run.result is not None
    holdings = read_holdings(market, run.id)
    assert np.array_equal(holdings["shares"], np.round(holdings["shares"]))
    last = holdings[holdings["date"] == holdings["date"].max()].set_index("symbol")["shares"]
    traded = run.trades.groupby("symbol")["shares_delta"].sum()
    assert last.to_dict() == traded[traded != 0].to_dict()
    assert run.run.initial_capital == 250_000 and run.run.config["shares"] == "whole"
