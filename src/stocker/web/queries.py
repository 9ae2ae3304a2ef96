"""The read models the pages show, each read in one transaction of a unit of work.

Only reads: the SQL is `stocker.store.repositories.web_reads.WebReads`; here the rows are grouped
into what one page needs.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

UnitOfWork = Any
"""The store's unit of work (`App.uow()`); the web app does not import the store."""

RECONCILIATION_TABLE = "reconciliation_breaks"
HALTS_TABLE = "trading_halts"
"""Open breaks and the halt switch are shown when live trading's tables exist in the schema."""


@dataclass(frozen=True)
class TradingPortfolio:
    """One trading portfolio on the dashboard: its history and the latest day's decisions."""

    id: str
    history: list[dict[str, Any]]
    latest: dict[str, Any] | None
    target_day: dt.date | None
    targets: list[dict[str, Any]]
    holdings: list[dict[str, Any]]
    halt: dict[str, Any] | None = None


@dataclass(frozen=True)
class Dashboard:
    portfolios: list[TradingPortfolio]
    signal_day: dt.date | None
    signals: list[dict[str, Any]]
    orders: list[dict[str, Any]]
    breaks: list[dict[str, Any]] | None = None
    sources: list[Any] = field(default_factory=list)
    can_halt: bool = False


def dashboard(units: Callable[[], UnitOfWork]) -> Dashboard:
    """Every trading portfolio's NAV history, exposures, targets; signals, orders and fills;
    the freshness of each source's daily bars."""
    from stocker.data.inventory import stored_inventory

    sources = stored_inventory(units()).sources
    with units() as uow:
        reads = uow.reads.web
        can_halt = reads.table_exists(HALTS_TABLE)
        halts = reads.halts() if can_halt else {}
        portfolios = []
        for portfolio_id in reads.trading_portfolios():
            history = reads.state_history(portfolio_id)
            latest = history[-1] if history else None
            target_day = reads.latest_target_date(portfolio_id)
            portfolios.append(
                TradingPortfolio(
                    id=portfolio_id,
                    history=history,
                    latest=latest,
                    target_day=target_day,
                    targets=reads.targets_on(portfolio_id, target_day) if target_day else [],
                    holdings=reads.holdings_on(portfolio_id, latest["date"]) if latest else [],
                    halt=halts.get(portfolio_id),
                )
            )
        signal_day = reads.latest_signal_date()
        signals = reads.signals_on(signal_day) if signal_day else []
        orders = reads.orders(limit=50)
        breaks = None
        if reads.table_exists(RECONCILIATION_TABLE):
            breaks = reads.open_breaks()
    return Dashboard(
        portfolios=portfolios,
        signal_day=signal_day,
        signals=signals,
        orders=orders,
        breaks=breaks,
        sources=sources,
        can_halt=can_halt,
    )


def coverage(uow: UnitOfWork) -> list[dict[str, Any]]:
    """Daily bars per symbol and source."""
    with uow:
        return uow.reads.web.coverage()


def orders(uow: UnitOfWork, portfolio_id: str | None = None) -> list[dict[str, Any]]:
    """The latest orders with what was filled."""
    with uow:
        return uow.reads.web.orders(portfolio_id, limit=500)


def sectors(uow: UnitOfWork) -> list[str]:
    """Every sector label (for the builder's sector caps)."""
    with uow:
        return uow.reads.web.sectors()


def latest_bar_date(uow: UnitOfWork) -> dt.date | None:
    """The newest daily bar's date (what a screen or an optimization defaults to)."""
    with uow:
        found = uow.reads.web.latest_bar_date()
    return found if isinstance(found, dt.date) else None


def research_portfolios(uow: UnitOfWork) -> list[dict[str, Any]]:
    """Research portfolios: code, name, group, method, latest rebalance."""
    with uow:
        return uow.reads.web.research_portfolios()
