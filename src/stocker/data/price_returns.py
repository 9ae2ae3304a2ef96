"""Keep `price_returns` (SigmaQLab 11.3.3) in step with `prices_daily.adj_close`.

A stored return is ``adj_close[t] / adj_close[previous stored bar] - 1`` per symbol. Refreshing
is incremental: for each symbol only bars after its last stored return are computed, unless the
database shows that the stored returns no longer match the adjusted closes (a readjustment after
a new dividend or split, a backfilled or corrected bar). That check runs inside PostgreSQL (see
`stocker.store.price_returns_sql`) and sends such symbols to a full recompute, which also deletes
returns whose bar is gone.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import TYPE_CHECKING, cast

import numpy as np
import pandas as pd

from stocker.core.returns import simple_returns
from stocker.data.counts import WriteCounts
from stocker.data.symbols import priced_symbols

if TYPE_CHECKING:
    from stocker.store.uow import SqlUnitOfWork

SYMBOLS_PER_CHUNK = 250


@dataclass(kw_only=True)
class ReturnsRefreshReport(WriteCounts):
    """What `refresh_price_returns` did."""

    symbols: tuple[str, ...]
    recomputed: tuple[str, ...] = ()
    """Symbols whose whole history was recomputed (asked for, or found out of step)."""
    computed: int = 0
    """Returns computed (incremental tails plus full recomputes)."""
    first_date: dict[str, date] = field(default_factory=dict)
    """Per symbol, the first date that was computed."""


def _window_starts(
    uow: SqlUnitOfWork, symbols: Sequence[str], since: date | None, full: bool
) -> tuple[dict[str, date | None], list[str]]:
    """Per symbol, the first date whose return is wanted (None: all), and the symbols found
    out of step (recomputed in full)."""
    starts: dict[str, date | None] = dict.fromkeys(symbols)
    if full:
        return starts, list(symbols)
    recompute: list[str] = []
    for state in uow.derived.return_states(symbols):
        if state.mismatched:
            recompute.append(state.symbol)
            continue
        after_last = state.last_date + timedelta(days=1)
        starts[state.symbol] = after_last if since is None else min(after_last, since)
    return starts, sorted(recompute)


def _returns_frame(bars: pd.DataFrame) -> pd.DataFrame:
    """Long ``symbol, date, return`` from long adjusted closes."""
    if bars.empty:
        return pd.DataFrame(columns=["symbol", "date", "return"])
    wide = bars.pivot(index="date", columns="symbol", values="adj_close").sort_index()
    # Each symbol's own bars only: the return after a date it lacks spans back to its last bar.
    returns = simple_returns(wide.astype(np.float64), across_gaps=True)
    stacked = cast(pd.Series, returns.stack())  # one column level: a Series
    long = stacked.rename("return").reset_index()
    long = long[np.isfinite(long["return"].to_numpy())]
    return long[["symbol", "date", "return"]].sort_values(["symbol", "date"], ignore_index=True)


def refresh_price_returns(
    uow: SqlUnitOfWork,
    symbols: Iterable[str] | None = None,
    since: date | None = None,
    *,
    full: bool = False,
) -> ReturnsRefreshReport:
    """Bring `price_returns` up to date with `adj_close`, in one transaction.

    Parameters
    ----------
    symbols
        Symbols to refresh; None means every symbol with prices.
    since
        Also recompute returns on and after this date (e.g. after bars of that range were
        reloaded); out-of-step history is found and recomputed regardless.
    full
        Recompute every return of the symbols without checking which are in step.
    """
    with uow:
        chosen = priced_symbols(uow, symbols)
        report = ReturnsRefreshReport(symbols=tuple(chosen))
        recomputed: list[str] = []
        for offset in range(0, len(chosen), SYMBOLS_PER_CHUNK):
            chunk = chosen[offset : offset + SYMBOLS_PER_CHUNK]
            starts, recompute = _window_starts(uow, chunk, since, full)
            recomputed.extend(recompute)
            if recompute:
                report.deleted += uow.derived.delete_orphan_returns(recompute)
            frame = _returns_frame(uow.derived.adjusted_closes(starts))
            if frame.empty:
                continue
            report.computed += len(frame)
            for symbol, first in frame.groupby("symbol", sort=False)["date"].min().items():
                report.first_date[str(symbol)] = first
            report.add(uow.derived.upsert("price_returns", frame))
        report.recomputed = tuple(recomputed)
        uow.commit()
    return report
