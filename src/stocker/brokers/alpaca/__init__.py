"""Alpaca as a live broker, through alpaca-py (docs/live_trading.md)."""

from stocker.brokers.alpaca.broker import AlpacaBroker

__all__ = ["AlpacaBroker"]
