"""Compute a date range of a derived table and make the result that range's whole content.

The trading universe and market breadth are both refreshed this way: in one transaction, read
what the computation needs, compute, upsert the rows and delete the partition's rows in
[start, end] the computation no longer produces (a symbol that fell out of the top N, a sector
that emptied). A failure anywhere leaves the table as it was.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, TypeVar

import pandas as pd

from stocker.core.errors import DataError
from stocker.data.counts import WriteCounts

if TYPE_CHECKING:
    from stocker.store.uow import SqlUnitOfWork

Detail = TypeVar("Detail")


@dataclass(frozen=True)
class RangeTable:
    """A derived table refreshed by date range: its name and (date, member, partition) key."""

    name: str
    key: tuple[str, str, str]


def check_range(start: dt.date, end: dt.date) -> None:
    """Refuse a range that ends before it starts."""
    if end < start:
        raise DataError(f"end: {end} is before start {start}; expected end on or after start")


def refresh_range(
    uow: SqlUnitOfWork,
    table: RangeTable,
    *,
    partition: str,
    start: dt.date,
    end: dt.date,
    compute: Callable[[SqlUnitOfWork], tuple[pd.DataFrame, Detail]],
) -> tuple[WriteCounts, Detail]:
    """Run `compute(uow)` (rows of `table` plus a detail for the report) in one transaction, store
    the rows as `partition`'s whole [start, end] and commit; returns the counts and the detail."""
    check_range(start, end)
    with uow:
        rows, detail = compute(uow)
        result, deleted = uow.derived.replace_range(
            table.name, rows, key=table.key, partition=partition, start=start, end=end
        )
        uow.commit()
    return WriteCounts().add(result, deleted=deleted), detail
