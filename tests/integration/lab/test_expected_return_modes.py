"""The lab's expected-return modes beyond the historical and EWMA means: CAPM, Black–Litterman
with the portfolio's views (prior from market caps known on the date), and factor-implied
(composite scores known on the date) — each equal to the core model on the same inputs."""

from __future__ import annotations

import json
from datetime import date

import numpy as np
import pandas as pd
import pytest
from sqlalchemy import Engine
from typer.testing import CliRunner

from stocker.bootstrap import App
from stocker.cli import app as cli
from stocker.core.errors import DataError
from stocker.core.optimize import CAPM, BlackLitterman, FactorImplied, optimize
from stocker.data.universes import create_universe
from stocker.lab import construction
from stocker.lab.construction import StoredConstraints, create_portfolio, optimize_portfolio
from stocker.store.uow import SqlUnitOfWork

from .backtest_market import store_market, store_market_caps, store_scores

pytestmark = pytest.mark.integration

SYMBOLS = ("AAA", "BBB", "CCC", "DDD", "EEE")
DATES = pd.bdate_range("2023-01-02", periods=320)
DAY = DATES[299].date()
GROUP = "five"
CAPS = {"AAA": 900.0, "BBB": 500.0, "CCC": 300.0, "DDD": 200.0, "EEE": 100.0}


@pytest.fixture
def market(uow: SqlUnitOfWork) -> SqlUnitOfWork:
    rng = np.random.default_rng(3)
    closes = {}
    for number, symbol in enumerate(SYMBOLS):
        market_move = rng.normal(0.0004, 0.01, len(DATES))
        close = 100 * np.exp(np.cumsum(market_move * (0.5 + 0.3 * number)))
        closes[symbol] = close * np.exp(rng.normal(0, 0.004, len(DATES)))
    store_market(uow, dict.fromkeys(SYMBOLS, "Technology"), DATES, closes)
    create_universe(uow, GROUP, symbols=list(SYMBOLS), ranked=True)
    return uow


def _returns(uow: SqlUnitOfWork) -> pd.DataFrame:
    with uow:
        returns, _ = construction._returns(uow, list(SYMBOLS), DAY, 252, GROUP)
    return returns


def test_capm_mode_equals_the_core_model(market: SqlUnitOfWork) -> None:
    create_portfolio(market, "capm", group=GROUP, method="max_sharpe", expected_returns="capm")
    report = optimize_portfolio(market, "capm", day=DAY)
    expected = optimize(_returns(market), "max_sharpe", expected_returns=CAPM())
    assert report.expected_return_mode == "capm"
    np.testing.assert_allclose(report.weights[expected.index], expected, atol=1e-6)
    historical = optimize_portfolio(market, "capm", day=DAY, expected_returns="historical")
    assert np.abs(historical.weights - report.weights).max() > 1e-3  # the mode was applied


def test_black_litterman_uses_the_stored_views_and_caps_known_on_the_date(
    market: SqlUnitOfWork, engine: Engine
) -> None:
    store_market_caps(engine, date(2024, 1, 31), CAPS)
    store_market_caps(engine, date(2024, 3, 29), dict.fromkeys(SYMBOLS, 1.0))  # after DAY: unseen
    stored = StoredConstraints(
        max_weight=0.6, views={"EEE": 0.40, "AAA": -0.05}, view_confidences={"EEE": 0.8, "AAA": 0.5}
    )
    create_portfolio(
        market, "bl", group=GROUP, method="max_sharpe", constraints=stored,
        expected_returns="black_litterman",
    )  # fmt: skip
    assert construction.show_portfolio(market, "bl").constraints == stored  # round-trips

    report = optimize_portfolio(market, "bl", day=DAY)

    model = BlackLitterman(
        absolute_views={"EEE": 0.40 / 252, "AAA": -0.05 / 252},
        market_caps=CAPS,
        omega="idzorek",
        view_confidences=[0.8, 0.5],
    )
    from stocker.core.optimize import Constraints

    expected = optimize(
        _returns(market), "max_sharpe", Constraints(max_weight=0.6), expected_returns=model
    )
    np.testing.assert_allclose(report.weights[expected.index], expected, atol=1e-6)
    assert any("Black–Litterman with 2 view(s)" in note for note in report.notes)
    assert report.weights["EEE"] > report.weights["AAA"]  # the bullish view moved the weights


def test_black_litterman_refusals_name_what_is_missing(
    market: SqlUnitOfWork, engine: Engine
) -> None:
    with pytest.raises(DataError, match="views: black_litterman needs at least one view"):
        create_portfolio(
            market, "none", group=GROUP, method="max_sharpe", expected_returns="black_litterman"
        )
    with pytest.raises(DataError, match=r"view_confidences\[.AAA.\]: got 1.5"):
        create_portfolio(
            market, "sure", group=GROUP, method="max_sharpe", expected_returns="black_litterman",
            constraints=StoredConstraints(views={"AAA": 0.1}, view_confidences={"AAA": 1.5}),
        )  # fmt: skip
    store_market_caps(engine, date(2024, 1, 31), {s: c for s, c in CAPS.items() if s != "DDD"})
    create_portfolio(
        market, "bl", group=GROUP, method="max_sharpe", expected_returns="black_litterman",
        constraints=StoredConstraints(views={"AAA": 0.1}),
    )  # fmt: skip
    with pytest.raises(DataError, match=r"market_cap: no positive market capitalisation .* DDD"):
        optimize_portfolio(market, "bl", day=DAY)


def test_factor_implied_uses_the_composite_scores_known_on_the_date(
    market: SqlUnitOfWork,
) -> None:
    scores = {"AAA": -1.0, "BBB": -0.5, "CCC": 0.0, "DDD": 0.5, "EEE": 2.0}
    store_scores(market, date(2024, 1, 31), scores)
    store_scores(market, date(2024, 3, 29), dict.fromkeys(SYMBOLS, 0.0))  # after DAY: unseen
    create_portfolio(
        market, "scored", group=GROUP, method="max_sharpe", expected_returns="factor_implied",
        constraints=StoredConstraints(max_weight=0.5, score_spread=0.2),
    )  # fmt: skip

    report = optimize_portfolio(market, "scored", day=DAY)

    from stocker.core.optimize import Constraints

    model = FactorImplied(scores=scores, spread=0.2 / 252)
    expected = optimize(
        _returns(market), "max_sharpe", Constraints(max_weight=0.5), expected_returns=model
    )
    np.testing.assert_allclose(report.weights[expected.index], expected, atol=1e-6)
    assert report.weights.idxmax() == "EEE"  # the best score gets the most


def test_cli_creates_and_optimizes_with_views(
    market: SqlUnitOfWork, engine: Engine, app: App
) -> None:
    store_market_caps(engine, date(2024, 1, 31), CAPS)
    runner = CliRunner()
    created = runner.invoke(
        cli,
        ["portfolio", "create", "viewed", "--group", GROUP, "--method", "max_sharpe",
         "--expected-returns", "black_litterman", "--view", "EEE=0.4", "--view-confidence",
         "EEE=0.8", "--tau", "0.1", "--json"],
        obj=app,
    )  # fmt: skip
    assert created.exit_code == 0, created.output
    settings = json.loads(created.output)["constraints"]
    assert settings["views"] == {"EEE": 0.4} and settings["tau"] == 0.1
    optimized = runner.invoke(
        cli, ["portfolio", "optimize", "viewed", "--date", str(DAY), "--json"], obj=app
    )
    assert optimized.exit_code == 0, optimized.output
    assert json.loads(optimized.output)["expected_return_mode"] == "black_litterman"
    refused = runner.invoke(
        cli,
        ["portfolio", "create", "bad", "--group", GROUP, "--method", "max_sharpe",
         "--expected-returns", "magic"],
        obj=app,
    )  # fmt: skip
    assert refused.exit_code == 2 and "expected_returns: got 'magic'" in refused.output
