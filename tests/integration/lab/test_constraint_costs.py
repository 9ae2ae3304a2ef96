"""What each constraint costs, for every expected-return mode: the objective with every
constraint is the one `optimize_portfolio` reaches on the same date (Black–Litterman and
factor-implied included), and dropping a cap never lowers a maximum Sharpe ratio."""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import pytest
from sqlalchemy import Engine

from stocker.core.errors import DataError
from stocker.data.universes import create_universe
from stocker.lab.constraint_costs import ConstraintCosts, constraint_costs, relaxations
from stocker.lab.construction import StoredConstraints, create_portfolio, optimize_portfolio
from stocker.store.uow import SqlUnitOfWork

from .backtest_market import store_market, store_market_caps, store_scores

pytestmark = pytest.mark.integration

SYMBOLS = ("AAA", "BBB", "CCC", "DDD", "EEE")
SECTORS = ("Technology", "Technology", "Energy", "Energy", "Utilities")
DATES = pd.bdate_range("2023-01-02", periods=300)
DAY = DATES[-1].date()
GROUP = "five"
CAPS = {"AAA": 900.0, "BBB": 500.0, "CCC": 300.0, "DDD": 200.0, "EEE": 100.0}
SOLVER = 1e-7
CONSTRAINTS = StoredConstraints(
    max_weight=0.45,
    sector_caps={"Energy": 0.3},
    views={"EEE": 0.40, "AAA": -0.05},
    score_spread=0.2,
)
NO_VIEWS = dataclasses.replace(CONSTRAINTS, views={})
"""Views are refused with a mode that does not read them."""


@pytest.fixture
def market(uow: SqlUnitOfWork, engine: Engine) -> SqlUnitOfWork:
    rng = np.random.default_rng(11)
    closes = {
        symbol: 100 * np.exp(np.cumsum(rng.normal(0.0003 * (number + 1), 0.01, len(DATES))))
        for number, symbol in enumerate(SYMBOLS)
    }
    store_market(uow, dict(zip(SYMBOLS, SECTORS, strict=True)), DATES, closes)
    scores = dict(zip(SYMBOLS, [-1.0, -0.5, 0.0, 0.5, 2.0], strict=True))
    store_scores(uow, DATES[-10].date(), scores)
    store_market_caps(engine, DATES[-20].date(), CAPS)
    create_universe(uow, GROUP, symbols=list(SYMBOLS), ranked=True)
    return uow


@pytest.mark.parametrize(
    "mode", ["historical", "ewma", "capm", "black_litterman", "factor_implied"]
)
def test_every_expected_return_mode_costs_against_the_stored_rebalance(
    market: SqlUnitOfWork, mode: str
) -> None:
    create_portfolio(
        market, mode, group=GROUP, method="max_sharpe",
        constraints=CONSTRAINTS if mode == "black_litterman" else NO_VIEWS, expected_returns=mode,
    )  # fmt: skip
    report = optimize_portfolio(market, mode, day=DAY)

    found = constraint_costs(market, mode, day=DAY)

    assert isinstance(found, ConstraintCosts)
    assert found.expected_return_mode == report.expected_return_mode == mode
    assert found.objective_name == report.objective_name
    assert found.objective == pytest.approx(report.objective, rel=1e-5, abs=1e-9)
    assert [cost.constraint for cost in found.costs] == ["max weight 0.45", "Energy ≤ 0.3"]
    for cost in found.costs:
        assert cost.change is not None and cost.objective_without is not None, cost.note
        assert cost.change <= SOLVER, "dropping a cap cannot lower the best Sharpe ratio"
        assert cost.objective_without == pytest.approx(found.objective - cost.change)


def test_the_mode_can_be_overridden_and_an_unknown_portfolio_is_named(
    market: SqlUnitOfWork,
) -> None:
    create_portfolio(market, "p", group=GROUP, method="max_sharpe", constraints=NO_VIEWS)
    historical = constraint_costs(market, "p", day=DAY)
    implied = constraint_costs(market, "p", day=DAY, expected_returns="factor_implied")

    assert implied.expected_return_mode == "factor_implied"
    assert implied.objective != pytest.approx(historical.objective)
    with pytest.raises(DataError, match="portfolio: 'nope' does not exist"):
        constraint_costs(market, "nope", day=DAY)
    with pytest.raises(DataError, match="expected_returns: got 'magic'"):
        constraint_costs(market, "p", day=DAY, expected_returns="magic")


def test_relaxations_drop_one_active_constraint_each() -> None:
    stored = StoredConstraints(
        max_weight=0.2, sector_caps={"Energy": 0.1, "Health Care": 0.3}, max_beta=1.1
    )

    found = dict(relaxations(stored))

    assert list(found) == ["max weight 0.2", "Energy ≤ 0.1", "Health Care ≤ 0.3", "beta ≤ 1.1"]
    assert dict(found["Energy ≤ 0.1"].sector_caps) == {"Health Care": 0.3}
    assert found["beta ≤ 1.1"].max_beta is None and found["beta ≤ 1.1"].max_weight == 0.2
    assert relaxations(StoredConstraints()) == []
