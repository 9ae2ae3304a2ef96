"""Backtests: start one (progress polled by HTMX), its report (tearsheet charts, trades and
holdings, trades on a price chart), several runs compared, a sweep's heatmap, CSV of each table."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from stocker.core.errors import DataError, StockerError
from stocker.web import charts
from stocker.web.csv_export import table_csv
from stocker.web.pages.research import parse_day
from stocker.web.queries import research_portfolios
from stocker.web.reports import report, trades_on_price, units_of
from stocker.web.site import frame_table, table

if TYPE_CHECKING:
    from stocker.web.jobs import Job
    from stocker.web.site import Site

TABLES = ("timeseries", "trades", "holdings", "sector_exposures", "factor_exposures", "metrics")
SWEEP_METRICS = ("sharpe", "cagr", "volatility", "max_drawdown", "calmar", "sortino")


def _runs_table(runs: list[Any]) -> list[dict[str, Any]]:
    return [
        {
            "id": run.id,
            "portfolio": run.portfolio,
            "start": run.start_date,
            "end": run.end_date,
            "rebalance": run.rebalance_frequency,
            "cost_bps": run.transaction_cost * 1e4,
            "status": run.status,
            "created": run.created_at,
        }
        for run in runs
    ]


def _values(text: str, field: str) -> list[str]:
    values = [value.strip() for value in text.split(",") if value.strip()]
    if not values:
        raise DataError(f"{field}: give one or more values separated by commas")
    return values


def routes(site: Site) -> APIRouter:
    reader = APIRouter(include_in_schema=False, dependencies=site.guard("read"))
    research = APIRouter(include_in_schema=False, dependencies=site.guard("research"))

    def _list(request: Request, status_code: int = 200, **extra: Any) -> HTMLResponse:
        from stocker.lab.backtests import list_runs
        from stocker.lab.sweep import PARAMETERS

        portfolios = [str(row["code"]) for row in research_portfolios(site.app.uow())]
        return site.render(
            request,
            "backtests.html",
            status_code=status_code,
            runs=_runs_table(list_runs(site.app.uow())),
            portfolios=portfolios,
            parameters=sorted(PARAMETERS),
            metrics=SWEEP_METRICS,
            **extra,
        )

    @reader.get("/backtests", response_class=HTMLResponse)
    def backtests_page(request: Request, portfolio: str = "") -> HTMLResponse:
        return _list(request, chosen=portfolio)

    @research.post("/backtests", response_class=HTMLResponse)
    def start(
        request: Request,
        portfolio: Annotated[str, Form()],
        start: Annotated[str, Form()],
        end: Annotated[str, Form()],
        rebalance: Annotated[str, Form()] = "monthly",
        execution: Annotated[str, Form()] = "close",
        cost_bps: Annotated[str, Form()] = "0",
    ) -> Response:
        from stocker.lab.backtests import run_backtest

        try:
            first, last = parse_day(start, "start"), parse_day(end, "end")
            if first is None or last is None:
                raise DataError("start, end: give both dates")
            try:
                cost = float(cost_bps or 0)
            except ValueError:
                raise DataError(f"cost_bps: got {cost_bps!r}, expected a number") from None
        except StockerError as failure:
            return _list(request, status_code=422, error=str(failure), chosen=portfolio)

        def work(progress: Any) -> int:
            run = run_backtest(
                site.app.uow(),
                portfolio,
                start=first,
                end=last,
                rebalance=rebalance,  # type: ignore[arg-type]
                execution=execution,  # type: ignore[arg-type]
                cost_bps=cost,
                progress=progress,
            )
            return run.id

        job = site.jobs.start("backtest", f"{portfolio} {first}..{last} {rebalance}", work)
        if request.headers.get("HX-Request"):
            return _job(request, job)
        return RedirectResponse(f"/backtests/jobs/{job.id}", status_code=303)

    def _job(request: Request, job: Job | None) -> HTMLResponse:
        if job is None:
            return site.render(request, "job.html", status_code=404, job=None)
        return site.render(request, "job.html", job=job)

    @reader.get("/backtests/jobs/{job_id}", response_class=HTMLResponse)
    def job_status(request: Request, job_id: str) -> HTMLResponse:
        job = site.jobs.get(job_id)
        if request.headers.get("HX-Request"):
            return _job(request, job)
        return site.render(request, "job_page.html", job=job, status_code=200 if job else 404)

    @reader.get("/backtests/compare", response_class=HTMLResponse)
    def compare_page(
        request: Request, ids: Annotated[list[int] | None, Query()] = None, benchmark: str = ""
    ) -> HTMLResponse:
        from stocker.lab.compare import compare_runs

        try:
            if not ids or len(ids) < 2:
                raise DataError("runs: tick two or more runs to compare")
            found = compare_runs(site.app.uow(), ids, benchmark=benchmark or None)
        except StockerError as failure:
            return _list(request, status_code=422, error=str(failure))
        metrics = found.metrics.copy()
        metrics.columns = [f"run {column}" for column in metrics.columns]
        metrics.index.name = "metric"
        navs = found.navs
        figure = charts.figure(
            [charts.line(navs.index, navs[label].to_list(), str(label)) for label in navs.columns],
            "NAV rebased to 1",
            height=420,
        )
        return site.render(
            request,
            "compare.html",
            ids=ids,
            metrics=frame_table(metrics),
            runs=table(_runs_table([run.run for run in found.runs])),
            nav_chart=figure,
            query="&".join(f"ids={run_id}" for run_id in ids),
        )

    @reader.get("/backtests/compare.csv")
    def compare_csv(ids: Annotated[list[int], Query()]) -> Response:
        from stocker.lab.compare import compare_runs

        metrics = compare_runs(site.app.uow(), ids).metrics
        metrics.columns = [f"run {column}" for column in metrics.columns]
        metrics.index.name = "metric"
        return table_csv(frame_table(metrics), "compare.csv")

    @research.post("/backtests/sweep", response_class=HTMLResponse)
    def start_sweep(
        request: Request,
        portfolio: Annotated[str, Form()],
        start: Annotated[str, Form()],
        end: Annotated[str, Form()],
        x_name: Annotated[str, Form()],
        x_values: Annotated[str, Form()],
        y_name: Annotated[str, Form()],
        y_values: Annotated[str, Form()],
    ) -> Response:
        from stocker.lab.sweep import PARAMETERS, run_sweep

        try:
            first, last = parse_day(start, "start"), parse_day(end, "end")
            if first is None or last is None:
                raise DataError("start, end: give both dates")
            if x_name == y_name:
                raise DataError("parameters: choose two different parameters")
            grid: dict[str, list[Any]] = {}
            for name, values in ((x_name, x_values), (y_name, y_values)):
                if name not in PARAMETERS:
                    raise DataError(
                        f"parameter: got {name!r}, expected one of {sorted(PARAMETERS)}"
                    )
                try:
                    grid[name] = [PARAMETERS[name](value) for value in _values(values, name)]
                except ValueError:
                    raise DataError(f"{name}: got {values!r}, values of the wrong type") from None
        except StockerError as failure:
            return _list(request, status_code=422, error=str(failure), chosen=portfolio)

        def work(progress: Any) -> Any:
            return run_sweep(
                units_of(site.app.uow),
                portfolio,
                start=first,
                end=last,
                grid=grid,
                workers=0,
                progress=progress,
            )

        label = f"sweep of {portfolio}: {x_name} × {y_name}"
        job = site.jobs.start("sweep", label, work)
        if request.headers.get("HX-Request"):
            return _job(request, job)
        return RedirectResponse(f"/backtests/jobs/{job.id}", status_code=303)

    def _sweep_rows(job: Job) -> list[dict[str, Any]]:
        return [
            {
                **result.parameters,
                "run": result.run_id,
                "status": result.status,
                **{name: result.metrics.get(name) for name in SWEEP_METRICS},
                "error": result.error or "",
            }
            for result in job.result.results
        ]

    @reader.get("/backtests/sweeps/{job_id}.csv")
    def sweep_csv(job_id: str) -> Response:
        job = site.jobs.get(job_id)
        if job is None or job.kind != "sweep" or job.result is None:
            return Response(f"no finished sweep {job_id!r} here", status_code=404)
        return table_csv(table(_sweep_rows(job)), "sweep.csv")

    @reader.get("/backtests/sweeps/{job_id}", response_class=HTMLResponse)
    def sweep_page(request: Request, job_id: str, metric: str = "sharpe") -> HTMLResponse:
        job = site.jobs.get(job_id)
        if job is None or job.kind != "sweep" or job.result is None:
            return site.render(request, "job_page.html", status_code=404, job=job)
        if metric not in SWEEP_METRICS:
            metric = SWEEP_METRICS[0]
        results = job.result.results
        names = list(results[0].parameters) if results else []
        x_name, y_name = [*names, "", ""][:2]
        xs = list(dict.fromkeys(result.parameters.get(x_name) for result in results))
        ys = list(dict.fromkeys(result.parameters.get(y_name) for result in results))
        cells = {
            (r.parameters.get(x_name), r.parameters.get(y_name)): r.metrics.get(metric)
            for r in results
        }
        z = [[cells.get((x, y)) for x in xs] for y in ys]
        return site.render(
            request,
            "sweep.html",
            job=job,
            metric=metric,
            metrics=SWEEP_METRICS,
            heatmap=charts.figure(
                [charts.heatmap(z, xs, ys, metric)],
                f"{metric} over {x_name} × {y_name}",
                xaxis={"title": {"text": x_name}, "type": "category"},
                yaxis={"title": {"text": y_name}, "type": "category", "automargin": True},
            ),
            results=table(_sweep_rows(job)),
        )

    @reader.get("/backtests/{run_id}", response_class=HTMLResponse)
    def report_page(
        request: Request, run_id: int, symbol: str = "", benchmark: str = ""
    ) -> HTMLResponse:
        try:
            found = report(site.app.uow, run_id, benchmark or None)
            chosen = symbol or (found.symbols[0] if found.symbols else "")
            price_chart = trades_on_price(site.app.uow, found.report, chosen) if chosen else None
        except StockerError as failure:
            return _list(request, status_code=404, error=str(failure))
        run = found.report.run
        metrics = [{"metric": name, "value": value} for name, value in found.report.metrics.items()]
        return site.render(
            request,
            "report.html",
            run=run.run,
            metrics=table(metrics),
            tearsheet=found.tearsheet,
            trades=frame_table(run.trades),
            holdings=frame_table(found.holdings),
            symbols=found.symbols,
            symbol=chosen,
            benchmark=benchmark,
            price_chart=price_chart,
        )

    @reader.get("/backtests/{run_id}/{name}.csv")
    def report_csv(run_id: int, name: str) -> Response:
        from stocker.lab.backtests import read_holdings, read_run
        from stocker.lab.compare import run_report

        if name not in TABLES:
            return Response(f"no table {name!r}; one of {', '.join(TABLES)}", status_code=404)
        if name == "metrics":
            found = run_report(site.app.uow(), run_id)
            rows = [{"metric": key, "value": value} for key, value in found.metrics.items()]
            return table_csv(table(rows), f"backtest-{run_id}-metrics.csv")
        if name == "holdings":
            frame = read_holdings(site.app.uow(), run_id)
        else:
            frame = getattr(read_run(site.app.uow(), run_id), name)
        return table_csv(frame_table(frame), f"backtest-{run_id}-{name}.csv")

    router = APIRouter()
    router.include_router(reader)
    router.include_router(research)
    return router
