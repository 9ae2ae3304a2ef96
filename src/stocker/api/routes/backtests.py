"""Backtests: start one (202, run in the background), its status, timeseries, holdings,
trades, exposures, metrics, tearsheet (HTML) and a comparison of several runs."""

from __future__ import annotations

import datetime as dt
import tempfile
from pathlib import Path as FilePath
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.responses import HTMLResponse, JSONResponse
from pydantic import BaseModel, Field, model_validator

from stocker.api import schemas
from stocker.api.auth import application, require_scope
from stocker.api.deps import Symbol, listing_route
from stocker.api.jobs import Job, Jobs
from stocker.api.problems import NotFoundError
from stocker.core.errors import DataError

router = APIRouter(tags=["backtests"])
RunId = Annotated[int, Path(ge=1, le=2**62, examples=[7])]
Day = Annotated[dt.date | None, Query()]
READ = [Depends(require_scope("read"))]
STARTED_WAIT_S = 10.0
"""How long a POST waits for the run's row (so it can answer with the run id)."""


class NewBacktest(BaseModel):
    portfolio: str = Field(max_length=50, examples=["tech_minvar"])
    start: dt.date = Field(examples=["2022-01-03"])
    end: dt.date = Field(examples=["2024-06-28"])
    rebalance: Literal["daily", "weekly", "monthly", "quarterly"] = "monthly"
    execution: Literal["close", "next_open"] = "close"
    cost_bps: float = Field(default=0.0, ge=0, le=10000, examples=[5.0])
    cost_per_share: float = Field(default=0.0, ge=0, le=1000)
    slippage_bps: float = Field(default=0.0, ge=0, le=10000)
    shares: Literal["fractional", "whole"] = "fractional"
    initial_capital: float | None = Field(default=None, gt=0, le=1e15)
    lookback_days: int | None = Field(default=None, ge=20, le=5000)

    @model_validator(mode="after")
    def _ordered(self) -> NewBacktest:
        if self.end < self.start:
            raise ValueError(f"end: {self.end} is before start {self.start}")
        return self


class JobStatus(BaseModel):
    job_id: str = Field(examples=["3f2a9c…"])
    portfolio: str = Field(examples=["tech_minvar"])
    status: str = Field(examples=["RUNNING"], description="QUEUED, RUNNING, COMPLETED or FAILED")
    run_id: int | None = Field(examples=[7])
    progress: dict[str, int] = Field(examples=[{"done": 3, "total": 30}])
    error: str | None = Field(examples=[None])


def _jobs(request: Request) -> Jobs:
    return request.app.state.jobs


def _claim(app: Any, jobs: Jobs, portfolio: str) -> int | None:
    from stocker.lab.backtests import list_runs

    runs = list_runs(app.uow(), portfolio_code=portfolio)
    return jobs.claim([int(run.id) for run in runs if run.status == "RUNNING"])


@router.post(
    "/backtests",
    status_code=202,
    response_model=JobStatus,
    summary="Start a backtest; answers 202 with the run id while it runs",
    dependencies=[Depends(require_scope("research"))],
)
def start(request: Request, body: NewBacktest) -> JSONResponse:
    from stocker.lab.backtests import run_backtest

    app = application(request)
    jobs = _jobs(request)

    def work(job: Job) -> int:
        def progress(done: int, total: int) -> None:
            job.done, job.total = done, total
            if job.run_id is None:
                job.run_id = _claim(app, jobs, body.portfolio)
                job.started.set()

        run = run_backtest(
            app.uow(),
            body.portfolio,
            start=body.start,
            end=body.end,
            rebalance=body.rebalance,
            execution=body.execution,
            cost_bps=body.cost_bps,
            cost_per_share=body.cost_per_share,
            slippage_bps=body.slippage_bps,
            shares=body.shares,
            initial_capital=body.initial_capital,
            lookback_days=body.lookback_days,
            progress=progress,
        )
        return run.id

    job = jobs.submit(body.portfolio, work)
    job.started.wait(STARTED_WAIT_S)
    if job.status == "FAILED" and job.run_id is None and job.error_status == 400:
        raise DataError(job.error or "backtest: refused")
    location = (
        f"/api/v1/backtests/{job.run_id}" if job.run_id else f"/api/v1/backtests/jobs/{job.id}"
    )
    return JSONResponse(job.as_json(), status_code=202, headers={"Location": location})


@router.get(
    "/backtests/jobs/{job_id}",
    response_model=JobStatus,
    summary="A background backtest's job",
    dependencies=READ,
)
def job_status(request: Request, job_id: Annotated[str, Path(max_length=64)]) -> dict[str, Any]:
    job = _jobs(request).get(job_id)
    if job is None:
        raise NotFoundError(f"job_id: no job {job_id!r} on this server")
    return job.as_json()


listing_route(
    router,
    "/backtests",
    "backtests",
    schemas.BacktestRow,
    summary="Backtest runs, by id",
    filters={
        "portfolio": Annotated[str | None, Query(max_length=50)],
        "status": Annotated[str | None, Query(pattern="^(PENDING|RUNNING|COMPLETED|FAILED)$")],
    },
)


@router.get("/backtests/compare", summary="Metrics of several runs side by side", dependencies=READ)
def compare(
    request: Request,
    ids: Annotated[list[Annotated[int, Field(ge=1, le=2**62)]], Query(min_length=1, max_length=20)],
    benchmark: Symbol = None,
) -> dict[str, Any]:
    from stocker.lab.compare import compare_runs

    return compare_runs(application(request).uow(), ids, benchmark=benchmark).as_json()


@router.get(
    "/backtests/{run_id}",
    response_model=schemas.BacktestRow,
    summary="A run and its status",
    dependencies=READ,
)
def status(request: Request, run_id: RunId) -> dict[str, Any]:
    from stocker.api.deps import read_one

    return read_one(application(request), "backtests", {"id": run_id}, f"run_id {run_id}")


PARENT = ("run_id", "run", RunId, "backtests", "id")
listing_route(
    router,
    "/backtests/{run_id}/timeseries",
    "backtest_timeseries",
    schemas.TimeseriesRow,
    summary="Daily NAV, returns and drawdown",
    filters={"start": Day, "end": Day},
    parent=PARENT,
)
listing_route(
    router,
    "/backtests/{run_id}/holdings",
    "backtest_holdings",
    schemas.BacktestHolding,
    summary="Daily holdings",
    filters={"date": Day},
    parent=PARENT,
)
listing_route(
    router,
    "/backtests/{run_id}/trades",
    "backtest_trades",
    schemas.BacktestTrade,
    summary="Trades at each rebalance",
    filters={"symbol": Symbol},
    parent=PARENT,
)
listing_route(
    router,
    "/backtests/{run_id}/exposures/sectors",
    "backtest_sector_exposures",
    schemas.SectorExposure,
    summary="Daily sector weights",
    filters={"date": Day},
    parent=PARENT,
)
listing_route(
    router,
    "/backtests/{run_id}/exposures/factors",
    "backtest_factor_exposures",
    schemas.FactorExposure,
    summary="Daily factor exposures",
    parent=PARENT,
)


@router.get(
    "/backtests/{run_id}/metrics",
    summary="A completed run's metrics and monthly returns",
    dependencies=READ,
)
def metrics(request: Request, run_id: RunId, benchmark: Symbol = None) -> dict[str, Any]:
    from stocker.lab.compare import run_report

    return run_report(application(request).uow(), run_id, benchmark=benchmark).as_json()


@router.get(
    "/backtests/{run_id}/tearsheet",
    response_class=HTMLResponse,
    summary="A completed run's tearsheet (self-contained HTML, Plotly inline)",
    dependencies=READ,
)
def tearsheet(request: Request, run_id: RunId, benchmark: Symbol = None) -> HTMLResponse:
    from stocker.lab.compare import run_report

    with tempfile.TemporaryDirectory(prefix="stocker-tearsheet-") as folder:
        target = FilePath(folder) / f"backtest-{run_id}.html"
        run_report(application(request).uow(), run_id, html=target, benchmark=benchmark)
        return HTMLResponse(target.read_text(encoding="utf-8"))
