"""The demo's research flow on the loaded sample: factors → a screen saved as a group → a portfolio.

`demo_research(uow, day=D)` computes factor exposures as of D, screens the stocks by composite
score, saves the ranked result as the group `DEMO_GROUP`, and builds the minimum-variance
portfolio `DEMO_PORTFOLIO` over that group with a per-stock and a sector cap, optimized as of D.
Each step is the same use case a user runs from the CLI (`stocker factors compute`,
`stocker screen … --save-group`, `stocker portfolio create|optimize`); rerunning replaces the
group's members and re-optimizes.

The sample has prices only: value, quality and size need fundamentals, so they are null with the
reason "no fundamentals as of D", and the composite score is built from momentum and low
volatility (see docs/factors.md).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import TYPE_CHECKING

from stocker.lab.construction import (
    OptimizationReport,
    StoredConstraints,
    create_portfolio,
    optimize_portfolio,
)
from stocker.lab.factors import ResearchReport, compute_factors
from stocker.lab.screener import ScreenResult, screen_to_group

if TYPE_CHECKING:
    from stocker.store.uow import SqlUnitOfWork

DEMO_SCREEN = "sector is not null and momentum is not null order by composite_score desc limit 12"
DEMO_GROUP = "demo_top_composite"
DEMO_PORTFOLIO = "demo_screened_minvar"
CAPPED_SECTOR = "Health Care"
DEMO_CONSTRAINTS = StoredConstraints(max_weight=0.25, sector_caps={CAPPED_SECTOR: 0.30})
"""At most 25% per stock and 30% in Health Care (which minimum variance would overweight)."""


@dataclass(frozen=True)
class DemoResearch:
    """What the demo's research flow computed, stored and optimized."""

    factors: ResearchReport
    screen: ScreenResult
    group: str
    portfolio: OptimizationReport


def demo_research(uow: SqlUnitOfWork, *, day: dt.date) -> DemoResearch:
    """Factors, a saved screen and a sector-capped portfolio over it, all as of `day`."""
    factors = compute_factors(uow, day=day)
    result, _ = screen_to_group(uow, DEMO_SCREEN, day=day, group=DEMO_GROUP, replace=True)
    with uow:
        exists = uow.portfolios.named(DEMO_PORTFOLIO) is not None
    if not exists:
        create_portfolio(
            uow,
            DEMO_PORTFOLIO,
            group=DEMO_GROUP,
            method="min_variance",
            constraints=DEMO_CONSTRAINTS,
            name="Demo: minimum variance over the top composite scores",
            description=f"Screen {DEMO_SCREEN!r}; max weight 25%, {CAPPED_SECTOR} at most 30%",
        )
    report = optimize_portfolio(uow, DEMO_PORTFOLIO, day=day)
    return DemoResearch(factors=factors, screen=result, group=DEMO_GROUP, portfolio=report)
