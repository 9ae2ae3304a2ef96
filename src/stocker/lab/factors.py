"""Compute and store factor exposures (SigmaQLab `factor_exposures`) for a date or a range.

For each date D the use case reads only what was known on D: adjusted closes dated on or before
D (one panel read for the whole range, sliced per date) and each symbol's latest fundamentals
snapshot with ``as_of_date <= D`` (a later restatement is a later snapshot, unseen until its
own date). The math is `stocker.core.factors`.

The cross-section of a date is the universe's live members (universes keep no membership
history, so today's members are used for past dates) or, without a universe, every active
instrument; of those, the symbols with an adjusted close in the `LIVE_SESSIONS` sessions to D.
A date's stored rows are replaced by its new cross-section (one cross-section per date).

`factor_exposures` has no column for why a value is null, so the reasons are in the report
(`FactorReport.reasons`, printed by `stocker factors compute --json`); see docs/factors.md.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import pandas as pd

from stocker.core.errors import DataError
from stocker.core.factors import (
    COLUMNS,
    FactorConfig,
    factor_exposures,
    sector_labels,
    snapshot_as_of,
)
from stocker.data.counts import WriteCounts

if TYPE_CHECKING:
    from stocker.store.uow import SqlUnitOfWork

LIVE_SESSIONS = 21
"""A symbol is in a date's cross-section when it has a close in this many sessions up to it."""

Progress = Callable[[int, int], None]
"""progress(dates_done, dates_total), called after each date."""


@dataclass(kw_only=True)
class ResearchReport(WriteCounts):
    """What a factor or risk computation wrote (the shared write counts), and why values are
    null."""

    table: str
    start: dt.date
    end: dt.date
    universe: str | None
    symbols: int = 0
    dates: list[dt.date] = field(default_factory=list)
    nulls: dict[str, int] = field(default_factory=dict)
    reasons: pd.DataFrame = field(
        default_factory=lambda: pd.DataFrame(columns=["as_of_date", "symbol", "field", "reason"])
    )
    """One row per null value: ``as_of_date, symbol, field, reason``."""

    def as_json(self) -> dict[str, Any]:
        """A JSON-ready summary (dates as ISO strings, reasons as a list of objects)."""
        reasons = self.reasons.assign(as_of_date=self.reasons["as_of_date"].astype(str))
        return {
            "table": self.table,
            "start": self.start.isoformat(),
            "end": self.end.isoformat(),
            "universe": self.universe,
            "symbols": self.symbols,
            "dates": len(self.dates),
            "received": self.received,
            "inserted": self.inserted,
            "updated": self.updated,
            "unchanged": self.unchanged,
            "deleted": self.deleted,
            "nulls": self.nulls,
            "reasons": reasons.to_dict(orient="records"),
        }


def checked_range(
    day: dt.date | None, start: dt.date | None, end: dt.date | None
) -> tuple[dt.date, dt.date]:
    """`day` as a one-date range, or [start, end]; exactly one of the two forms."""
    if day is not None and (start is not None or end is not None):
        raise DataError("date: got a date and a range; expected --date D or --from A --to B")
    if day is not None:
        return day, day
    if start is None or end is None:
        raise DataError("date: expected --date D, or both --from A and --to B")
    if end < start:
        raise DataError(f"range: --to {end} is before --from {start}")
    return start, end


def research_symbols(uow: SqlUnitOfWork, universe: str | None) -> list[str]:
    """The universe's live members, or every active instrument, sorted (in an open uow)."""
    if universe is not None:
        found = uow.universes.named(universe)
        if found is None:
            known = ", ".join(item.name for item in uow.universes.all()) or "none yet"
            raise DataError(
                f"universe: {universe!r} does not exist; known universes: {known} "
                "(see `stocker universe list`)"
            )
        return sorted(member.symbol for member in uow.universes.members(found.id))
    return sorted(uow.instruments.listed()["symbol"].astype(str))


def research_dates(
    prices: pd.DataFrame, day: dt.date | None, start: dt.date, end: dt.date
) -> list[dt.date]:
    """`day` itself, or the sessions of `prices` within [start, end]."""
    if day is not None:
        return [day]
    index = prices.index[
        (prices.index >= pd.Timestamp(start)) & (prices.index <= pd.Timestamp(end))
    ]
    return [stamp.date() for stamp in index]


def prices_known_on(prices: pd.DataFrame, day: dt.date) -> pd.DataFrame:
    """The rows of `prices` dated on or before `day`, restricted to the symbols with a close in
    the last `LIVE_SESSIONS` of them."""
    known = prices.loc[: pd.Timestamp(day)]
    live = known.iloc[-LIVE_SESSIONS:].notna().any()
    return known.loc[:, live]


def with_null_reasons(values: pd.DataFrame, reasons: pd.DataFrame) -> pd.DataFrame:
    """`values` (index symbol) as rows with ``symbol`` and a ``null_reasons`` column: per symbol,
    the reason of each null field (rule 11.10.2), stored with the row."""
    rows = values.rename_axis("symbol").reset_index()
    aligned = reasons.reindex(index=values.index, columns=values.columns)
    stated = [
        {str(field): str(reason) for field, reason in row.items() if isinstance(reason, str)}
        for _, row in aligned.iterrows()
    ]
    rows["null_reasons"] = pd.Series(stated, index=rows.index, dtype=object)
    return rows


def long_reasons(day: dt.date, reasons: pd.DataFrame) -> pd.DataFrame:
    """A (symbols × fields) reasons frame as rows ``as_of_date, symbol, field, reason``."""
    long = (
        reasons.rename_axis("symbol")
        .reset_index()
        .melt(id_vars="symbol", var_name="field", value_name="reason")
        .dropna(subset=["reason"])
    )
    long.insert(0, "as_of_date", day)
    return long.sort_values(["symbol", "field"]).reset_index(drop=True)


def compute_factors(
    uow: SqlUnitOfWork,
    *,
    day: dt.date | None = None,
    start: dt.date | None = None,
    end: dt.date | None = None,
    universe: str | None = None,
    weights: Mapping[str, float] | None = None,
    sector_neutral: bool = False,
    winsorize: tuple[float, float] = (0.01, 0.99),
    progress: Progress | None = None,
) -> ResearchReport:
    """Compute exposures for `day` (or each session of [start, end]) and store them.

    One transaction: every date is written or none. See the module doc for what each date sees.
    """
    first, last = checked_range(day, start, end)
    config = FactorConfig(
        weights=dict(weights) if weights is not None else FactorConfig().weights,
        lower_quantile=winsorize[0],
        upper_quantile=winsorize[1],
        sector_neutral=sector_neutral,
    )
    sessions = max(config.momentum_lookback, config.volatility_window) + 1
    report = ResearchReport(table="factor_exposures", start=first, end=last, universe=universe)
    reasons: list[pd.DataFrame] = []
    with uow:
        symbols = research_symbols(uow, universe)
        window_start = uow.derived.lookback_start(first, sessions) or first
        prices = uow.derived.panel("adj_close", symbols=symbols, start=window_start, end=last)
        history = uow.factors.fundamentals_between(first, last, symbols)
        instrument_sectors = uow.derived.sectors(symbols)
        report.dates = research_dates(prices, day, first, last)
        seen: set[str] = set()
        for done, date in enumerate(report.dates, start=1):
            known = prices_known_on(prices, date)
            snapshots = snapshot_as_of(history, date)
            sectors = sector_labels(snapshots, instrument_sectors, list(known.columns))
            result = factor_exposures(snapshots, known, day=date, config=config, sectors=sectors)
            rows = with_null_reasons(result.exposures, result.reasons)
            outcome, deleted = uow.factors.replace_exposures(date, rows)
            report.add(outcome, deleted=deleted)
            record_date(reasons, seen, date, result.reasons, known.columns)
            if progress is not None:
                progress(done, len(report.dates))
        uow.commit()
    summarize(report, reasons, seen, COLUMNS)
    return report


def record_date(
    reasons: list[pd.DataFrame],
    seen: set[str],
    day: dt.date,
    null_reasons: pd.DataFrame,
    symbols: Sequence[str] | pd.Index,
) -> None:
    """Keep one computed date's null reasons and symbols for the report's summary."""
    reasons.append(long_reasons(day, null_reasons))
    seen.update(str(symbol) for symbol in symbols)


def summarize(
    report: ResearchReport, reasons: list[pd.DataFrame], seen: set[str], columns: Sequence[str]
) -> None:
    """Fill the report's symbol count, reasons and null counts per field."""
    report.symbols = len(seen)
    if reasons:
        report.reasons = pd.concat(reasons, ignore_index=True)
    counts = report.reasons["field"].value_counts()
    report.nulls = {name: int(counts.get(name, 0)) for name in columns}


def read_factors(
    uow: SqlUnitOfWork,
    start: dt.date,
    end: dt.date | None = None,
    symbols: Sequence[str] | None = None,
) -> pd.DataFrame:
    """Stored exposures of [start, end] (one date when `end` is None)."""
    with uow:
        return uow.factors.exposures(start, end, symbols)
