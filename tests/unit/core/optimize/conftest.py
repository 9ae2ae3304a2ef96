"""The real 20-stock S&P 500 sample (skfolio's), last 1,260 days, for every optimizer test."""

from __future__ import annotations

import pandas as pd
import pytest
from skfolio.datasets import load_sp500_dataset
from skfolio.preprocessing import prices_to_returns


@pytest.fixture(scope="session")
def returns() -> pd.DataFrame:
    return prices_to_returns(load_sp500_dataset()).iloc[-1260:]


@pytest.fixture(scope="session")
def sectors(returns: pd.DataFrame) -> dict[str, str]:
    """A fixed sector map over the 20 symbols (GICS-like, for constraint tests)."""
    names = {
        "AAPL": "Tech", "AMD": "Tech", "MSFT": "Tech", "HD": "Consumer", "KO": "Staples",
        "PG": "Staples", "WMT": "Staples", "BAC": "Financials", "JPM": "Financials",
        "BBY": "Consumer", "CVX": "Energy", "XOM": "Energy", "GE": "Industrials",
        "LLY": "Health", "JNJ": "Health", "MRK": "Health", "PFE": "Health", "UNH": "Health",
        "RRC": "Energy", "PEP": "Staples",
    }  # fmt: skip
    return {symbol: names.get(symbol, "Other") for symbol in returns.columns}
