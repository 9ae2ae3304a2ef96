"""What a walk-forward backtest reads, the completeness check (rule 4), and the weights it
decides at each rebalance date from data known on that date only."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from functools import cached_property
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from stocker.core.errors import DataError

if TYPE_CHECKING:
    from stocker.lab.backtests import Progress
    from stocker.store.panel_cache import PanelCache
    from stocker.store.repositories.portfolios import Portfolio, StoredConstraints
    from stocker.store.uow import SqlUnitOfWork

CLOSED_FORM = ("equal_weight", "inverse_volatility")
"""Methods whose weights the walk-forward computes directly (as `stocker.core.optimize` does)."""
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

    @cached_property
    def _membership(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Per column of `close`: joined, left (NaT while a member), founding; and the column
        of each history row."""
        history = self.history
        joined = pd.to_datetime(history["joined"]).to_numpy().astype("datetime64[D]")
        left = pd.to_datetime(history["left"]).to_numpy().astype("datetime64[D]")
        founding = history["founding"].to_numpy(dtype=bool)
        columns = self.close.columns.get_indexer(pd.Index(history["symbol"].astype(str)))
        return joined, left, founding, columns

    @cached_property
    def _values(self) -> np.ndarray:
        return self.close.to_numpy(dtype=np.float64)

    @cached_property
    def _returns(self) -> np.ndarray:
        """Daily returns of the whole panel across gaps: a window's returns after its first
        row are these rows (the first row of an eligible name is a close, so no gap crosses
        the window's start)."""
        from stocker.core.returns import simple_returns

        return simple_returns(self.close, across_gaps=True).to_numpy(dtype=np.float64)

    @cached_property
    def _symbols(self) -> np.ndarray:
        return np.asarray([str(symbol) for symbol in self.close.columns], dtype=object)

    @cached_property
    def _open_values(self) -> np.ndarray | None:
        return None if self.opens is None else self.opens.to_numpy(dtype=np.float64)

    def member_mask(self, day: pd.Timestamp) -> np.ndarray:
        """Which columns of `close` are members on `day`: the founding members and those that
        joined by then, less those removed by then (the group keeps no earlier history than its
        founding)."""
        on = np.datetime64(day.date(), "D")
        joined, left, founding, columns = self._membership
        member = (founding | (joined <= on)) & ~(~np.isnat(left) & (left <= on))
        mask = np.zeros(self.close.shape[1], dtype=bool)
        mask[columns[member]] = True
        return mask

    def members_on(self, day: pd.Timestamp) -> list[str]:
        """The group's members on `day` (see `member_mask`)."""
        return [str(symbol) for symbol in self.close.columns[self.member_mask(day)]]

    def window(self, day: pd.Timestamp) -> pd.DataFrame:
        """The last `lookback` + 1 adjusted closes up to and including `day`."""
        position = _position(self.close.index, day)
        return self.close.iloc[max(0, position - self.lookback) : position + 1]

    def missing(self, dates: pd.DatetimeIndex) -> list[str]:
        """Every (symbol, date) a rebalance needs and the store lacks."""
        from stocker.lab.construction import MIN_RETURNS

        found: list[str] = []
        index = self.close.index
        symbols = self._symbols
        values = self._values
        positions = _positions(index, dates)
        firsts = np.maximum(0, positions - self.lookback)
        known = _closes_before(values, np.r_[firsts, positions + 1, len(index)])
        for symbol in symbols[known[len(index)] == 0]:
            found.append(f"{symbol} (no prices up to {index[-1].date()})")
        for day, position, first in zip(dates, positions, firsts, strict=True):
            if position - first < MIN_RETURNS:
                found.append(f"{day.date()} (only {position - first} daily returns before it)")
                continue
            traded = self.member_mask(day) & (known[position + 1] - known[first] > 0)
            needed = [position]
            if self.execution == "next_open" and position + 1 < len(index):
                needed.append(position + 1)
            for row in needed:
                absent = traded & np.isnan(values[row])
                found += [f"{symbol} {index[row].date()}" for symbol in symbols[absent]]
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
    """Row of session `day` in `index` (-1 when it is not one)."""
    return int(_positions(index, pd.DatetimeIndex([day]))[0])


def _positions(index: pd.Index, days: pd.DatetimeIndex) -> np.ndarray:
    """Rows of sessions `days` in the sorted `index` (-1 for a day that is not one)."""
    values = pd.DatetimeIndex(index).asi8
    wanted = pd.DatetimeIndex(days).as_unit(pd.DatetimeIndex(index).unit).asi8
    found = np.searchsorted(values, wanted)
    clipped = np.minimum(found, len(values) - 1)
    hit = (found < len(values)) & (values[clipped] == wanted) if len(values) else found < 0
    return np.where(hit, found, -1).astype(np.int64)


def _closes_before(values: np.ndarray, rows: np.ndarray) -> dict[int, np.ndarray]:
    """Per row number r of `rows`: how many closes each column has in rows before r — the
    running count at those rows only, one pass over the panel (none without gaps)."""
    wanted = [int(row) for row in np.unique(np.clip(rows, 0, len(values)))]
    if not np.isnan(np.min(values, initial=np.inf)):  # no gap: r closes before row r
        return {row: np.full(values.shape[1], row, dtype=np.int64) for row in wanted}
    result: dict[int, np.ndarray] = {}
    running = np.zeros(values.shape[1], dtype=np.int64)
    previous = 0
    for row in wanted:
        running = running + np.count_nonzero(~np.isnan(values[previous:row]), axis=0)
        result[row], previous = running, row
    return result


def read_inputs(
    uow: SqlUnitOfWork,
    code: str,
    start: dt.date,
    end: dt.date,
    lookback: int,
    execution: str,
    cache: PanelCache | None = None,
) -> Inputs:
    """Read the portfolio, its group's history, prices and sectors (inside `uow`); the price
    panels through `cache` when given (kept under the home directory, re-read only after an
    ingest changed them)."""
    from stocker.store.panel_cache import data_version
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
    window_start = uow.backtests.lookback_start(start, lookback + 1) or start
    fields = ["adj_close", "open", "close"] if execution == "next_open" else ["adj_close"]
    if cache is not None:
        panels, prices_version = cache.read(
            uow, fields, symbols=symbols, start=window_start, end=end
        )
    else:
        prices_version = data_version(uow, symbols=symbols, start=window_start, end=end)
        panels = uow.derived.panels(fields, symbols=symbols, start=window_start, end=end)
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
    version: dict[str, Any] = {"prices": prices_version, "from": str(window_start), "to": str(end)}
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


def _closed_form(method: str, window: np.ndarray, names: pd.Index) -> np.ndarray:
    """`stocker.core.optimize.optimize(returns, method)`'s weights for equal weight and
    inverse volatility (the same operations, equal to the last bits of a sum), without the
    risk figures the optimizer reports and a backtest does not use. `window` holds the returns
    (NaN: 0)."""
    if method == "equal_weight":
        raw = np.full(window.shape[1], 1.0 / window.shape[1])
    else:
        values = np.where(np.isnan(window), 0.0, window)
        variances = values.var(axis=0, ddof=1)
        if not (np.all(np.isfinite(variances)) and np.all(variances > 0)):
            bad = [str(s) for s, v in zip(names, variances, strict=True) if not v > 0]
            raise DataError(f"returns: zero or undefined variance for {bad[:10]}")
        raw = 1.0 / np.sqrt(variances)
    return raw / float(raw.sum())


def _drifted(
    inputs: Inputs, weights: np.ndarray, held: np.ndarray, decided: pd.Timestamp, day: pd.Timestamp
) -> np.ndarray:
    """Target weights `weights` of columns `held`, decided on `decided`, moved by the prices
    from their fill to `day`'s close (cash stays put), as fractions of the NAV on `day`."""
    index = inputs.close.index
    values = inputs._values
    position = _position(index, decided) + (1 if inputs.execution == "next_open" else 0)
    fill = values[position, held]
    if inputs._open_values is not None:
        opens = inputs._open_values[position, held]
        fill = np.where(np.isnan(opens), fill, opens)
    end = _position(index, day)
    marks = values[end, held]
    if np.isnan(marks).any():  # the last close before `day` of names without one on it
        marks = inputs.close.iloc[: end + 1, held].ffill().to_numpy(dtype=np.float64)[-1]
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = marks / fill
    ratio[~np.isfinite(ratio)] = 1.0
    moved = weights * ratio
    return moved / (1.0 - float(weights.sum()) + float(moved.sum()))


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
    from stocker.lab.portfolio_constraints import (
        canonical_mode,
        expected_returns_for,
        rebalance_constraints,
    )

    portfolio = inputs.portfolio
    group = portfolio.group or ""
    mode = canonical_mode(portfolio.expected_return_mode or "historical")
    # Object-dtype labels: pandas' default Arrow strings are slow to iterate name by name.
    columns = pd.Index(inputs._symbols, dtype=object)
    index = inputs.close.index
    values = inputs._values
    schedule = np.zeros((len(dates), len(columns)))
    # Equal weight and inverse volatility honour no constraint (the optimizer refuses any):
    # with none stored, their weights need neither the previous weights nor the optimizer.
    closed_form = (
        portfolio.optimizer_type in CLOSED_FORM and inputs.constraints == type(inputs.constraints)()
    )
    previous: tuple[pd.Timestamp, np.ndarray, np.ndarray] | None = None
    positions = _positions(index, dates)
    for count, (day, position) in enumerate(zip(dates, positions, strict=True), start=1):
        first = max(0, int(position) - inputs.lookback)
        bounds = ~np.isnan(values[first]) & ~np.isnan(values[position])
        chosen = np.flatnonzero(inputs.member_mask(day) & bounds)
        if not len(chosen):
            raise DataError(f"{day.date()}: no member of group {portfolio.group!r} has prices")
        eligible = pd.Index(inputs._symbols[chosen], dtype=object)
        if closed_form and portfolio.optimizer_type == "equal_weight":  # needs no returns
            no_returns = np.empty((0, len(chosen)))
            schedule[count - 1, chosen] = _closed_form("equal_weight", no_returns, eligible)
            if progress is not None:
                progress(count, len(dates))
            continue
        window = inputs._returns[first + 1 : position + 1, chosen]
        if closed_form:
            schedule[count - 1, chosen] = _closed_form(
                str(portfolio.optimizer_type), window, eligible
            )
            if progress is not None:
                progress(count, len(dates))
            continue
        returns = pd.DataFrame(np.where(np.isnan(window), 0.0, window), columns=eligible)
        before = None
        if previous is not None:
            decided, held, targets = previous
            drifted = pd.Series(_drifted(inputs, targets, held, decided, day), index=columns[held])
            # Every name held, members or not: one no longer eligible is sold (target 0) and
            # `rebalance_constraints` counts that sale in the turnover limit, as construction
            # does (`stocker.lab.portfolio_chain.forced_sales`).
            before = (
                decided.date(),
                drifted.reindex(eligible.union(drifted.index), fill_value=0.0),
            )
        names = list(inputs._symbols[chosen])
        sectors = {symbol: inputs.sectors[symbol] for symbol in names if symbol in inputs.sectors}
        constraints = rebalance_constraints(
            uow, inputs.constraints, names, sectors, before, day.date(), group=group
        )
        # The same builder as construction's, on the same date and names (point in time).
        expected, _ = expected_returns_for(uow, mode, inputs.constraints, names, day.date())
        found = optimize(
            returns,
            method=portfolio.optimizer_type,  # type: ignore[arg-type]
            constraints=constraints,
            expected_returns=expected,  # type: ignore[arg-type]
        )
        weights = found.reindex(eligible).fillna(0.0).to_numpy(dtype=np.float64)
        schedule[count - 1, chosen] = weights
        nonzero = weights != 0.0
        previous = (day, chosen[nonzero], weights[nonzero])
        if progress is not None:
            progress(count, len(dates))
    return pd.DataFrame(schedule, index=pd.DatetimeIndex(dates), columns=columns)
