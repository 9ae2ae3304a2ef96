"""Alpaca as a live broker, through alpaca-py (docs/live_trading.md)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from stocker.brokers.alpaca.broker import AlpacaBroker
from stocker.core.errors import ConfigError

if TYPE_CHECKING:
    from stocker.config import Credentials, Settings

__all__ = ["AlpacaBroker", "alpaca_broker"]


def alpaca_broker(credentials: Credentials | None, settings: Settings) -> AlpacaBroker:
    """The Alpaca account of the settings (paper unless STOCKER_ALPACA_PAPER=false; the
    URLs may point at the stand-in), or an error naming the missing keys."""
    if credentials is None:
        raise ConfigError(
            "STOCKER_BROKER=alpaca needs STOCKER_ALPACA_API_KEY and STOCKER_ALPACA_SECRET_KEY "
            "(from https://app.alpaca.markets, 'API Keys'; any pair for the stand-in)"
        )
    return AlpacaBroker(
        credentials.key,
        credentials.secret,
        paper=settings.alpaca_paper,
        trading_url=settings.alpaca_trading_url,
        stream_url=settings.alpaca_stream_url,
    )
