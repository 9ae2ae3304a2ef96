"""What the Yahoo modules share: the source's names and Yahoo's exchange codes."""

from __future__ import annotations

SOURCE_NAME = "yfinance"
VENDOR = "Yahoo Finance"
# Yahoo exchange codes -> the exchange names Stocker's calendars understand.
EXCHANGES = {
    "NMS": "NASDAQ",
    "NGM": "NASDAQ",
    "NCM": "NASDAQ",
    "NAS": "NASDAQ",
    "NASDAQ": "NASDAQ",
    "NYQ": "NYSE",
    "NYSE": "NYSE",
    "PCX": "NYSEARCA",
    "ARCA": "NYSEARCA",
    "ASE": "AMEX",
    "AMEX": "AMEX",
    "BTS": "BATS",
    "NSI": "NSE",
    "NSE": "NSE",
    "BSE": "BSE",
    "BOM": "BSE",
}


def exchange_name(code: str | None) -> str | None:
    """The exchange name Stocker's calendars use for a Yahoo exchange code."""
    if not code:
        return None
    return EXCHANGES.get(code.upper(), code)
