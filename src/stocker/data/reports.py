"""What an ingest did, per table and per batch (the counts are `stocker.data.counts`' one type)."""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field

import pandas as pd

from stocker.data.counts import WriteCounts


@dataclass(kw_only=True)
class TableReport(WriteCounts):
    """What became of one table of a batch."""

    table: str
    batch_id: uuid.UUID = field(default_factory=uuid.uuid4)
    quarantined: int = 0
    registered_symbols: list[str] = field(default_factory=list)
    reasons: Counter[str] = field(default_factory=Counter)
    """How many refused rows broke each rule (`unparseable`: the source could not parse the
    row; `column_type`: the column types refused a value; else the rule code)."""


@dataclass
class IngestReport:
    """The summary of one batch: per-table counts, adjustment work, events and warnings."""

    source: str
    tables: list[TableReport] = field(default_factory=list)
    events: int = 0
    adjusted_symbols: tuple[str, ...] = ()
    adjusted_rows: int = 0
    vendor_disagreements: pd.DataFrame = field(default_factory=pd.DataFrame)
    """Dates where a vendor's adj_close and ours differ (date, symbol, computed, vendor, …)."""
    warnings: list[str] = field(default_factory=list)

    def table(self, name: str) -> TableReport:
        for report in self.tables:
            if report.table == name:
                return report
        raise KeyError(name)

    @property
    def quarantined(self) -> int:
        return sum(report.quarantined for report in self.tables)


def summary_rows(report: IngestReport) -> Iterable[tuple[str, int, int, int, int, int]]:
    """(table, received, inserted, updated, unchanged, quarantined) per table, for display."""
    for table in report.tables:
        yield (
            table.table,
            table.received,
            table.inserted,
            table.updated,
            table.unchanged,
            table.quarantined,
        )
