"""A loopback stand-in for Alpaca's trading API (REST and the `trade_updates` stream) with
scriptable misbehaviour; what the Alpaca adapter is tested against, and what a user points
`STOCKER_ALPACA_TRADING_URL` at to try live trading without an account (docs/live_trading.md)."""

from stocker.brokers.alpaca_standin.book import FAULTS, Book, FaultPlan
from stocker.brokers.alpaca_standin.server import StandIn

__all__ = ["FAULTS", "Book", "FaultPlan", "StandIn"]
