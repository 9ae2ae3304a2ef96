"""The demo's portfolio: minimum variance over the sample's 20 US large caps with a sector cap.

On the loaded sample (`stocker data load-sample`), `demo_portfolio(uow, day=D)`:

1. gives each of the 20 stocks its GICS sector (December 2022, the static mapping shipped in
   `stocker.sample.skfolio`) where `instrument_info` has none;
2. creates the group `DEMO_GROUP` of the 20 symbols, in the mapping's order, if absent;
3. creates the portfolio `DEMO_PORTFOLIO` (min_variance, at most 25% per stock, Information
   Technology at most 30%) if absent;
4. optimizes it as of D and returns the report (weights, risk contributions, sector totals).

Each step is its own use case and transaction; running it again reuses what exists.
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

import pandas as pd

from stocker.core.errors import DataError
from stocker.lab.construction import (
    OptimizationReport,
    StoredConstraints,
    create_portfolio,
    optimize_portfolio,
)
from stocker.sample.skfolio import STOCK_LISTINGS

if TYPE_CHECKING:
    from stocker.store.uow import SqlUnitOfWork

DEMO_GROUP = "sample_us20"
DEMO_PORTFOLIO = "demo_minvar"
DEMO_METHOD = "min_variance"
TECHNOLOGY = "Information Technology"
"""GICS's name of the technology sector, as `instrument_info.sector` holds it."""
DEMO_CONSTRAINTS = StoredConstraints(max_weight=0.25, sector_caps={TECHNOLOGY: 0.30})


def demo_portfolio(uow: SqlUnitOfWork, *, day: dt.date) -> OptimizationReport:
    """Build (if needed) and optimize the demo portfolio on the sample as of `day`."""
    from stocker.data.universes import create_universe

    symbols = list(STOCK_LISTINGS)
    with uow:
        missing = uow.instruments.unknown(symbols)
        if missing:
            raise DataError(
                f"sample: {', '.join(missing)} are not loaded; run `stocker data load-sample`"
            )
        known = uow.derived.sectors(symbols)
        unlabelled = [symbol for symbol in symbols if not known.get(symbol)]
        if unlabelled:
            uow.instruments.upsert(
                pd.DataFrame(
                    {
                        "symbol": unlabelled,
                        "sector": [STOCK_LISTINGS[symbol].sector for symbol in unlabelled],
                    }
                )
            )
        has_group = uow.universes.named(DEMO_GROUP) is not None
        has_portfolio = uow.portfolios.named(DEMO_PORTFOLIO) is not None
        uow.commit()
    if not has_group:
        create_universe(
            uow,
            DEMO_GROUP,
            "The sample's 20 US large caps (skfolio sp500_dataset)",
            symbols=symbols,
            ranked=True,
        )
    if not has_portfolio:
        create_portfolio(
            uow,
            DEMO_PORTFOLIO,
            group=DEMO_GROUP,
            method=DEMO_METHOD,
            constraints=DEMO_CONSTRAINTS,
            name="Demo minimum variance",
            description="Min variance over the sample, max weight 25%, Information Technology 30%",
        )
    return optimize_portfolio(uow, DEMO_PORTFOLIO, day=day)
