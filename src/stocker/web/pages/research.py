"""Research pages: the screener (autocomplete, sortable results, save as group), groups, and the
portfolio builder (group + optimizer + constraints → weights, risk, sectors, constraint costs)."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from stocker.core.errors import DataError, StockerError
from stocker.web import charts
from stocker.web.csv_export import table_csv
from stocker.web.queries import latest_bar_date, research_portfolios, sectors
from stocker.web.site import frame_table, table

if TYPE_CHECKING:
    from stocker.lab.constraint_costs import ConstraintCosts
    from stocker.lab.construction import OptimizationReport
    from stocker.lab.screener import ScreenResult
    from stocker.web.site import Site

SECTOR_CAP_ROWS = 3
"""Sector cap rows offered by the builder's form."""


def parse_day(text: str | None, field: str = "date") -> dt.date | None:
    if not text:
        return None
    try:
        return dt.date.fromisoformat(text.strip())
    except ValueError:
        raise DataError(f"{field}: got {text!r}, expected a date YYYY-MM-DD") from None


def _optional_float(text: str | None, field: str) -> float | None:
    if text is None or not text.strip():
        return None
    try:
        return float(text)
    except ValueError:
        raise DataError(f"{field}: got {text!r}, expected a number") from None


def _result_table(result: ScreenResult) -> dict[str, Any]:
    return frame_table(result.rows, result.columns)


def _report_charts(report: OptimizationReport) -> dict[str, Any]:
    order = report.weights.sort_values(ascending=False).index
    labels = [str(symbol) for symbol in order]
    caps = dict(report.constraints.sector_caps)
    sectors_shown = [str(name) for name in report.sector_totals.index][::-1]
    totals = [float(report.sector_totals[name]) for name in sectors_shown]
    sector_traces = [charts.bars(sectors_shown, totals, "weight", horizontal=True)]
    if caps:
        capped = [name for name in sectors_shown if name in caps]
        sector_traces.append(
            charts.markers(
                [caps[name] for name in capped],
                capped,
                "cap",
                "line-ns",
                "#b3261e",
                [f"cap {caps[name]:.0%}" for name in capped],
                size=22,
            )
        )
    return {
        "weights": charts.figure(
            [charts.bars(labels, report.weights[order].to_list(), "weight")],
            "Weights",
            yaxis={"tickformat": ".0%"},
        ),
        "risk": charts.figure(
            [charts.bars(labels, report.risk_contributions[order].to_list(), "risk contribution")],
            "Risk contributions (share of variance)",
            yaxis={"tickformat": ".0%"},
        ),
        "sectors": charts.figure(
            sector_traces,
            "Sector totals and caps",
            xaxis={"tickformat": ".0%"},
            yaxis={"automargin": True},
        ),
    }


def routes(site: Site) -> APIRouter:
    reader = APIRouter(include_in_schema=False, dependencies=site.guard("read"))
    research = APIRouter(include_in_schema=False, dependencies=site.guard("research"))

    def _fields() -> dict[str, str]:
        from stocker.core.screener import FIELDS

        return {
            name: f"{info.description} ({info.source}, {info.type})"
            for name, info in FIELDS.items()
        }

    def _screen(expression: str, day: str | None, universe: str | None) -> ScreenResult:
        from stocker.lab.screener import screen

        chosen = parse_day(day) or latest_bar_date(site.app.uow())
        if chosen is None:
            raise DataError("date: no daily bars are stored yet; load data first")
        return screen(site.app.uow(), expression, day=chosen, universe=universe or None)

    def _screener(
        request: Request,
        expression: str,
        day: str | None,
        universe: str | None,
        template: str = "screener.html",
        **extra: Any,
    ) -> HTMLResponse:
        from stocker.data.universes import list_universes

        result = None
        error = extra.pop("error", None)
        if expression.strip() and error is None:
            try:
                result = _screen(expression, day, universe)
            except StockerError as failure:
                error = str(failure)
        default_day = latest_bar_date(site.app.uow())
        return site.render(
            request,
            template,
            status_code=422 if error else 200,
            expression=expression,
            day=day or (default_day.isoformat() if default_day else ""),
            universe=universe or "",
            universes=[item.name for item in list_universes(site.app.uow())],
            fields=_fields(),
            result=result,
            results=_result_table(result) if result is not None else None,
            error=error,
            **extra,
        )

    @reader.get("/screener", response_class=HTMLResponse)
    def screener_page(
        request: Request, expression: str = "", date: str = "", universe: str = ""
    ) -> HTMLResponse:
        template = "screener_results.html" if request.headers.get("HX-Request") else "screener.html"
        return _screener(request, expression, date, universe, template)

    @reader.get("/screener.csv")
    def screener_csv(expression: str, date: str = "", universe: str = "") -> Response:
        return table_csv(_result_table(_screen(expression, date, universe)), "screen.csv")

    @research.post("/screener/save")
    def save_screen(
        request: Request,
        expression: Annotated[str, Form()],
        name: Annotated[str, Form()],
        date: Annotated[str, Form()] = "",
        universe: Annotated[str, Form()] = "",
        replace: Annotated[bool, Form()] = False,
    ) -> Response:
        from stocker.lab.screener import save_group

        try:
            if not name.strip():
                raise DataError("name: give the group a name")
            result = _screen(expression, date, universe)
            saved = save_group(site.app.uow(), name.strip(), result, replace=replace)
        except StockerError as failure:
            return _screener(request, expression, date, universe, error=str(failure))
        return RedirectResponse(f"/groups/{saved.name}?saved=1", status_code=303)

    @reader.get("/groups", response_class=HTMLResponse)
    def groups_page(request: Request) -> HTMLResponse:
        from stocker.data.universes import list_universes

        rows = [
            {
                "name": item.name,
                "members": item.member_count,
                "description": item.description,
                "global": item.is_global,
                "strategies": ", ".join(item.strategies),
                "updated": item.updated_at,
            }
            for item in list_universes(site.app.uow())
        ]
        return site.render(request, "groups.html", groups=rows)

    @reader.get("/groups/{name}", response_class=HTMLResponse)
    def group_page(request: Request, name: str, saved: int = 0) -> HTMLResponse:
        from stocker.data.universes import universe_members

        try:
            universe, members = universe_members(site.app.uow(), name)
        except StockerError as failure:
            return site.render(
                request, "groups.html", status_code=404, groups=[], error=str(failure)
            )
        return site.render(
            request,
            "group.html",
            group=universe,
            members=table([{"rank": m.position, "symbol": m.symbol} for m in members]),
            notice=f"saved group {universe.name}" if saved else None,
        )

    @reader.get("/groups/{name}/members.csv")
    def group_csv(name: str) -> Response:
        from stocker.data.universes import universe_members

        _, members = universe_members(site.app.uow(), name)
        rows = table([{"rank": m.position, "symbol": m.symbol} for m in members])
        return table_csv(rows, f"group-{name}.csv")

    def _builder(request: Request, status_code: int = 200, **extra: Any) -> HTMLResponse:
        from stocker.core.optimize import METHODS
        from stocker.data.universes import list_universes

        default_day = latest_bar_date(site.app.uow())
        extra.setdefault("form", {})
        return site.render(
            request,
            "builder.html",
            status_code=status_code,
            groups=[item.name for item in list_universes(site.app.uow())],
            methods=METHODS,
            sectors=sectors(site.app.uow()),
            cap_rows=range(SECTOR_CAP_ROWS),
            day=default_day.isoformat() if default_day else "",
            portfolios=table(research_portfolios(site.app.uow())),
            **extra,
        )

    @reader.get("/builder", response_class=HTMLResponse)
    def builder_page(request: Request, group: str = "") -> HTMLResponse:
        return _builder(request, form={"group": group})

    @research.post("/builder", response_class=HTMLResponse)
    async def build(request: Request) -> HTMLResponse:
        from stocker.lab.constraint_costs import constraint_costs
        from stocker.lab.construction import (
            StoredConstraints,
            create_portfolio,
            optimize_portfolio,
        )

        form = {key: str(value) for key, value in (await request.form()).multi_items()}
        submitted = await request.form()
        try:
            code = form.get("code", "").strip()
            day = parse_day(form.get("date")) or latest_bar_date(site.app.uow())
            if day is None:
                raise DataError("date: no daily bars are stored yet")
            caps: dict[str, float] = {}
            for sector, cap in zip(
                submitted.getlist("cap_sector"), submitted.getlist("cap_value"), strict=False
            ):
                value = _optional_float(str(cap), f"sector cap of {sector}")
                if str(sector).strip() and value is not None:
                    caps[str(sector)] = value
            min_weight = _optional_float(form.get("min_weight"), "min weight")
            max_weight = _optional_float(form.get("max_weight"), "max weight")
            constraints = StoredConstraints(
                min_weight=0.0 if min_weight is None else min_weight,
                max_weight=1.0 if max_weight is None else max_weight,
                sector_caps=caps,
                max_beta=_optional_float(form.get("max_beta"), "max beta"),
                target_volatility=_optional_float(form.get("target_vol"), "target volatility"),
                turnover_limit=_optional_float(form.get("turnover"), "turnover limit"),
                transaction_cost_bps=_optional_float(form.get("cost_bps"), "cost bps") or 0.0,
            )
            create_portfolio(
                site.app.uow(),
                code,
                group=form.get("group", ""),
                method=form.get("method", ""),
                constraints=constraints,
                expected_returns=form.get("expected_returns") or "historical",
            )
            report = optimize_portfolio(site.app.uow(), code, day=day)
            costs = constraint_costs(site.app.uow(), code, day=day)
        except StockerError as failure:
            return _builder(request, status_code=422, form=form, error=str(failure))
        return _report(request, report, costs)

    def _report(
        request: Request, report: OptimizationReport, costs: ConstraintCosts
    ) -> HTMLResponse:
        weights = [
            {
                "symbol": symbol,
                "sector": report.sectors.get(str(symbol), ""),
                "weight": float(report.weights[symbol]),
                "risk_contribution": float(report.risk_contributions[symbol]),
            }
            for symbol in report.weights.sort_values(ascending=False).index
        ]
        caps = dict(report.constraints.sector_caps)
        sector_rows = [
            {"sector": name, "weight": float(total), "cap": caps.get(str(name))}
            for name, total in report.sector_totals.items()
        ]
        cost_rows = [
            {
                "constraint": cost.constraint,
                f"{costs.objective_name} without it": cost.objective_without,
                "cost (with − without)": cost.change,
                "note": cost.note,
            }
            for cost in costs.costs
        ]
        return site.render(
            request,
            "portfolio_report.html",
            report=report,
            charts=_report_charts(report),
            weights=table(weights),
            sector_rows=table(sector_rows),
            costs=table(cost_rows),
            objective=costs.objective,
            objective_name=costs.objective_name,
        )

    @reader.get("/builder/{code}", response_class=HTMLResponse)
    def portfolio_page(request: Request, code: str, date: str = "") -> HTMLResponse:
        from stocker.lab.construction import show_portfolio

        try:
            view = show_portfolio(site.app.uow(), code)
        except StockerError as failure:
            return _builder(request, status_code=404, error=str(failure))
        rows = [
            {"symbol": symbol, "sector": view.sectors.get(str(symbol), ""), "weight": weight}
            for symbol, weight in view.weights.items()
        ]
        return site.render(
            request,
            "portfolio.html",
            view=view,
            weights=table(rows),
            weights_chart=charts.figure(
                [charts.bars([r["symbol"] for r in rows], [r["weight"] for r in rows], "weight")],
                f"{code}: weights on {view.latest_date}",
                yaxis={"tickformat": ".0%"},
            ),
        )

    @research.post("/builder/{code}/optimize", response_class=HTMLResponse)
    def reoptimize(request: Request, code: str, date: Annotated[str, Form()] = "") -> HTMLResponse:
        from stocker.lab.constraint_costs import constraint_costs
        from stocker.lab.construction import optimize_portfolio

        try:
            day = parse_day(date) or latest_bar_date(site.app.uow())
            if day is None:
                raise DataError("date: no daily bars are stored yet")
            report = optimize_portfolio(site.app.uow(), code, day=day)
            costs = constraint_costs(site.app.uow(), code, day=day)
        except StockerError as failure:
            return _builder(request, status_code=422, error=str(failure))
        return _report(request, report, costs)

    router = APIRouter()
    router.include_router(reader)
    router.include_router(research)
    return router
