"""Portfolio construction on real PostgreSQL: create → optimize → stored weights that sum to 1 and
keep every constraint; a date sees no later price; the turnover limit is measured against the
stored previous weights; refusals name what is missing; the CLI; the demo on the sample."""

from __future__ import annotations

import json
from datetime import date

import numpy as np
import pandas as pd
import pytest
from sqlalchemy import Engine, text
from typer.testing import CliRunner

from stocker.bootstrap import App
from stocker.cli import app as cli
from stocker.core.errors import DataError
from stocker.data.sample import load_sample
from stocker.data.universes import create_universe
from stocker.lab.construction import (
    StoredConstraints,
    create_portfolio,
    optimize_portfolio,
    show_portfolio,
)
from stocker.lab.demo_portfolio import DEMO_PORTFOLIO, TECHNOLOGY, demo_portfolio
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
}
# Technology is the quiet sector: minimum variance wants more of it than a cap allows.
DAILY_VOL = {"AAA": 0.006, "BBB": 0.007, "CCC": 0.008, "DDD": 0.02, "EEE": 0.022, "FFF": 0.018}
DATES = pd.bdate_range("2023-01-02", periods=420)
DAY = DATES[299].date()
LATER = DATES[359].date()
GROUP = "six"
TOL = 1e-6


def _load_market(uow: SqlUnitOfWork, symbols: dict[str, str] = SECTORS) -> None:
    rng = np.random.default_rng(42)
    closes = {
        symbol: 100 * np.exp(np.cumsum(rng.normal(0.0003, DAILY_VOL.get(symbol, 0.01), len(DATES))))
        for symbol in symbols
    }
    store_market(uow, symbols, DATES, closes)


@pytest.fixture
def market(uow: SqlUnitOfWork) -> SqlUnitOfWork:
    _load_market(uow)
    create_universe(uow, GROUP, symbols=list(SECTORS), ranked=True)
    return uow


def _stored(uow: SqlUnitOfWork, code: str, day: date) -> pd.Series:
    with uow:
        portfolio = uow.portfolios.named(code)
        assert portfolio is not None
        return uow.portfolios.weights_on(portfolio.id, day)


def _technology(weights: pd.Series) -> float:
    return float(sum(weights[s] for s in weights.index if SECTORS.get(str(s)) == "Technology"))


def test_create_then_optimize_stores_weights_that_sum_to_1_and_keep_every_constraint(
    market: SqlUnitOfWork,
) -> None:
    constraints = StoredConstraints(max_weight=0.3, sector_caps={"Technology": 0.4})
    create_portfolio(market, "capped", group=GROUP, method="min_variance", constraints=constraints)

    report = optimize_portfolio(market, "capped", day=DAY)

    stored = _stored(market, "capped", DAY)
    assert sorted(stored.index) == sorted(SECTORS)
    assert stored.sum() == pytest.approx(1.0, abs=1e-9)
    assert (stored <= 0.3 + TOL).all() and (stored >= -TOL).all()
    assert _technology(stored) <= 0.4 + TOL
    assert _technology(stored) == pytest.approx(0.4, abs=1e-4)  # the cap binds: it was applied
    pd.testing.assert_series_equal(
        stored.sort_index(), report.weights.sort_index(), check_names=False, atol=1e-12
    )
    assert report.sector_totals["Technology"] == pytest.approx(_technology(stored), abs=1e-12)
    assert report.risk_contributions.sum() == pytest.approx(1.0, abs=1e-9)
    assert report.sum_before_normalization == pytest.approx(1.0, abs=1e-4)
    assert report.solver and report.observations == 252
    assert report.window_end == DAY and report.previous_date is None
    view = show_portfolio(market, "capped")
    assert view.constraints == constraints and view.latest_date == DAY
    assert view.portfolio.optimizer_type == "min_variance" and view.portfolio.group == GROUP


def test_risk_contributions_when_reported_are_w_times_sigma_w_over_variance(
    market: SqlUnitOfWork,
) -> None:
    create_portfolio(market, "rc", group=GROUP, method="inverse_volatility")
    report = optimize_portfolio(market, "rc", day=DAY, lookback_days=100)

    with market:
        prices = market.derived.panel("adj_close", symbols=list(SECTORS), end=DAY)
    returns = prices.iloc[-101:].pct_change().iloc[1:]
    sigma = returns.cov().to_numpy()
    w = report.weights.reindex(returns.columns).to_numpy()
    expected = w * (sigma @ w) / (w @ sigma @ w)
    np.testing.assert_allclose(
        report.risk_contributions.reindex(returns.columns).to_numpy(), expected, atol=1e-10
    )


def test_optimize_as_of_a_date_when_later_prices_change_gives_the_same_weights(
    market: SqlUnitOfWork, engine: Engine
) -> None:
    create_portfolio(market, "pit", group=GROUP, method="max_sharpe", expected_returns="historical")
    first = optimize_portfolio(market, "pit", day=DAY).weights

    with engine.begin() as conn:
        conn.execute(
            text(
                "UPDATE prices_daily SET adj_close = adj_close * (1 + 0.5 * random()) "
                "WHERE date > :day"
            ),
            {"day": DAY},
        )
    again = optimize_portfolio(market, "pit", day=DAY)

    # Equal to the solver's tolerance (a re-solve may warm-start from the last answer).
    pd.testing.assert_series_equal(first, again.weights, atol=1e-8)
    assert again.replaced == len(SECTORS)
    later = optimize_portfolio(market, "pit", day=LATER).weights
    assert not np.allclose(later.to_numpy(), first.to_numpy(), atol=1e-4)


def test_turnover_limit_when_previous_weights_are_stored_is_measured_against_them(
    market: SqlUnitOfWork,
) -> None:
    constraints = StoredConstraints(max_weight=0.5, turnover_limit=0.05)
    create_portfolio(market, "slow", group=GROUP, method="min_variance", constraints=constraints)
    create_portfolio(market, "free", group=GROUP, method="min_variance")
    first = optimize_portfolio(market, "slow", day=DAY)
    assert first.previous_date is None
    assert any("first rebalance" in note for note in first.notes)

    equal = pd.Series(1 / len(SECTORS), index=list(SECTORS))
    with market:
        portfolio = market.portfolios.named("slow")
        assert portfolio is not None
        market.portfolios.replace_weights(portfolio.id, DAY, equal)
        market.commit()
    report = optimize_portfolio(market, "slow", day=LATER)
    free = optimize_portfolio(market, "free", day=LATER).weights

    assert report.previous_date == DAY
    moved = 0.5 * float((report.weights - equal).abs().sum())
    assert moved <= 0.05 + TOL
    assert report.turnover == pytest.approx(moved, abs=1e-12)
    assert 0.5 * float((free - equal).abs().sum()) > 0.1  # unconstrained, it would move far more
    assert _stored(market, "slow", LATER).sum() == pytest.approx(1.0, abs=1e-9)


def test_long_short_constraints_when_stored_round_trip_and_hold(market: SqlUnitOfWork) -> None:
    constraints = StoredConstraints(
        min_weight=-0.2, max_weight=0.6, long_only=False, gross_limit=1.4, transaction_cost_bps=5
    )
    create_portfolio(market, "ls", group=GROUP, method="max_sharpe", constraints=constraints)
    assert show_portfolio(market, "ls").constraints == constraints

    report = optimize_portfolio(market, "ls", day=DAY)

    weights = report.weights
    assert weights.sum() == pytest.approx(1.0, abs=1e-9)
    assert weights.abs().sum() <= 1.4 + TOL
    assert (weights >= -0.2 - TOL).all() and (weights <= 0.6 + TOL).all()


def _write_research(uow: SqlUnitOfWork, day: date, tech: float, other: float) -> None:
    """Betas and value exposures: `tech` for the Technology names, `other` for the rest."""
    values = [tech if SECTORS[s] == "Technology" else other for s in SECTORS]
    nan = [np.nan] * len(SECTORS)
    with uow:
        uow.factors.replace_risk(
            day,
            pd.DataFrame(
                {"symbol": list(SECTORS), "volatility": 0.2, "beta": values}
                | {name: nan for name in ("tail_beta", "skew", "kurtosis")}
            ),
        )
        uow.factors.replace_exposures(
            day,
            pd.DataFrame(
                {"symbol": list(SECTORS), "value": values}
                | {name: nan for name in ("quality", "momentum", "low_vol", "size")}
                | {"composite_score": values}
            ),
        )
        uow.commit()


def test_beta_cap_and_factor_bounds_when_set_use_the_latest_rows_on_or_before_the_date(
    market: SqlUnitOfWork,
) -> None:
    _write_research(market, date(2024, 2, 1), tech=2.0, other=0.5)
    _write_research(market, date(2024, 3, 15), tech=-5.0, other=-5.0)  # after DAY: unseen
    create_portfolio(
        market,
        "beta",
        group=GROUP,
        method="min_variance",
        constraints=StoredConstraints(max_beta=1.0),
    )
    create_portfolio(
        market,
        "value",
        group=GROUP,
        method="min_variance",
        constraints=StoredConstraints(factor_bounds={"value": (0.0, 1.0)}),
    )
    assert show_portfolio(market, "value").constraints.factor_bounds == {"value": (0.0, 1.0)}

    beta = optimize_portfolio(market, "beta", day=DAY).weights
    value = optimize_portfolio(market, "value", day=DAY).weights

    # Unconstrained, minimum variance holds ~all Technology (beta ≈ 2, value ≈ 2).
    assert 2.0 * _technology(beta) + 0.5 * (1 - _technology(beta)) == pytest.approx(1.0, abs=1e-5)
    assert 2.0 * _technology(value) + 0.5 * (1 - _technology(value)) <= 1.0 + TOL


def test_beta_cap_when_a_member_has_no_beta_names_it(market: SqlUnitOfWork) -> None:
    _write_research(market, date(2024, 2, 1), tech=1.0, other=1.0)
    with market:
        rows = market.factors.risk(date(2024, 2, 1))
        market.factors.replace_risk(date(2024, 2, 1), rows[rows["symbol"] != "FFF"])
        market.commit()
    create_portfolio(
        market, "nobeta", group=GROUP, method="min_variance",
        constraints=StoredConstraints(max_beta=1.0),
    )  # fmt: skip

    with pytest.raises(DataError, match="beta: no value for FFF"):
        optimize_portfolio(market, "nobeta", day=DAY)


def test_optimize_when_a_member_has_no_prices_in_the_window_names_it(
    market: SqlUnitOfWork,
) -> None:
    with market:
        market.derived.upsert(
            "instrument_info",
            pd.DataFrame({"symbol": ["GHOST"], "name": ["no prices"], "source": ["test"]}),
        )
        market.commit()
    create_universe(market, "seven", symbols=[*SECTORS, "GHOST"])
    create_portfolio(market, "ghostly", group="seven", method="min_variance")

    with pytest.raises(DataError, match="GHOST of group 'seven' have no prices"):
        optimize_portfolio(market, "ghostly", day=DAY)
    assert _stored(market, "ghostly", DAY).empty


def test_optimize_when_history_is_shorter_than_the_window_names_the_symbol(
    market: SqlUnitOfWork, engine: Engine
) -> None:
    with engine.begin() as conn:
        conn.execute(text("DELETE FROM prices_daily WHERE symbol = 'FFF' AND date < '2023-06-01'"))
    create_portfolio(market, "young", group=GROUP, method="min_variance")

    with pytest.raises(DataError, match=r"FFF \(2023-06-01 to"):
        optimize_portfolio(market, "young", day=DAY)


def test_create_when_the_group_or_method_is_unknown_says_which(market: SqlUnitOfWork) -> None:
    with pytest.raises(DataError, match="universe: 'nope' does not exist"):
        create_portfolio(market, "x", group="nope", method="min_variance")
    with pytest.raises(DataError, match="method: got 'magic'"):
        create_portfolio(market, "x", group=GROUP, method="magic")
    create_portfolio(market, "x", group=GROUP, method="hrp")
    with pytest.raises(DataError, match="already exists"):
        create_portfolio(market, "x", group=GROUP, method="hrp")
    with pytest.raises(DataError, match=r"method 'hrp' cannot apply \['sector_caps'\]"):
        create_portfolio(
            market, "y", group=GROUP, method="hrp",
            constraints=StoredConstraints(max_weight=0.4, sector_caps={"Energy": 0.1}),
        )  # fmt: skip
    with pytest.raises(DataError, match="max_return' needs a volatility cap"):
        create_portfolio(market, "y", group=GROUP, method="max_return")
    with pytest.raises(DataError, match="unknown factor"):
        create_portfolio(
            market, "y", group=GROUP, method="min_variance",
            constraints=StoredConstraints(factor_bounds={"vibes": (0.0, 1.0)}),
        )  # fmt: skip
    create_portfolio(
        market, "z", group=GROUP, method="hrp", constraints=StoredConstraints(max_weight=0.2)
    )
    with pytest.raises(DataError, match="portfolio: 'y' does not exist"):
        show_portfolio(market, "y")


def _invoke(app: App, *arguments: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, list(arguments), obj=app, env={"COLUMNS": "200"})
    assert result.exception is None or isinstance(result.exception, SystemExit), result.output
    return result.exit_code, result.output


def test_cli_create_optimize_show_when_json_asked_print_parseable_documents(
    app: App, market: SqlUnitOfWork
) -> None:
    code, output = _invoke(
        app, "portfolio", "create", "cli", "--group", GROUP, "--method", "min_variance",
        "--max-weight", "0.3", "--sector-cap", "Technology=0.4", "--turnover", "0.2", "--json",
    )  # fmt: skip
    assert code == 0, output
    assert json.loads(output)["constraints"]["sector_caps"] == {"Technology": 0.4}

    code, output = _invoke(app, "portfolio", "optimize", "cli", "--date", str(DAY), "--json")
    assert code == 0, output
    document = json.loads(output)
    weights = {row["symbol"]: row["weight"] for row in document["weights"]}
    assert sum(weights.values()) == pytest.approx(1.0, abs=1e-9)
    assert document["sector_totals"]["Technology"] <= 0.4 + TOL
    assert sum(row["risk_contribution"] for row in document["weights"]) == pytest.approx(1.0)

    code, output = _invoke(app, "portfolio", "optimize", "cli", "--date", str(DAY))
    assert code == 0, output
    assert "risk contribution" in output and "sector totals" in output and "solver:" in output

    code, output = _invoke(app, "portfolio", "show", "cli", "--json")
    assert code == 0, output
    shown = json.loads(output)
    assert shown["latest_date"] == str(DAY)
    assert {row["symbol"]: row["weight"] for row in shown["weights"]} == pytest.approx(weights)
    code, output = _invoke(app, "portfolio", "show", "cli")
    assert code == 0 and "weights on" in output, output


def test_cli_optimize_when_constraints_conflict_prints_the_optimizer_error_in_one_line(
    app: App, market: SqlUnitOfWork
) -> None:
    arguments = ["--min-weight", "0.1", "--max-weight", "0.5", "--sector-cap", "Technology=0.2"]
    code, output = _invoke(
        app, "portfolio", "create", "tight", "--group", GROUP, "--method", "min_variance",
        *arguments,
    )  # fmt: skip
    lines = [line for line in output.splitlines() if line.strip()]
    assert code == 2 and len(lines) == 1 and lines[0].startswith("error: constraints:"), output
    assert "in conflict" in lines[0] and "min_weight" in lines[0] and "sector_caps" in lines[0]

    # Stored before the group could not meet them (created loose, tightened since): the
    # rebalance finds the conflict too.
    _invoke(app, "portfolio", "create", "tight", "--group", GROUP, "--method", "min_variance")
    _tighten(app, "tight", StoredConstraints(min_weight=0.1, max_weight=0.5,
                                             sector_caps={"Technology": 0.2}))  # fmt: skip
    code, output = _invoke(app, "portfolio", "optimize", "tight", "--date", str(DAY))

    assert code == 2
    assert "Traceback" not in output
    lines = [line for line in output.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error:"), output
    assert "in conflict" in lines[0] and "min_weight" in lines[0] and "sector_caps" in lines[0]


def _tighten(app: App, code: str, constraints: StoredConstraints) -> None:
    with app.uow() as uow:
        portfolio = uow.portfolios.named(code)
        assert portfolio is not None
        uow.portfolios.save_constraints(portfolio.id, constraints)
        uow.commit()


def test_cli_create_when_a_sector_cap_is_malformed_says_so(app: App, market: SqlUnitOfWork) -> None:
    code, output = _invoke(
        app, "portfolio", "create", "bad", "--group", GROUP, "--method", "min_variance",
        "--sector-cap", "Technology",
    )  # fmt: skip
    assert code == 2 and "--sector-cap: got 'Technology', expected NAME=NUMBER" in output


def test_demo_portfolio_on_the_sample_builds_caps_and_reruns(uow: SqlUnitOfWork) -> None:
    load_sample(uow)
    day = date(2022, 12, 28)

    report = demo_portfolio(uow, day=day)

    assert report.code == DEMO_PORTFOLIO and len(report.weights) == 20
    assert report.weights.sum() == pytest.approx(1.0, abs=1e-9)
    assert report.weights.max() <= 0.25 + TOL
    assert report.sector_totals.get(TECHNOLOGY, 0.0) <= 0.30 + TOL
    assert set(report.sectors.values()) >= {TECHNOLOGY, "Health Care", "Energy"}
    again = demo_portfolio(uow, day=day)
    pd.testing.assert_series_equal(report.weights, again.weights, atol=1e-8)


def test_sector_cap_when_it_matches_no_member_is_reported_not_silently_applied(
    market: SqlUnitOfWork,
) -> None:
    with pytest.raises(DataError, match="sector_caps: 'Tech' is the sector of no member"):
        create_portfolio(
            market, "typo", group=GROUP, method="min_variance",
            constraints=StoredConstraints(sector_caps={"Tech": 0.3}),
        )  # fmt: skip
    create_portfolio(market, "typo", group=GROUP, method="min_variance")
    with market:  # stored before the check at creation existed
        portfolio = market.portfolios.named("typo")
        assert portfolio is not None
        market.portfolios.save_constraints(
            portfolio.id, StoredConstraints(sector_caps={"Tech": 0.3})
        )
        market.commit()

    report = optimize_portfolio(market, "typo", day=DAY)

    assert any("Tech match no member's sector" in note for note in report.notes), report.notes


def test_optimize_when_prices_end_long_before_the_date_notes_how_stale_they_are(
    market: SqlUnitOfWork,
) -> None:
    create_portfolio(market, "stale", group=GROUP, method="min_variance")

    report = optimize_portfolio(market, "stale", day=date(2025, 1, 31))

    last = DATES[-1].date()
    assert report.window_end == last
    assert f"the latest price is from {last}" in " ".join(report.notes)


def test_optimize_when_a_price_is_missing_inside_the_window_bridges_it_and_says_so(
    market: SqlUnitOfWork, engine: Engine
) -> None:
    with engine.begin() as conn:
        conn.execute(
            text("DELETE FROM prices_daily WHERE symbol = 'FFF' AND date = :day"),
            {"day": DATES[250].date()},
        )
    create_portfolio(market, "gappy", group=GROUP, method="min_variance")

    report = optimize_portfolio(market, "gappy", day=DAY)

    assert report.observations == 252
    assert "1 missing prices inside the window bridged" in " ".join(report.notes)
    assert report.weights.sum() == pytest.approx(1.0, abs=1e-9)


def test_covariance_from_the_cache_when_asked_is_stored_once_and_reused(
    market: SqlUnitOfWork, app: App
) -> None:
    create_portfolio(market, "tree", group=GROUP, method="hrp")
    create_portfolio(market, "plain", group=GROUP, method="min_variance")

    first = optimize_portfolio(market, "tree", day=DAY, covariance="ledoit_wolf")
    again = optimize_portfolio(market, "tree", day=DAY, covariance="ledoit_wolf")
    inline = optimize_portfolio(market, "plain", day=DAY).weights
    cached = optimize_portfolio(market, "plain", day=DAY, covariance="sample").weights

    assert "ledoit_wolf/252d computed and stored in the cache" in " ".join(first.notes)
    assert "read from the cache" in " ".join(again.notes) and "tree single:" in " ".join(
        again.notes
    )
    pd.testing.assert_series_equal(first.weights, again.weights, atol=1e-12)
    assert list(first.weights.index) == list(SECTORS)  # the group's order, not the cache's
    pd.testing.assert_series_equal(inline, cached, atol=1e-6)
    code, output = _invoke(
        app, "portfolio", "optimize", "tree", "--date", str(DAY), "--covariance", "oas", "--json"
    )
    assert code == 0, output
    assert "oas/252d" in " ".join(json.loads(output)["notes"])
