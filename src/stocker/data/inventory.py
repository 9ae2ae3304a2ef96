"""What is stored, read in one transaction (the `stocker demo` summary)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from stocker.store.inventory import SourceSummary, TableSummary, summarize, symbols_by_source

if TYPE_CHECKING:
    from stocker.store.uow import SqlUnitOfWork

__all__ = ["Inventory", "SourceSummary", "TableSummary", "stored_inventory"]


@dataclass(frozen=True)
class Inventory:
    """Row counts and date ranges per table, and the daily bars per source."""

    tables: list[TableSummary]
    sources: list[SourceSummary]


def stored_inventory(uow: SqlUnitOfWork) -> Inventory:
    """Counts and ranges of the main tables and of `prices_daily` by source, one snapshot."""
    with uow:
        return Inventory(tables=summarize(uow), sources=symbols_by_source(uow))
