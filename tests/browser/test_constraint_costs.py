"""What each constraint cost (the builder's what-if) on the served sample: the objective with
every constraint is the stored rebalance's, and dropping a constraint never raises a minimum."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

import pytest

from stocker.lab.constraint_costs import constraint_costs, relaxations
from stocker.lab.construction import StoredConstraints, optimize_portfolio

if TYPE_CHECKING:
    from tests.browser.conftest import Served

pytestmark = [pytest.mark.integration, pytest.mark.slow, pytest.mark.xdist_group("browser")]

PORTFOLIO = "demo_screened_minvar"  # min variance, at most 25% each, Health Care at most 30%
SOLVER = 1e-9


def test_relaxations_drop_one_active_constraint_each() -> None:
    stored = StoredConstraints(
        max_weight=0.2, sector_caps={"Energy": 0.1, "Health Care": 0.3}, max_beta=1.1
    )

    found = dict(relaxations(stored))

    assert list(found) == ["max weight 0.2", "Energy ≤ 0.1", "Health Care ≤ 0.3", "beta ≤ 1.1"]
    assert found["max weight 0.2"].max_weight == 1.0
    assert dict(found["Energy ≤ 0.1"].sector_caps) == {"Health Care": 0.3}
    assert found["beta ≤ 1.1"].max_beta is None and found["beta ≤ 1.1"].max_weight == 0.2
    assert relaxations(StoredConstraints()) == []


def test_each_constraint_of_a_minimum_variance_portfolio_costs_variance(
    served: Served, research_day: dt.date
) -> None:
    report = optimize_portfolio(served.app.uow(), PORTFOLIO, day=research_day)

    found = constraint_costs(served.app.uow(), PORTFOLIO, day=research_day)
    objective, name, costs = found.objective, found.objective_name, found.costs

    assert name == report.objective_name == "variance"
    assert objective == pytest.approx(report.objective, rel=1e-6)
    assert [cost.constraint for cost in costs] == ["max weight 0.25", "Health Care ≤ 0.3"]
    for cost in costs:
        assert cost.change is not None and cost.objective_without is not None
        assert cost.change >= -SOLVER, "dropping a constraint cannot raise the minimum variance"
        assert cost.objective_without == pytest.approx(objective - cost.change)
