"""Sample data for tests, demos and benchmarks: a synthetic market whose structure is known.

Pure numerics (numpy, pandas, scipy): nothing here touches a database, Redis or the network, so
tests and benchmarks can generate data without any service, and `stocker.data.synthetic` stores
it. `generate_market` (in `market`) builds the rows; `sectors`, `paths` and `fundamentals` hold
the cross-section, the time series and the accounting it is made of.
"""

from __future__ import annotations

from stocker.sample.market import (
    MARKET_FACTOR,
    STYLE_FACTORS,
    MarketTruth,
    SyntheticMarket,
    generate_market,
)
from stocker.sample.sectors import SECTOR_NAMES, SECTORS, SectorProfile

__all__ = [
    "MARKET_FACTOR",
    "SECTORS",
    "SECTOR_NAMES",
    "STYLE_FACTORS",
    "MarketTruth",
    "SectorProfile",
    "SyntheticMarket",
    "generate_market",
]
