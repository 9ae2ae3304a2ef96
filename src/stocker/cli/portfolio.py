"""`stocker portfolio create | optimize | show`: research portfolios built on a group."""

from __future__ import annotations

import json
import re
from datetime import date, datetime
from typing import TYPE_CHECKING, Annotated

import typer
from rich.markup import escape
from rich.table import Table

from stocker.cli.app import app, app_of, console
from stocker.cli.errors import clear_errors
from stocker.core.errors import DataError

if TYPE_CHECKING:
    from stocker.lab.construction import OptimizationReport, PortfolioView, StoredConstraints

portfolio_app = typer.Typer(
    help="Research portfolios: a group, an optimizer and its constraints; weights per date.",
    no_args_is_help=True,
)
app.add_typer(portfolio_app, name="portfolio")

AsJson = Annotated[bool, typer.Option("--json", help="Print the result as JSON.")]
METHODS_HELP = (
    "equal_weight, inverse_volatility, min_variance, max_sharpe, mean_variance, max_return, "
    "risk_parity, hrp, herc or min_cvar."
)

MODES_HELP = (
    "historical (or historical_mean), ewma (or ewma_mean), capm, black_litterman (with --view) "
    "or factor_implied (composite scores)."
)


def _name(value: str, option: str, name: str) -> str:
    """A name typed or pasted on the command line, refused when it hides a character.

    A zero-width or other invisible character (pasted from a spreadsheet or a web page) makes
    'Energy' and 'Energy\u200b' different names that print the same; the error shows it.
    """
    name = name.strip()
    hidden = [char for char in name if not char.isprintable()]
    if hidden:
        codes = ", ".join(f"U+{ord(char):04X}" for char in dict.fromkeys(hidden))
        raise DataError(
            f"{option}: got {value!r}, whose name {name!r} holds an invisible character "
            f"({codes}); type the name again"
        )
    return name


def _once(given: dict[str, str], name: str, value: str, option: str) -> None:
    """Refuse a name given twice: the second value would silently replace the first."""
    if name in given:
        raise DataError(
            f"{option}: {name!r} is given twice ({given[name]!r} and {value!r}); give it once"
        )
    given[name] = value


def _pairs(values: list[str] | None, option: str) -> dict[str, float]:
    """``NAME=NUMBER`` options as {name: number}; a name given twice is refused."""
    found: dict[str, float] = {}
    given: dict[str, str] = {}
    for value in values or []:
        name, _, number = value.rpartition("=")
        name = _name(value, option, name)
        try:
            parsed = float(number)
        except ValueError as error:
            raise DataError(f"{option}: got {value!r}, expected NAME=NUMBER") from error
        if not name:
            raise DataError(f"{option}: got {value!r}, expected NAME=NUMBER")
        _once(given, name, value, option)
        found[name] = parsed
    return found


def _bounds(values: list[str] | None) -> dict[str, tuple[float, float]]:
    """``--factor-bound value=-0.5:0.5`` options as {factor: (low, high)}."""
    found: dict[str, tuple[float, float]] = {}
    given: dict[str, str] = {}
    for value in values or []:
        name, _, span = value.partition("=")
        name = _name(value, "--factor-bound", name)
        low, _, high = span.partition(":")
        try:
            bounds = (float(low), float(high))
        except ValueError as error:
            raise DataError(
                f"--factor-bound: got {value!r}, expected FACTOR=LOW:HIGH like value=-0.5:0.5"
            ) from error
        _once(given, name, value, "--factor-bound")
        found[name] = bounds
    return found


def _day(value: str) -> date:
    """``--date`` as a date: only YYYY-MM-DD, since 03/04/2022 is 3 April or 4 March."""
    text = value.strip()
    try:
        return datetime.strptime(text, "%Y-%m-%d").date()
    except ValueError as error:
        if re.fullmatch(r"\d{4}-\d{1,2}-\d{1,2}", text):
            raise DataError(f"--date: got {value!r}, which is not a calendar date") from error
        raise DataError(
            f"--date: got {value!r}, expected a date as YYYY-MM-DD, e.g. 2022-03-04 "
            "(day/month orders such as 03/04/2022 are ambiguous)"
        ) from error


def _percent(value: float) -> str:
    return f"{value:.2%}"


@portfolio_app.command("create")
@clear_errors
def create(
    ctx: typer.Context,
    code: Annotated[str, typer.Argument(help="Portfolio code (unique, up to 50 characters).")],
    group: Annotated[str, typer.Option("--group", help="The group (universe) it invests in.")],
    method: Annotated[str, typer.Option("--method", help=f"Optimizer: {METHODS_HELP}")],
    min_weight: Annotated[
        float | None,
        typer.Option("--min-weight", help="Lowest weight (default 0, or -max weight long-short)."),
    ] = None,
    max_weight: Annotated[float, typer.Option("--max-weight", help="Highest weight.")] = 1.0,
    sector_cap: Annotated[
        list[str] | None,
        typer.Option("--sector-cap", help="SECTOR=CAP, repeatable, e.g. 'Energy=0.2'."),
    ] = None,
    factor_bound: Annotated[
        list[str] | None,
        typer.Option("--factor-bound", help="FACTOR=LOW:HIGH, repeatable (exposure bounds)."),
    ] = None,
    long_short: Annotated[
        bool, typer.Option("--long-short", help="Allow short positions (with --gross).")
    ] = False,
    gross: Annotated[
        float | None, typer.Option("--gross", help="Gross limit Σ|w| (long-short only).")
    ] = None,
    max_beta: Annotated[float | None, typer.Option("--max-beta", help="Beta cap.")] = None,
    target_vol: Annotated[
        float | None, typer.Option("--target-vol", help="Annual volatility cap, e.g. 0.15.")
    ] = None,
    turnover: Annotated[
        float | None,
        typer.Option("--turnover", help="One-way turnover limit ½·Σ|Δw| per rebalance."),
    ] = None,
    asset_turnover: Annotated[
        float | None, typer.Option("--asset-turnover", help="Per-asset |Δw| limit.")
    ] = None,
    cost_bps: Annotated[
        float, typer.Option("--cost-bps", help="Transaction cost in the objective, bps.")
    ] = 0.0,
    expected_returns: Annotated[
        str, typer.Option("--expected-returns", help=f"Expected returns: {MODES_HELP}")
    ] = "historical",
    views: Annotated[
        list[str] | None,
        typer.Option(
            "--view",
            help="SYMBOL=RETURN, repeatable: a Black–Litterman view, annual, e.g. 'AAPL=0.12'.",
        ),
    ] = None,
    view_confidence: Annotated[
        list[str] | None,
        typer.Option(
            "--view-confidence",
            help="SYMBOL=C in [0, 1], repeatable: Idzorek confidence of each view.",
        ),
    ] = None,
    tau: Annotated[float, typer.Option("--tau", help="Black–Litterman's τ.")] = 0.05,
    score_spread: Annotated[
        float,
        typer.Option(
            "--score-spread",
            help="factor_implied: cross-sectional spread (std) of expected returns, annual.",
        ),
    ] = 0.05,
    name: Annotated[str | None, typer.Option("--name", help="Display name.")] = None,
    capital: Annotated[float, typer.Option("--capital", help="Initial capital.")] = 1_000_000.0,
    as_json: AsJson = False,
) -> None:
    """Create a portfolio on a group with an optimizer and its constraints."""
    from stocker.lab.construction import StoredConstraints, create_portfolio

    if min_weight is None:
        min_weight = -max_weight if long_short else 0.0
    constraints = StoredConstraints(
        min_weight=min_weight,
        max_weight=max_weight,
        long_only=not long_short,
        gross_limit=gross,
        sector_caps=_pairs(sector_cap, "--sector-cap"),
        factor_bounds=_bounds(factor_bound),
        max_beta=max_beta,
        target_volatility=target_vol,
        turnover_limit=turnover,
        per_asset_turnover_limit=asset_turnover,
        transaction_cost_bps=cost_bps,
        views=_pairs(views, "--view"),
        view_confidences=_pairs(view_confidence, "--view-confidence"),
        tau=tau,
        score_spread=score_spread,
    )
    view = create_portfolio(
        app_of(ctx).uow(),
        code,
        group=group,
        method=method,
        constraints=constraints,
        expected_returns=expected_returns,
        name=name,
        initial_capital=capital,
    )
    if as_json:
        typer.echo(json.dumps(view.as_json(), indent=2))
        return
    console.print(f"created portfolio {escape(view.portfolio.code)}")
    _render_view(view)


@portfolio_app.command("optimize")
@clear_errors
def optimize(
    ctx: typer.Context,
    code: Annotated[str, typer.Argument(help="Portfolio code.")],
    day: Annotated[str, typer.Option("--date", help="Rebalance date, YYYY-MM-DD (data up to it).")],
    lookback: Annotated[
        int, typer.Option("--lookback", help="Daily returns in the estimation window.")
    ] = 252,
    expected_returns: Annotated[
        str | None,
        typer.Option("--expected-returns", help=f"{MODES_HELP} (default: the portfolio's)."),
    ] = None,
    covariance: Annotated[
        str | None,
        typer.Option(
            "--covariance",
            help="A cached estimator (sample, ledoit_wolf, oas, ...): the covariance and HRP "
            "tree come from the covariance cache (default: the window's sample covariance).",
        ),
    ] = None,
    replace_later: Annotated[
        bool,
        typer.Option(
            "--replace-later",
            help="Delete the rebalances stored after --date (with a turnover limit or costs they "
            "were measured against the weights before them); optimize them again in order.",
        ),
    ] = False,
    as_json: AsJson = False,
) -> None:
    """Optimize as of --date on data known then, store the weights and print them.

    With a turnover limit or costs, a date before stored rebalances is refused unless
    --replace-later deletes them (each was measured against the weights before it).
    """
    from stocker.lab.construction import optimize_portfolio

    rebalance_day = _day(day)
    report = optimize_portfolio(
        app_of(ctx).uow(),
        code,
        day=rebalance_day,
        lookback_days=lookback,
        expected_returns=expected_returns,
        covariance=covariance,
        replace_later=replace_later,
    )
    if as_json:
        typer.echo(json.dumps(report.as_json(), indent=2))
        return
    render_report(report)


@portfolio_app.command("show")
@clear_errors
def show(
    ctx: typer.Context,
    code: Annotated[str, typer.Argument(help="Portfolio code.")],
    as_json: AsJson = False,
) -> None:
    """Show a portfolio, its constraints and its latest weights."""
    from stocker.lab.construction import show_portfolio

    view = show_portfolio(app_of(ctx).uow(), code)
    if as_json:
        typer.echo(json.dumps(view.as_json(), indent=2))
        return
    _render_view(view)


def _constraints_line(constraints: StoredConstraints) -> str:
    parts = [
        f"weights {constraints.min_weight:g}..{constraints.max_weight:g}",
        "long-only" if constraints.long_only else "long-short",
    ]
    if constraints.gross_limit is not None:
        parts.append(f"gross ≤ {constraints.gross_limit:g}")
    for sector, cap in constraints.sector_caps.items():
        parts.append(f"{sector} ≤ {cap:g}")
    for factor, (low, high) in constraints.factor_bounds.items():
        parts.append(f"{low:g} ≤ {factor} ≤ {high:g}")
    if constraints.max_beta is not None:
        parts.append(f"beta ≤ {constraints.max_beta:g}")
    if constraints.target_volatility is not None:
        parts.append(f"volatility ≤ {constraints.target_volatility:g}/yr")
    if constraints.turnover_limit is not None:
        parts.append(f"turnover ≤ {constraints.turnover_limit:g}")
    if constraints.per_asset_turnover_limit is not None:
        parts.append(f"|Δw| ≤ {constraints.per_asset_turnover_limit:g}")
    if constraints.transaction_cost_bps:
        parts.append(f"costs {constraints.transaction_cost_bps:g} bps")
    for symbol, annual in constraints.views.items():
        confidence = constraints.view_confidences.get(symbol)
        sure = "" if confidence is None else f" (confidence {confidence:g})"
        parts.append(f"view {symbol} {annual:g}/yr{sure}")
    return ", ".join(parts)


def _sector_table(totals: dict[str, float], caps: dict[str, float]) -> Table:
    table = Table(title="sector totals")
    table.add_column("sector")
    table.add_column("weight", justify="right")
    table.add_column("cap", justify="right")
    for sector, total in totals.items():
        cap = caps.get(sector)
        table.add_row(escape(sector), _percent(total), "" if cap is None else _percent(cap))
    return table


def render_report(report: OptimizationReport) -> None:
    """Weights, risk contributions and sector totals of one rebalance, then what the solver said."""
    title = (
        f"{report.code} on {report.day}: {report.method} over {report.group} "
        f"({report.observations} returns {report.window_start} … {report.window_end})"
    )
    table = Table(title=escape(title))
    table.add_column("symbol")
    table.add_column("sector")
    table.add_column("weight", justify="right")
    table.add_column("risk contribution", justify="right")
    for symbol in report.weights.sort_values(ascending=False).index:
        table.add_row(
            escape(str(symbol)),
            escape(report.sectors.get(str(symbol), "")),
            _percent(float(report.weights[symbol])),
            _percent(float(report.risk_contributions[symbol])),
        )
    console.print(table)
    totals = {str(k): float(v) for k, v in report.sector_totals.items()}
    console.print(_sector_table(totals, dict(report.constraints.sector_caps)))
    console.print(f"constraints: {escape(_constraints_line(report.constraints))}")
    console.print(
        f"solver: {escape(report.solver)}; {report.objective_name} {report.objective:.6g}; "
        f"sum before renormalisation {report.sum_before_normalization:.9f}"
    )
    if report.turnover is not None:
        console.print(f"turnover vs {report.previous_date}: {_percent(report.turnover)} (one-way)")
    if report.psd_repair:
        console.print(f"covariance repaired: {escape(report.psd_repair)}")
    for note in report.notes:
        if note != report.psd_repair:
            console.print(f"note: {escape(note)}")


def _render_view(view: PortfolioView) -> None:
    item = view.portfolio
    console.print(
        f"{escape(item.code)} ({escape(item.name)}): {item.optimizer_type} over group "
        f"{escape(item.group or '(deleted)')} ({view.members} members), expected returns "
        f"{item.expected_return_mode}"
    )
    console.print(f"constraints: {escape(_constraints_line(view.constraints))}")
    if view.latest_date is None:
        console.print("no weights yet: run `stocker portfolio optimize CODE --date D`")
        return
    table = Table(title=f"weights on {view.latest_date} ({len(view.rebalance_dates)} rebalances)")
    table.add_column("symbol")
    table.add_column("sector")
    table.add_column("weight", justify="right")
    for symbol, weight in view.weights.items():
        table.add_row(
            escape(str(symbol)), escape(view.sectors.get(str(symbol), "")), _percent(weight)
        )
    console.print(table)
    totals = {str(k): float(v) for k, v in view.sector_totals.items()}
    console.print(_sector_table(totals, dict(view.constraints.sector_caps)))
