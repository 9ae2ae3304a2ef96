"""What a walk-forward backtest reads, the completeness check (rule 4), and the weights it
decides at each rebalance date from data known on that date only."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from stocker.core.errors import DataError

if TYPE_CHECKING:
    from stocker.lab.backtests import Progress
    from stocker.store.repositories.portfolios import Portfolio, StoredConstraints
    from stocker.store.uow import SqlUnitOfWork

MISSING_LISTED = 20
"""How many missing (symbol, date) pairs a refusal names (it counts them all)."""


@dataclass(frozen=True)
class Inputs:
    """Everything the walk-forward reads, read once."""

    portfolio: Portfolio
    constraints: StoredConstraints
    history: pd.DataFrame
    """Members: symbol, joined, left (None while a member), founding."""
    close: pd.DataFrame
    """Adjusted closes, dates × every symbol ever in the group, from the first window on."""
    opens: pd.DataFrame | None
    """Adjusted opens (open × adj_close / close) under next-open execution."""
    sessions: pd.DatetimeIndex
    sectors: dict[str, str]
    lookback: int
    execution: str
    version: dict[str, Any]

    def members_on(self, day: pd.Timestamp) -> list[str]:
        """The group's members on `day`: the founding members and those that joined by then,
        less those removed by then (the group keeps no earlier history than its founding)."""
        on = day.date()
        history = self.history
        joined = history["founding"].astype(bool) | (history["joined"] <= on)
        left = history["left"].map(lambda value: value is not None and value <= on)
        return [str(symbol) for symbol in history.loc[joined & ~left, "symbol"]]

    def window(self, day: pd.Timestamp) -> pd.DataFrame:
        """The last `lookback` + 1 adjusted closes up to and including `day`."""
        position = _position(self.close.index, day)
        return self.close.iloc[max(0, position - self.lookback) : position + 1]

    def missing(self, dates: pd.DatetimeIndex) -> list[str]:
        """Every (symbol, date) a rebalance needs and the store lacks."""
        from stocker.lab.construction import MIN_RETURNS

        found: list[str] = []
        index = self.close.index
        for symbol in self.history["symbol"]:
            if not self.close[symbol].notna().any():
                found.append(f"{symbol} (no prices up to {index[-1].date()})")
        for day in dates:
            members = self.members_on(day)
            window = self.window(day)
            if len(window) < MIN_RETURNS + 1:
                found.append(f"{day.date()} (only {len(window) - 1} daily returns before it)")
                continue
            traded = window[members].notna().any()
            listed = [symbol for symbol in members if traded[symbol]]
            needed = [day]
            position = _position(index, day)
            if self.execution == "next_open" and position + 1 < len(index):
                needed.append(index[position + 1])
            for need in needed:
                absent = self.close.loc[need, listed].isna()
                found += [f"{symbol} {need.date()}" for symbol in absent.index[absent.to_numpy()]]
        return list(dict.fromkeys(found))

    def refuse_incomplete(self, dates: pd.DatetimeIndex) -> None:
        """Rule 4: a DataError naming what is missing, before any run is queued."""
        missing = self.missing(dates)
        if missing:
            shown = ", ".join(missing[:MISSING_LISTED])
            more = (
                f" and {len(missing) - MISSING_LISTED} more"
                if len(missing) > MISSING_LISTED
                else ""
            )
            raise DataError(
                f"backtest: data incomplete for portfolio {self.portfolio.code!r}, missing "
                f"{len(missing)}: {shown}{more}; load them (`stocker data ingest`) or remove "
                "the symbols from the group"
            )


def _position(index: pd.Index, day: pd.Timestamp) -> int:
    return int(index.get_indexer(pd.DatetimeIndex([day]))[0])


def read_inputs(
    uow: SqlUnitOfWork, code: str, start: dt.date, end: dt.date, lookback: int, execution: str
) -> Inputs:
    """Read the portfolio, its group's history, prices and sectors (inside `uow`)."""
    from stocker.store.repositories.portfolios import StoredConstraints

    portfolio = uow.portfolios.named(code)
    if portfolio is None:
        known = ", ".join(uow.portfolios.codes()[:10]) or "none yet"
        raise DataError(f"portfolio: {code!r} does not exist; known portfolios: {known}")
    if portfolio.group_id is None:
        raise DataError(f"portfolio {code!r}: its group no longer exists")
    history = uow.backtests.member_history(portfolio.group_id)
    if history.empty:
        raise DataError(f"group {portfolio.group!r}: has no members; add some first")
    symbols = [str(symbol) for symbol in history["symbol"]]
    window_start = uow.derived.lookback_start(start, lookback + 1) or start
    panels = uow.derived.panels(
        ["adj_close", "open", "close"], symbols=symbols, start=window_start, end=end
    )
    close = panels["adj_close"].reindex(columns=symbols)
    close.index = pd.DatetimeIndex(close.index)
    opens = None
    if execution == "next_open":
        raw_close = panels["close"].reindex(index=close.index, columns=symbols)
        opens = panels["open"].reindex(index=close.index, columns=symbols) * close / raw_close
    sessions = close.index[
        (close.index >= pd.Timestamp(start)) & (close.index <= pd.Timestamp(end))
    ]
    if len(sessions) == 0:
        raise DataError(f"prices: group {portfolio.group!r} has no prices from {start} to {end}")
    sectors = {s: sector for s, sector in uow.derived.sectors(symbols).items() if sector}
    constraints = uow.portfolios.constraints(portfolio.id) or StoredConstraints()
    version = uow.backtests.data_version(symbols, window_start, end)
    version["members"] = [
        [str(row.symbol), str(row.joined), str(row.left)] for row in history.itertuples()
    ]
    return Inputs(
        portfolio=portfolio,
        constraints=constraints,
        history=history,
        close=close,
        opens=opens,
        sessions=pd.DatetimeIndex(sessions),
        sectors=sectors,
        lookback=lookback,
        execution=execution,
        version=version,
    )


def _drifted(
    inputs: Inputs, weights: pd.Series, decided: pd.Timestamp, day: pd.Timestamp
) -> pd.Series:
    """Target weights decided on `decided`, moved by the prices from their fill to `day`'s
    close (cash stays put), as fractions of the NAV on `day`."""
    index = inputs.close.index
    position = _position(index, decided) + (1 if inputs.execution == "next_open" else 0)
    symbols = list(weights.index)
    fill = inputs.close.iloc[position][symbols]
    if inputs.opens is not None:
        fill = inputs.opens.iloc[position][symbols].fillna(fill)
    marks = inputs.close.loc[:day, symbols].ffill().iloc[-1]
    ratio = (marks / fill).replace([np.inf, -np.inf], np.nan).fillna(1.0)
    values = weights * ratio
    return values / (1.0 - float(weights.sum()) + float(values.sum()))


def decide_weights(
    uow: SqlUnitOfWork,
    inputs: Inputs,
    dates: pd.DatetimeIndex,
    execution: str,
    progress: Progress | None = None,
) -> pd.DataFrame:
    """The target weights of every rebalance date (dates × symbols, 0 for names not held),
    each decided from the members, prices and exposures known on that date."""
    from stocker.core.optimize import optimize
    from stocker.core.returns import simple_returns
    from stocker.lab.construction import EXPECTED_RETURN_MODES
    from stocker.lab.portfolio_constraints import rebalance_constraints

    portfolio = inputs.portfolio
    mode = EXPECTED_RETURN_MODES[portfolio.expected_return_mode or "historical"]
    rows: list[pd.Series] = []
    previous: tuple[pd.Timestamp, pd.Series] | None = None
    for count, day in enumerate(dates, start=1):
        window = inputs.window(day)
        members = inputs.members_on(day)
        eligible = [
            symbol
            for symbol in members
            if pd.notna(window[symbol].iloc[0]) and pd.notna(window[symbol].iloc[-1])
        ]
        if not eligible:
            raise DataError(f"{day.date()}: no member of group {portfolio.group!r} has prices")
        returns = simple_returns(window[eligible], across_gaps=True).iloc[1:].fillna(0.0)
        before = None
        if previous is not None:
            drifted = _drifted(inputs, previous[1], previous[0], day)
            before = (previous[0].date(), drifted.reindex(eligible, fill_value=0.0))
        sectors = {
            symbol: inputs.sectors[symbol] for symbol in eligible if symbol in inputs.sectors
        }
        constraints = rebalance_constraints(
            uow, inputs.constraints, eligible, sectors, before, day.date()
        )
        found = optimize(
            returns,
            method=portfolio.optimizer_type,  # type: ignore[arg-type]
            constraints=constraints,
            expected_returns=mode,  # type: ignore[arg-type]
        )
        weights = found.reindex(eligible).fillna(0.0).astype(np.float64)
        rows.append(weights.rename(day))
        previous = (day, weights[weights != 0.0])
        if progress is not None:
            progress(count, len(dates))
    schedule = pd.DataFrame(rows).reindex(columns=inputs.close.columns).fillna(0.0)
    schedule.index = pd.DatetimeIndex(dates)
    return schedule
