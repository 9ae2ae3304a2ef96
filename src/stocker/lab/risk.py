"""Compute and store the per-symbol risk model (SigmaQLab `risk_model`) for a date or a range.

Each date D sees the daily returns of adjusted closes dated on or before D only (one panel read
for the range, sliced per date), over the last `RiskConfig.window` sessions; the math is
`stocker.core.risk`. Betas are against `benchmark` (default the sample's S&P 500 index, `SP500`,
loaded by `stocker data load-sample`), or, with ``benchmark=None``, against the equal-weighted
mean return of the date's cross-section (a market proxy for data without an index, such as the
synthetic market). The cross-section is chosen as for factors (`stocker.lab.factors`), and a
date's rows are replaced. `risk_model` has no column for reasons: they are in the report.
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

import pandas as pd

from stocker.core.errors import DataError
from stocker.core.returns import simple_returns
from stocker.core.risk import COLUMNS, RiskConfig, risk_model
from stocker.lab.factors import (
    Progress,
    ResearchReport,
    checked_range,
    prices_known_on,
    record_date,
    research_dates,
    research_symbols,
    summarize,
    with_null_reasons,
)

if TYPE_CHECKING:
    from stocker.store.uow import SqlUnitOfWork

DEFAULT_BENCHMARK = "SP500"
EQUAL_WEIGHT = "equal-weight"
"""The name reported for the equal-weighted benchmark (``benchmark=None``)."""


def compute_risk(
    uow: SqlUnitOfWork,
    *,
    day: dt.date | None = None,
    start: dt.date | None = None,
    end: dt.date | None = None,
    universe: str | None = None,
    benchmark: str | None = DEFAULT_BENCHMARK,
    config: RiskConfig | None = None,
    progress: Progress | None = None,
) -> ResearchReport:
    """Compute the risk model for `day` (or each session of [start, end]) and store it.

    One transaction: every date is written or none.
    """
    first, last = checked_range(day, start, end)
    config = config or RiskConfig()
    report = ResearchReport(table="risk_model", start=first, end=last, universe=universe)
    reasons: list[pd.DataFrame] = []
    seen: set[str] = set()
    with uow:
        symbols = research_symbols(uow, universe)
        if benchmark is not None:
            if uow.instruments.unknown([benchmark]):
                raise DataError(
                    f"benchmark: {benchmark!r} is not a known instrument; load it (the sample's "
                    f"{DEFAULT_BENCHMARK}: stocker data load-sample) or use {EQUAL_WEIGHT!r}"
                )
            symbols = [symbol for symbol in symbols if symbol != benchmark]
        read = symbols + ([benchmark] if benchmark is not None else [])
        window_start = uow.derived.lookback_start(first, config.window + 1) or first
        prices = uow.derived.panel("adj_close", symbols=read, start=window_start, end=last)
        report.dates = research_dates(prices[symbols], day, first, last)
        for done, date in enumerate(report.dates, start=1):
            known = prices_known_on(prices[symbols], date)
            returns = simple_returns(known).iloc[1:]
            if benchmark is not None:
                bench = simple_returns(prices[benchmark].loc[: pd.Timestamp(date)]).iloc[1:]
            else:
                bench = returns.mean(axis=1, skipna=True)
            result = risk_model(
                returns,
                bench,
                day=date,
                config=config,
                benchmark_name=benchmark or EQUAL_WEIGHT,
            )
            rows = with_null_reasons(result.values, result.reasons)
            outcome, deleted = uow.factors.replace_risk(date, rows)
            report.add(outcome, deleted=deleted)
            record_date(reasons, seen, date, result.reasons, known.columns)
            if progress is not None:
                progress(done, len(report.dates))
        uow.commit()
    summarize(report, reasons, seen, COLUMNS)
    return report


def read_risk(
    uow: SqlUnitOfWork,
    start: dt.date,
    end: dt.date | None = None,
    symbols: list[str] | None = None,
) -> pd.DataFrame:
    """Stored risk rows of [start, end] (one date when `end` is None)."""
    with uow:
        return uow.factors.risk(start, end, symbols)
