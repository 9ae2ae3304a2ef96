"""Parameter sweeps: every configuration of a grid backtested in parallel on Dask distributed.

`run_sweep(units, "PORTFOLIO", start=, end=, grid={"cost_bps": [0, 10], ...})` submits one
task per configuration (the cartesian product of the grid) to a Dask `LocalCluster` of
`workers` processes (one thread each), or to an existing scheduler at `scheduler`. `units` is a
picklable factory of units of work (the shell passes one that builds an `App` from the same
`Settings` in each task, so engines and connections are never shared across processes); each
task calls `stocker.lab.backtests.run_backtest` — which stores the run, or marks it FAILED —
and returns a small summary. `workers=0` runs the configurations one after another
in this process (the baseline a speedup is measured against).

Grid values arrive as text (``cost_bps=0,10,20``) and are converted to the type of the
`run_backtest` parameter they name; unknown names are refused before anything runs.
"""

from __future__ import annotations

import datetime as dt
import itertools
import time
from collections.abc import Callable, Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from stocker.core.errors import DataError

if TYPE_CHECKING:
    from stocker.store.uow import SqlUnitOfWork

Progress = Callable[[int, int], None]


class UnitsOfWork(Protocol):
    """A picklable factory: each call opens what a task needs and yields a fresh unit of work,
    releasing it (connections, engine) on exit."""

    def __call__(self) -> AbstractContextManager[SqlUnitOfWork]: ...


PARAMETERS: dict[str, Callable[[str], Any]] = {
    "rebalance": str,
    "execution": str,
    "cost_bps": float,
    "cost_per_share": float,
    "slippage_bps": float,
    "shares": str,
    "initial_capital": float,
    "lookback_days": int,
}
"""Parameters of `run_backtest` a grid may vary, with how their text is read."""


@dataclass(frozen=True)
class SweepResult:
    """One configuration's outcome: its stored run (None if it failed before one was made)."""

    parameters: dict[str, Any]
    run_id: int | None
    status: str
    seconds: float
    metrics: dict[str, float]
    error: str | None = None

    def as_json(self) -> dict[str, Any]:
        return {
            "parameters": self.parameters,
            "run_id": self.run_id,
            "status": self.status,
            "seconds": self.seconds,
            "metrics": {k: None if v != v else v for k, v in self.metrics.items()},  # NaN: null
            "error": self.error,
        }


@dataclass(frozen=True)
class Sweep:
    """Every configuration's result, in grid order, and the wall-clock time of the sweep."""

    results: list[SweepResult]
    seconds: float
    workers: int
    scheduler: str | None

    def as_json(self) -> dict[str, Any]:
        return {
            "seconds": self.seconds,
            "workers": self.workers,
            "scheduler": self.scheduler,
            "runs": [result.as_json() for result in self.results],
        }


def parse_grid(specs: Sequence[str]) -> dict[str, list[Any]]:
    """``["cost_bps=0,10", "rebalance=monthly,quarterly"]`` → ``{"cost_bps": [0.0, 10.0], ...}``."""
    grid: dict[str, list[Any]] = {}
    for spec in specs:
        name, separator, values = spec.partition("=")
        name = name.strip().replace("-", "_")
        if not separator or not values.strip():
            raise DataError(f"grid: got {spec!r}, expected NAME=VALUE,VALUE,... like cost_bps=0,10")
        if name not in PARAMETERS:
            raise DataError(
                f"grid: unknown parameter {name!r}; expected one of {sorted(PARAMETERS)}"
            )
        try:
            parsed = [
                PARAMETERS[name](value.strip()) for value in values.split(",") if value.strip()
            ]
        except ValueError as error:
            raise DataError(f"grid: {spec!r}: {error}") from error
        grid[name] = list(dict.fromkeys([*grid.get(name, []), *parsed]))
    return grid


def configurations(grid: Mapping[str, Sequence[Any]]) -> list[dict[str, Any]]:
    """The cartesian product of the grid, the first parameter varying slowest."""
    names = list(grid)
    return [dict(zip(names, values, strict=True)) for values in itertools.product(*grid.values())]


def backtest_task(
    units: UnitsOfWork,
    portfolio_code: str,
    start: dt.date,
    end: dt.date,
    parameters: dict[str, Any],
) -> SweepResult:
    """Run and store one configuration on a unit of work of its own (what each task executes)."""
    from stocker.lab.backtests import run_backtest

    clock = time.perf_counter()
    try:
        with units() as uow:
            run = run_backtest(uow, portfolio_code, start=start, end=end, **parameters)
        return SweepResult(
            parameters, run.id, run.status, time.perf_counter() - clock, _plain(run.metrics())
        )
    except Exception as error:  # a failed configuration is a result, not the sweep's end
        # run_backtest has stored the run as FAILED with this message (when it got that far).
        message = f"{type(error).__name__}: {error}"
        return SweepResult(
            parameters, None, "FAILED", time.perf_counter() - clock, {}, error=message
        )


def _check_portfolio(units: UnitsOfWork, portfolio_code: str) -> None:
    """Fail here, before any worker starts, when the database or the portfolio is missing."""
    with units() as unit, unit as uow:
        found = uow.portfolios.named(portfolio_code)
    if found is None:
        raise DataError(
            f"portfolio: {portfolio_code!r} does not exist; "
            "create it with `stocker portfolio create`"
        )


def _plain(metrics: Mapping[str, float]) -> dict[str, float]:
    return {name: float(value) for name, value in metrics.items()}


def run_sweep(
    units: UnitsOfWork,
    portfolio_code: str,
    *,
    start: dt.date,
    end: dt.date,
    grid: Mapping[str, Sequence[Any]],
    scheduler: str | None = None,
    workers: int = 2,
    progress: Progress | None = None,
) -> Sweep:
    """Backtest and store every configuration of `grid`; results in grid order."""
    unknown = sorted(set(grid) - set(PARAMETERS))
    if unknown:
        raise DataError(
            f"grid: unknown parameters {unknown}; expected some of {sorted(PARAMETERS)}"
        )
    if workers < 0:
        raise DataError(f"workers: got {workers}, expected 0 (in process) or more")
    configs = configurations(grid)
    if not configs:
        raise DataError("grid: no configuration to run")
    _check_portfolio(units, portfolio_code)
    clock = time.perf_counter()
    if scheduler is None and workers == 0:
        results = []
        for number, parameters in enumerate(configs, start=1):
            results.append(backtest_task(units, portfolio_code, start, end, parameters))
            if progress is not None:
                progress(number, len(configs))
        return Sweep(results, time.perf_counter() - clock, 0, None)
    results_by_key = _distributed(
        units, portfolio_code, start, end, configs, scheduler, workers, progress
    )
    return Sweep(
        [results_by_key[number] for number in range(len(configs))],
        time.perf_counter() - clock,
        workers,
        scheduler,
    )


def _distributed(
    units: UnitsOfWork,
    portfolio_code: str,
    start: dt.date,
    end: dt.date,
    configs: list[dict[str, Any]],
    scheduler: str | None,
    workers: int,
    progress: Progress | None,
) -> dict[int, SweepResult]:
    from dask.distributed import Client, LocalCluster, as_completed

    cluster = None
    if scheduler is None:
        cluster = LocalCluster(
            n_workers=workers,
            threads_per_worker=1,
            processes=True,
            dashboard_address=None,
            silence_logs=40,
        )
    client = Client(cluster if cluster is not None else scheduler)
    try:
        futures = {
            client.submit(
                backtest_task,
                units,
                portfolio_code,
                start,
                end,
                parameters,
                key=f"stocker-backtest-{portfolio_code}-{number}-{time.time_ns()}",
                pure=False,
            ): number
            for number, parameters in enumerate(configs)
        }
        results: dict[int, SweepResult] = {}
        for done, future in enumerate(as_completed(futures), start=1):
            results[futures[future]] = future.result()
            if progress is not None:
                progress(done, len(configs))
        return results
    finally:
        client.close()
        if cluster is not None:
            cluster.close()
