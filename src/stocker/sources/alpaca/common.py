"""What Alpaca's historical source and its live stream share: names and credential settings."""

from __future__ import annotations

from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from stocker.sources.base import CredentialNames, require_credentials

if TYPE_CHECKING:
    from stocker.config import Credentials

SOURCE_NAME = "alpaca"
VENDOR = "Alpaca"
CREDENTIALS = CredentialNames("ALPACA_API_KEY", "ALPACA_SECRET_KEY")
MARKET_ZONE = ZoneInfo("America/New_York")


def alpaca_credentials(credentials: Credentials | None) -> Credentials:
    """The key pair the composition root handed over, or an error naming the settings."""
    return require_credentials(
        credentials,
        CREDENTIALS,
        needs=f"{VENDOR} needs an API key pair (from https://app.alpaca.markets, 'API Keys')",
    )
