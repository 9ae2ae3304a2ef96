"""Load the sample data (real prices shipped with skfolio, see `stocker.sample.skfolio`).

One use case: register the sample's instruments and upsert its bars through the unit of work,
in one transaction. Reloading writes nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from typing import TYPE_CHECKING

from stocker.data.counts import WriteCounts
from stocker.sample.skfolio import SAMPLE_DESCRIPTION, DatasetSummary, sample_frames

if TYPE_CHECKING:
    from stocker.store.uow import SqlUnitOfWork

__all__ = ["SAMPLE_DESCRIPTION", "SampleLoadReport", "load_sample"]


@dataclass
class SampleLoadReport:
    """The outcome of `load_sample`: per-dataset summaries and per-table upsert counts."""

    datasets: list[DatasetSummary]
    tables: dict[str, WriteCounts]
    description: str = SAMPLE_DESCRIPTION

    @property
    def symbols(self) -> int:
        return sum(dataset.symbols for dataset in self.datasets)

    @property
    def rows(self) -> int:
        return sum(dataset.rows for dataset in self.datasets)

    @property
    def first_date(self) -> date:
        return min(dataset.first_date for dataset in self.datasets)

    @property
    def last_date(self) -> date:
        return max(dataset.last_date for dataset in self.datasets)


def load_sample(
    uow: SqlUnitOfWork, *, progress: Callable[[int, int], None] | None = None
) -> SampleLoadReport:
    """Register the sample's instruments and upsert its bars, all in one transaction.

    Reloading writes nothing (every row reports unchanged). `progress(rows_done, rows_total)` is
    called after each table.
    """
    frames = sample_frames()
    total = len(frames.instruments) + len(frames.prices)
    tables: dict[str, WriteCounts] = {}
    with uow:
        tables["instrument_info"] = WriteCounts().add(
            uow.derived.upsert("instrument_info", frames.instruments)
        )
        if progress is not None:
            progress(len(frames.instruments), total)
        tables["prices_daily"] = WriteCounts().add(
            uow.derived.upsert("prices_daily", frames.prices)
        )
        uow.commit()
    if progress is not None:
        progress(total, total)
    return SampleLoadReport(datasets=frames.datasets, tables=tables)
