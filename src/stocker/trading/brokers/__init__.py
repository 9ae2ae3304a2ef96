"""Broker adapters behind one small protocol; the paper broker is the default."""

from stocker.trading.brokers.base import Broker, Execution
from stocker.trading.brokers.paper import PaperBroker

__all__ = ["Broker", "Execution", "PaperBroker"]
