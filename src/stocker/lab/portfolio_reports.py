"""What portfolio construction returns: one rebalance's report and a portfolio's view.

Plain frozen dataclasses with `as_json()`; the CLI renders them and `stocker demo` prints one.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from stocker.store.repositories.portfolios import Portfolio, StoredConstraints

NO_SECTOR = "(no sector)"


@dataclass(frozen=True)
class OptimizationReport:
    """One rebalance: the stored weights and everything needed to audit them."""

    code: str
    day: dt.date
    method: str
    group: str
    expected_return_mode: str
    window_start: dt.date
    window_end: dt.date
    observations: int
    solver: str
    attempts: tuple[tuple[str, str], ...]
    objective: float
    objective_name: str
    sum_before_normalization: float
    weights: pd.Series
    risk_contributions: pd.Series
    """Each member's share of portfolio variance, wᵢ(Σw)ᵢ / wᵀΣw (they sum to 1)."""
    sectors: dict[str, str]
    sector_totals: pd.Series
    constraints: StoredConstraints
    previous_date: dt.date | None
    turnover: float | None
    """One-way turnover ½·Σ|w − previous| against the previous rebalance (None without one)."""
    psd_repair: str | None
    notes: tuple[str, ...] = ()
    replaced: int = 0
    deleted_later: tuple[dt.date, ...] = ()
    """Later rebalance dates deleted (`replace_later`): they depended on the weights before them."""

    def as_json(self) -> dict[str, Any]:
        """A JSON-ready summary."""
        return {
            "code": self.code,
            "date": self.day.isoformat(),
            "method": self.method,
            "group": self.group,
            "expected_return_mode": self.expected_return_mode,
            "window": {
                "start": self.window_start.isoformat(),
                "end": self.window_end.isoformat(),
                "observations": self.observations,
            },
            "solver": self.solver,
            "attempts": [list(attempt) for attempt in self.attempts],
            "objective": {"name": self.objective_name, "value": self.objective},
            "sum_before_normalization": self.sum_before_normalization,
            "weights": [
                {
                    "symbol": symbol,
                    "weight": float(self.weights[symbol]),
                    "risk_contribution": float(self.risk_contributions[symbol]),
                    "sector": self.sectors.get(symbol, NO_SECTOR),
                }
                for symbol in self.weights.index
            ],
            "sector_totals": {str(k): float(v) for k, v in self.sector_totals.items()},
            "constraints": self.constraints.as_json(),
            "previous_date": None if self.previous_date is None else self.previous_date.isoformat(),
            "turnover": self.turnover,
            "psd_repair": self.psd_repair,
            "notes": list(self.notes),
            "replaced_rows": self.replaced,
            "deleted_later": [day.isoformat() for day in self.deleted_later],
        }


@dataclass(frozen=True)
class PortfolioView:
    """A portfolio, its constraints and its latest stored weights (what `show` prints)."""

    portfolio: Portfolio
    constraints: StoredConstraints
    members: int
    rebalance_dates: list[dt.date]
    latest_date: dt.date | None
    weights: pd.Series
    sectors: dict[str, str] = field(default_factory=dict)
    sector_totals: pd.Series = field(default_factory=lambda: pd.Series(dtype="float64"))

    def as_json(self) -> dict[str, Any]:
        """A JSON-ready summary."""
        item = self.portfolio
        return {
            "code": item.code,
            "name": item.name,
            "description": item.description,
            "group": item.group,
            "method": item.optimizer_type,
            "expected_return_mode": item.expected_return_mode,
            "initial_capital": item.initial_capital,
            "members": self.members,
            "constraints": self.constraints.as_json(),
            "rebalance_dates": [day.isoformat() for day in self.rebalance_dates],
            "latest_date": None if self.latest_date is None else self.latest_date.isoformat(),
            "weights": [
                {
                    "symbol": symbol,
                    "weight": float(weight),
                    "sector": self.sectors.get(str(symbol), NO_SECTOR),
                }
                for symbol, weight in self.weights.items()
            ],
            "sector_totals": {str(k): float(v) for k, v in self.sector_totals.items()},
        }


def sector_totals(weights: pd.Series, sectors: dict[str, str]) -> pd.Series:
    """Weight per sector, largest first (members without a sector under `NO_SECTOR`)."""
    if weights.empty:
        return pd.Series(dtype="float64", name="weight")
    labels = [sectors.get(str(symbol), NO_SECTOR) for symbol in weights.index]
    totals = weights.groupby(labels).sum()
    return totals.sort_values(ascending=False).rename("weight")
