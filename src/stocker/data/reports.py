"""What an ingest did, per table and per batch (the counts are `stocker.data.counts`' one type)."""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field

import pandas as pd

from stocker.data.counts import WriteCounts

VENDOR_TOLERANCE = 1e-3
"""Relative difference beyond which a vendor's adjusted close is reported as disagreeing."""


@dataclass(kw_only=True)
class TableReport(WriteCounts):
    """What became of one table of a batch."""

    table: str
    batch_id: uuid.UUID = field(default_factory=uuid.uuid4)
    quarantined: int = 0
    already_quarantined: int = 0
    """Refused rows not kept again: already in quarantine from an earlier ingest of the same
    payload (a re-run), or repeated in it. received = inserted + updated + unchanged +
    quarantined + already_quarantined when the rejects are kept."""
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

    @property
    def already_quarantined(self) -> int:
        return sum(report.already_quarantined for report in self.tables)


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


def vendor_warnings(disagreements: pd.DataFrame) -> list[str]:
    """One line per symbol: where the vendor's adjusted close and ours part, which one Stocker
    stored, and what to do to have the other."""
    lines: list[str] = []
    if disagreements.empty:
        return lines
    for symbol, rows in disagreements.groupby("symbol", sort=True):
        days = sorted(pd.Timestamp(day).date() for day in rows["date"])
        span = days[0].isoformat() if len(days) == 1 else f"{days[0]}..{days[-1]}"
        head = (
            f"{symbol}: the vendor's adj_close differs from Stocker's by more than "
            f"{VENDOR_TOLERANCE:.1%} on {len(days)} new or changed date(s) ({span}); "
        )
        if (rows["kept"] == "vendor").all():
            lines.append(
                head + "Stocker keeps the vendor's, as it knows no corporate action after "
                "these dates; to derive its own, load the symbol's splits and dividends "
                "(stocker data ingest --table corporate_actions)."
            )
        else:
            lines.append(
                head + "Stocker keeps its own, derived from the corporate actions it holds; "
                "to take the vendor's, make those actions match the vendor's (correct or add "
                "splits and dividends with stocker data ingest --table corporate_actions) and "
                "the adjusted closes are re-derived."
            )
    return lines
