"""Stocker's exceptions.

StockerError
├── DataError (ValueError)        bad input: names the field, the value and what was expected
│   └── ValidationError           a row or message failed validation (carries every reason)
├── ConfigError                   settings or a config file are wrong
├── ServiceError                  PostgreSQL / Redis could not be reached or started
├── SourceError                   a vendor or file source failed
│   ├── RateLimitedError          the vendor asked us to slow down
│   └── UnknownSymbolError        the vendor does not know the symbol
├── InfeasibleError               an optimization problem has no solution
└── BrokerError                   the broker rejected or failed an order
"""

from __future__ import annotations


class StockerError(Exception):
    """Root of every error Stocker raises on purpose."""


class DataError(StockerError, ValueError):
    """Input data is wrong; the message names the field, the value and what was expected."""


class ValidationError(DataError):
    """A row or message failed validation; `reasons` lists every rule it broke."""

    def __init__(self, message: str, reasons: list[str] | None = None) -> None:
        super().__init__(message)
        self.reasons = reasons or []


class ConfigError(StockerError):
    """Settings or a config file are wrong."""


class ServiceError(StockerError):
    """PostgreSQL or Redis could not be reached or started."""


class SourceError(StockerError):
    """A vendor or file source failed."""


class RateLimitedError(SourceError):
    """The vendor rate-limited us; `retry_after_s` says when to try again if it told us."""

    def __init__(self, message: str, retry_after_s: float | None = None) -> None:
        super().__init__(message)
        self.retry_after_s = retry_after_s


class UnknownSymbolError(SourceError):
    """The vendor does not know the symbol."""


class InfeasibleError(StockerError):
    """An optimization problem has no feasible solution."""


class BrokerError(StockerError):
    """The broker rejected or failed an order."""
