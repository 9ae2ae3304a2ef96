"""Walk-forward backtests of a research portfolio, stored in every backtest_* table.

`run_backtest(uow, code, start=, end=, rebalance=, ...)`:

1. reads the group's membership history, the adjusted closes (and opens) from the first
   estimation window to `end`, and the portfolio's constraints;
2. refuses to start when data are incomplete (SigmaQLab 11.10 rule 4), naming every missing
   (symbol, date): a member of the group on a rebalance date that has traded before it must
   have a close on it (and on the next session under `execution="next_open"`);
3. queues the run (status PENDING) and marks it RUNNING;
4. at each rebalance date D, decides the weights from data up to D only: the members on D,
   the returns of the last `lookback_days` sessions up to D, factor exposures and betas dated
   on or before D (`stocker.lab.portfolio_constraints.rebalance_constraints`), the expected
   returns of the stored mode as construction builds them on D (`expected_returns_for`: market
   caps and composite scores dated on or before D), and the previous target weights drifted by
   the prices to D for the turnover limit, names sold for leaving the group counted in it;
5. runs the engine (`stocker.core.backtest.backtest`) once over the whole schedule on adjusted
   prices, so dividends and splits are counted through the price;
6. writes holdings, timeseries, sector and factor exposures and trades, and marks the run
   COMPLETED in the same transaction (FAILED with the error if anything raises).

docs/backtests.md has the rules in full.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import time
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import pandas as pd

from stocker.core.errors import DataError

if TYPE_CHECKING:
    from stocker.core.backtest import BacktestResult
    from stocker.store.panel_cache import PanelCache
    from stocker.store.repositories.backtests import StoredRun
    from stocker.store.uow import SqlUnitOfWork

Frequency = Literal["daily", "weekly", "monthly", "quarterly"]
FREQUENCIES = {"daily": "DAILY", "weekly": "WEEKLY", "monthly": "MONTHLY", "quarterly": "QUARTERLY"}
DATES_FREQUENCY = "DAILY"
"""backtest_runs.rebalance_frequency of a run on given dates (the list is in its config)."""
Progress = Callable[[int, int], None]


@dataclass(frozen=True)
class BacktestRun:
    """A stored run: its row, daily timeseries and trades; `schedule` / `result` when just run."""

    run: StoredRun
    timeseries: pd.DataFrame
    trades: pd.DataFrame
    sector_exposures: pd.DataFrame
    factor_exposures: pd.DataFrame
    schedule: pd.DataFrame | None = None
    result: BacktestResult | None = None
    timings: dict[str, float] = field(default_factory=dict)

    @property
    def id(self) -> int:
        return self.run.id

    @property
    def status(self) -> str:
        return self.run.status

    @property
    def nav(self) -> pd.Series:
        return self.timeseries["nav"].rename("nav")

    def metrics(self, benchmark: pd.Series | None = None) -> dict[str, float]:
        """`stocker.core.metrics.performance` of the stored NAV."""
        from stocker.core.metrics import performance

        if len(self.timeseries) < 3:
            return {}
        return performance(self.nav, benchmark=benchmark)

    def as_json(self) -> dict[str, Any]:
        run = self.run
        return {
            "id": run.id,
            "portfolio": run.portfolio,
            "status": run.status,
            "start": run.start_date.isoformat(),
            "end": run.end_date.isoformat(),
            "rebalance_frequency": run.rebalance_frequency,
            "transaction_cost": run.transaction_cost,
            "initial_capital": run.initial_capital,
            "created_at": run.created_at.isoformat(),
            "finished_at": None if run.finished_at is None else run.finished_at.isoformat(),
            "error": run.error,
            "config": run.config,
            "final_nav": float(self.nav.iloc[-1]) if len(self.timeseries) else None,
            "metrics": {
                key: None if value != value else value for key, value in self.metrics().items()
            },
            "timings": self.timings,
        }


def rebalance_dates(
    sessions: pd.DatetimeIndex, rebalance: Frequency | Sequence[dt.date]
) -> pd.DatetimeIndex:
    """The last session of each period (daily: every session), or the given dates, each of
    which must be a session."""
    if isinstance(rebalance, str):
        if rebalance not in FREQUENCIES:
            raise DataError(
                f"rebalance: got {rebalance!r}, expected one of {', '.join(FREQUENCIES)} "
                "or a list of dates"
            )
        if rebalance == "daily":
            return sessions
        period = {"weekly": "W", "monthly": "M", "quarterly": "Q"}[rebalance]
        keys = sessions.to_period(period)
        last = ~pd.Series(keys).duplicated(keep="last").to_numpy()
        return sessions[last]
    wanted = pd.DatetimeIndex(sorted({pd.Timestamp(day) for day in rebalance}))
    unknown = wanted.difference(sessions)
    if len(unknown):
        listed = ", ".join(day.date().isoformat() for day in unknown[:10])
        raise DataError(f"rebalance: {listed} are not sessions between start and end")
    return wanted


def run_backtest(
    uow: SqlUnitOfWork,
    portfolio_code: str,
    *,
    start: dt.date,
    end: dt.date,
    rebalance: Frequency | Sequence[dt.date] = "monthly",
    execution: Literal["close", "next_open"] = "close",
    cost_bps: float = 0.0,
    cost_per_share: float = 0.0,
    slippage_bps: float = 0.0,
    shares: Literal["fractional", "whole"] = "fractional",
    initial_capital: float | None = None,
    lookback_days: int | None = None,
    progress: Progress | None = None,
    cache: PanelCache | None = None,
    cache_home: Path | str | None = None,
) -> BacktestRun:
    """Backtest portfolio `portfolio_code` walk-forward from `start` to `end` and store it.

    Costs: `cost_bps + slippage_bps` of the traded value plus `cost_per_share` per share.
    `initial_capital` defaults to the portfolio's (else 1,000,000); `lookback_days` to the
    construction's 252 sessions. `cache` (a `stocker.store.panel_cache.PanelCache`), or one
    under `cache_home` (the home directory), keeps the price panels between runs, so a rerun
    reads no prices from PostgreSQL until an ingest changes them. See the module docstring.
    """
    import stocker
    from stocker.core.backtest import backtest
    from stocker.lab import backtest_outputs
    from stocker.lab.backtest_inputs import Inputs, decide_weights, read_inputs
    from stocker.lab.construction import DEFAULT_INITIAL_CAPITAL, DEFAULT_LOOKBACK_DAYS

    if end < start:
        raise DataError(f"end: {end} is before start {start}")
    for name, number in (
        ("cost_bps", cost_bps),
        ("cost_per_share", cost_per_share),
        ("slippage_bps", slippage_bps),
    ):
        if not number >= 0:
            raise DataError(f"{name}: got {number}, expected >= 0")
    if execution not in ("close", "next_open"):
        raise DataError(f"execution: got {execution!r}, expected close or next_open")
    if shares not in ("fractional", "whole"):
        raise DataError(f"shares: got {shares!r}, expected fractional or whole")
    lookback = lookback_days or DEFAULT_LOOKBACK_DAYS
    if cache is None and cache_home is not None:
        from stocker.store.panel_cache import PanelCache

        cache = PanelCache(cache_home)
    clock = time.perf_counter()
    timings: dict[str, float] = {}
    with uow:
        inputs: Inputs = read_inputs(
            uow, portfolio_code, start, end, lookback, execution, cache=cache
        )
        dates = rebalance_dates(inputs.sessions, rebalance)
        if len(dates) == 0:
            raise DataError(f"rebalance: no rebalance date between {start} and {end}")
        inputs.refuse_incomplete(dates)
        capital = float(initial_capital or inputs.portfolio.initial_capital or 0)
        capital = capital or DEFAULT_INITIAL_CAPITAL
        if not capital > 0:
            raise DataError(f"initial_capital: got {capital}, expected > 0")
        config = {
            "portfolio": inputs.portfolio.code,
            "group": inputs.portfolio.group,
            "method": inputs.portfolio.optimizer_type,
            "expected_returns": inputs.portfolio.expected_return_mode or "historical",
            "constraints": inputs.constraints.as_json(),
            "rebalance": rebalance
            if isinstance(rebalance, str)
            else [day.date().isoformat() for day in dates],
            "execution": execution,
            "cost_bps": cost_bps,
            "cost_per_share": cost_per_share,
            "slippage_bps": slippage_bps,
            "shares": shares,
            "lookback_days": lookback,
            "prices": "adjusted (adj_close; opens scaled by adj_close / close)",
            "code_version": stocker.__version__,
            "data_version": _digest(inputs.version),
            "data": inputs.version,
        }
        run_id = uow.backtests.insert_run(
            inputs.portfolio.id,
            start=start,
            end=end,
            frequency=FREQUENCIES[rebalance] if isinstance(rebalance, str) else DATES_FREQUENCY,
            transaction_cost=(cost_bps + slippage_bps) / 1e4,
            initial_capital=capital,
            config=config,
        )
        uow.commit()
    timings["read"] = time.perf_counter() - clock
    try:
        with uow:
            uow.backtests.set_status(run_id, "RUNNING")
            uow.commit()
        with uow:
            clock = time.perf_counter()
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", RuntimeWarning)
                schedule = decide_weights(uow, inputs, dates, execution, progress)
            timings["decide"] = time.perf_counter() - clock
            clock = time.perf_counter()
            prices = inputs.close.loc[inputs.sessions[0] :]
            opens = inputs.opens.loc[inputs.sessions[0] :] if inputs.opens is not None else None
            result = backtest(
                prices,
                schedule,
                cost_bps=cost_bps + slippage_bps,
                cost_per_share=cost_per_share,
                execution=execution,
                shares=shares,
                initial_capital=capital,
                open_prices=opens,
            )
            step = 1 if execution == "next_open" else 0
            positions = prices.index.get_indexer(schedule.index) + step
            decided_on = {
                prices.index[int(position)]: day
                for position, day in zip(positions, schedule.index, strict=True)
                if position < len(prices.index)
            }
            exposures = uow.factors.exposures(
                start - dt.timedelta(days=366), end, list(prices.columns)
            )
            rows = backtest_outputs.outputs(
                result,
                initial_capital=capital,
                sectors=inputs.sectors,
                exposures=exposures,
                decided_on=decided_on,
            )
            timings["compute"] = time.perf_counter() - clock
            clock = time.perf_counter()
            save_outputs(uow, run_id, rows)
            uow.backtests.set_status(
                run_id,
                "COMPLETED",
                config={"rows": rows.counts(), "rebalances": len(schedule)},
            )
            uow.commit()
            timings["save"] = time.perf_counter() - clock
    except Exception as error:
        with uow:
            uow.backtests.set_status(run_id, "FAILED", error=f"{type(error).__name__}: {error}")
            uow.commit()
        raise
    with uow:
        stored = uow.backtests.run(run_id)
    assert stored is not None
    # What was just stored, as `read_run` reads it back (NUMERIC(18, 4) columns to 4 decimals),
    # without reading it back.
    series = rows.timeseries.assign(nav=rows.timeseries["nav"].round(4))
    series.index = pd.DatetimeIndex(series.pop("date"), name="date")
    trades = rows.trades.assign(
        trade_value=rows.trades["trade_value"].round(4),
        transaction_cost=rows.trades["transaction_cost"].round(4),
    ).sort_values(["rebalance_date", "symbol"], ignore_index=True)
    return BacktestRun(
        run=stored,
        timeseries=series,
        trades=trades,
        sector_exposures=rows.sector_exposures,
        factor_exposures=rows.factor_exposures,
        schedule=schedule,
        result=result,
        timings=timings,
    )


def save_outputs(uow: SqlUnitOfWork, run_id: int, rows: Any) -> None:
    """Write every output table of run `run_id` (inside the caller's unit of work)."""
    held = rows.holdings
    uow.backtests.write_symbols(run_id, held.symbols, held.sectors)
    uow.backtests.write_timeseries(run_id, rows.timeseries)
    uow.backtests.write_holdings(
        run_id,
        held.sessions,
        list(zip(held.starts, held.ends, held.names, held.shares, held.weights, strict=True)),
    )
    uow.backtests.write_sector_exposures(run_id, held.sessions, rows.sector_periods)
    uow.backtests.write_factor_exposures(run_id, rows.factor_exposures)
    uow.backtests.write_trades(run_id, rows.trade_sets)


def read_run(uow: SqlUnitOfWork, run_id: int) -> BacktestRun:
    """A stored run with its timeseries, trades and exposures (holdings: `read_holdings`)."""
    with uow:
        run = uow.backtests.run(run_id)
        if run is None:
            known = ", ".join(str(r.id) for r in uow.backtests.runs()[:10]) or "none yet"
            raise DataError(f"backtest: no run {run_id}; known runs: {known}")
        return BacktestRun(
            run=run,
            timeseries=uow.backtests.timeseries(run_id),
            trades=uow.backtests.trades(run_id),
            sector_exposures=uow.backtests.sector_exposures(run_id),
            factor_exposures=uow.backtests.factor_exposures(run_id),
        )


def read_holdings(uow: SqlUnitOfWork, run_id: int, *, day: dt.date | None = None) -> pd.DataFrame:
    """Stored holdings (date, symbol, shares, weight, sector), of one day if given."""
    with uow:
        return uow.backtests.holdings(run_id, day=day)


def sector_weights(uow: SqlUnitOfWork, run_id: int, day: dt.date) -> dict[str, float]:
    """The 11.11 analytics query for one run and date: Σ holding weight per sector."""
    with uow:
        return uow.backtests.sector_totals(run_id, day)


def list_runs(uow: SqlUnitOfWork, *, portfolio_code: str | None = None) -> list[StoredRun]:
    """Every stored run, newest first (of one portfolio if given)."""
    with uow:
        portfolio_id = None
        if portfolio_code is not None:
            portfolio = uow.portfolios.named(portfolio_code)
            if portfolio is None:
                raise DataError(f"portfolio: {portfolio_code!r} does not exist")
            portfolio_id = portfolio.id
        return uow.backtests.runs(portfolio_id=portfolio_id)


def _digest(version: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(version, sort_keys=True, default=str).encode()).hexdigest()[
        :16
    ]
