"""Research: portfolios (constraints, synchronous optimization, weights), factor exposures, the
risk model, the covariance cache (ETag keyed by universe hash) and HRP trees."""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Callable
from typing import Annotated, Any, Literal, cast

from fastapi import APIRouter, Depends, Path, Query, Request, Response
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    JsonValue,
    StringConstraints,
    model_validator,
)

from stocker.api import schemas
from stocker.api.auth import application, require_scope
from stocker.api.deps import TICKER, Symbol, Visible, listing_route

router = APIRouter()
Code = Annotated[str, Path(max_length=50, examples=["tech_minvar"])]
Day = Annotated[dt.date | None, Query(description="One as-of date.")]
Universe = Annotated[str | None, Query(max_length=100, description="A universe's members.")]
SymbolsQuery = Annotated[
    str | None,
    Query(max_length=20000, description="Comma-separated symbols (instead of a universe)."),
]
Estimator = Annotated[
    Literal["sample", "ledoit_wolf", "ledoit_wolf_constant_correlation", "oas", "ewma"],
    Query(description="Covariance estimator."),
]
Window = Annotated[int, Query(ge=2, le=5000, description="Daily returns in the window.")]
Mode = Literal[
    "historical",
    "historical_mean",
    "ewma",
    "ewma_mean",
    "capm",
    "black_litterman",
    "factor_implied",
]
"""Expected-return modes; historical_mean / ewma_mean are the optimizer's spellings of
historical / ewma, stored as the short name (`stocker.lab.portfolio_constraints.canonical_mode`)."""
Ticker = Annotated[str, StringConstraints(pattern=TICKER)]
MAX_VIEWS = 500
"""Views (and confidences) a portfolio may carry: more than a group's members is a mistake."""
RESEARCH = [Depends(require_scope("research"))]
READ = [Depends(require_scope("read"))]


class Constraints(BaseModel):
    """A portfolio's constraints (weights are fractions: 0.25 = 25%)."""

    min_weight: float = Field(default=0.0, ge=-1, le=1, examples=[0.0])
    max_weight: float = Field(default=1.0, gt=0, le=1, examples=[0.25])
    long_only: bool = True
    gross_limit: float | None = Field(default=None, gt=0, le=10, examples=[None])
    sector_caps: dict[str, Annotated[float, Field(ge=0, le=1)]] = Field(
        default_factory=dict, max_length=200, examples=[{"Technology": 0.4}]
    )
    factor_bounds: dict[str, tuple[float, float]] = Field(
        default_factory=dict, max_length=20, examples=[{"value": [-1.0, 1.0]}]
    )
    max_beta: float | None = Field(default=None, examples=[1.1])
    target_volatility: float | None = Field(default=None, gt=0, le=10, examples=[None])
    turnover_limit: float | None = Field(default=None, ge=0, le=2, examples=[0.3])
    per_asset_turnover_limit: float | None = Field(default=None, ge=0, le=2)
    transaction_cost_bps: float = Field(default=0.0, ge=0, le=10000)
    views: dict[Ticker, Annotated[float, Field(allow_inf_nan=False)]] = Field(
        default_factory=dict,
        max_length=MAX_VIEWS,
        examples=[{"AAPL": 0.12, "XOM": -0.02}],
        description="Black–Litterman absolute views: symbol → expected return, annual "
        "(0.12 = 12%/yr), each on a member of the group. Only expected_returns "
        "black_litterman reads them (it needs at least one); with another mode they are "
        "refused (400, field views), as the CLI's --view.",
    )
    view_confidences: dict[Ticker, Annotated[float, Field(ge=0, le=1)]] = Field(
        default_factory=dict,
        max_length=MAX_VIEWS,
        examples=[{"AAPL": 0.8, "XOM": 0.5}],
        description="Idzorek confidence in [0, 1], one per view or none (He–Litterman's Ω); "
        "as the CLI's --view-confidence.",
    )
    tau: float = Field(
        default=0.05,
        gt=0,
        allow_inf_nan=False,
        examples=[0.05],
        description="Black–Litterman's τ (the prior's uncertainty scale); as the CLI's --tau.",
    )
    score_spread: float = Field(
        default=0.05,
        ge=0,
        allow_inf_nan=False,
        examples=[0.05],
        description="factor_implied: the annual cross-sectional spread (standard deviation) "
        "of expected returns; as the CLI's --score-spread.",
    )


BLACK_LITTERMAN_EXAMPLE: dict[str, JsonValue] = {
    "code": "tech_bl",
    "group": "tech_leaders",
    "method": "max_sharpe",
    "expected_returns": "black_litterman",
    "constraints": {
        "max_weight": 0.3,
        "views": {"AAPL": 0.12, "MSFT": 0.08},
        "view_confidences": {"AAPL": 0.8, "MSFT": 0.5},
        "tau": 0.05,
    },
}
"""A Black–Litterman portfolio as `POST /portfolios` takes it (the OpenAPI example)."""


class NewPortfolio(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [BLACK_LITTERMAN_EXAMPLE]})

    code: Annotated[str, Visible] = Field(max_length=50, examples=["tech_minvar"])
    group: Annotated[str, Visible] = Field(max_length=100, examples=["tech_leaders"])
    method: str = Field(max_length=50, examples=["min_variance"], description="The optimizer.")
    constraints: Constraints = Field(default_factory=Constraints)
    expected_returns: Mode = "historical"
    name: str | None = Field(default=None, max_length=255, examples=["Tech minimum variance"])
    description: str | None = Field(default=None, max_length=2000)
    initial_capital: float = Field(default=1_000_000.0, gt=0, le=1e15, examples=[1_000_000])


class Optimize(BaseModel):
    date: dt.date = Field(examples=["2024-06-28"], description="Rebalance date (data up to it).")
    lookback_days: int = Field(default=252, ge=20, le=5000)
    expected_returns: Mode | None = None
    replace_later: bool = Field(
        default=False,
        description="Delete the rebalances stored after date (with a turnover limit or costs, "
        "they were measured against the weights before them; without it such a date is refused).",
    )
    covariance: str | None = Field(
        default=None, max_length=50, examples=["ledoit_wolf"], description="A cached estimator."
    )


class Compute(BaseModel):
    """One date, or a range of sessions."""

    date: dt.date | None = Field(default=None, examples=["2024-06-28"])
    start: dt.date | None = None
    end: dt.date | None = None
    universe: str | None = Field(default=None, max_length=100)

    @model_validator(mode="after")
    def _one_of(self) -> Compute:
        if self.date is None and (self.start is None or self.end is None):
            raise ValueError("give date, or start and end")
        return self


class RiskCompute(Compute):
    benchmark: str = Field(
        default="SP500",
        max_length=20,
        examples=["SP500"],
        description="Symbol betas are measured against, or 'equal-weight' (the cross-section).",
    )


Json = dict[str, Any]

listing_route(
    router,
    "/portfolios",
    "portfolios",
    schemas.PortfolioRow,
    summary="Portfolios, by code",
    filters={"group": Universe},
    tags=["portfolios"],
)


@router.get(
    "/portfolios/{code}",
    summary="A portfolio, its constraints and latest weights",
    dependencies=READ,
    tags=["portfolios"],
)
def show(request: Request, code: Code) -> Json:
    from stocker.lab.construction import show_portfolio

    return show_portfolio(application(request).uow(), code).as_json()


@router.get(
    "/portfolios/{code}/constraints",
    response_model=Constraints,
    summary="A portfolio's constraints",
    dependencies=READ,
    tags=["portfolios"],
)
def constraints(request: Request, code: Code) -> Json:
    from stocker.lab.construction import show_portfolio

    stored = show_portfolio(application(request).uow(), code).constraints
    return dataclasses.asdict(stored)


@router.post(
    "/portfolios",
    status_code=201,
    summary="Create a portfolio on a group",
    dependencies=RESEARCH,
    tags=["portfolios"],
)
def create(request: Request, body: NewPortfolio) -> Json:
    from stocker.lab.construction import StoredConstraints, create_portfolio

    view = create_portfolio(
        application(request).uow(),
        body.code,
        group=body.group,
        method=body.method,
        constraints=StoredConstraints(**body.constraints.model_dump()),
        expected_returns=body.expected_returns,
        name=body.name,
        description=body.description,
        initial_capital=body.initial_capital,
    )
    return view.as_json()


@router.post(
    "/portfolios/{code}/optimize",
    summary="Optimize as of a date (synchronous) and store the weights",
    dependencies=RESEARCH,
    tags=["portfolios"],
)
def optimize(request: Request, code: Code, body: Optimize) -> Json:
    from stocker.lab.construction import optimize_portfolio

    report = optimize_portfolio(
        application(request).uow(),
        code,
        day=body.date,
        lookback_days=body.lookback_days,
        expected_returns=body.expected_returns,
        covariance=body.covariance,
        replace_later=body.replace_later,
    )
    return report.as_json()


listing_route(
    router,
    "/portfolios/{code}/weights",
    "weights",
    schemas.Weight,
    summary="Stored weights, by date and symbol",
    filters={"date": Day},
    parent=("code", "portfolio", Code, "portfolios", "code"),
    tags=["portfolios"],
)
listing_route(
    router,
    "/factors",
    "factors",
    schemas.Factors,
    summary="Factor exposures (z-scores), by date and symbol",
    tags=["factors and risk"],
    filters={"date": Day, "symbol": Symbol, "start": Day, "end": Day},
)
listing_route(
    router,
    "/risk",
    "risk",
    schemas.Risk,
    summary="The risk model, by date and symbol",
    tags=["factors and risk"],
    filters={"date": Day, "symbol": Symbol, "start": Day, "end": Day},
)


@router.post(
    "/factors/compute",
    summary="Compute and store factor exposures",
    dependencies=RESEARCH,
    tags=["factors and risk"],
)
def compute_factors(request: Request, body: Compute) -> Json:
    from stocker.lab.factors import compute_factors as compute

    return _computed(request, compute, body)


@router.post(
    "/risk/compute",
    summary="Compute and store the risk model",
    dependencies=RESEARCH,
    tags=["factors and risk"],
)
def compute_risk(request: Request, body: RiskCompute) -> Json:
    from stocker.lab.risk import EQUAL_WEIGHT
    from stocker.lab.risk import compute_risk as compute

    benchmark = None if body.benchmark == EQUAL_WEIGHT else body.benchmark
    return _computed(request, compute, body, benchmark=benchmark)


def _computed(request: Request, compute: Callable[..., Any], body: Compute, **more: Any) -> Json:
    """Run a compute use case over the body's date (or range) and universe; its report."""
    report = compute(
        application(request).uow(),
        day=body.date,
        start=body.start,
        end=body.end,
        universe=body.universe,
        **more,
    )
    return cast(Json, report.as_json())


listing_route(
    router,
    "/covariances",
    "covariances",
    schemas.CovarianceEntry,
    summary="Cached covariance matrices (without the numbers)",
    tags=["covariance"],
    filters={"date": Day, "universe_hash": Annotated[str | None, Query(max_length=64)]},
)
listing_route(
    router,
    "/hrp-trees",
    "hrp_trees",
    schemas.HrpTreeEntry,
    summary="Cached HRP clustering trees",
    tags=["covariance"],
    filters={"date": Day, "universe_hash": Annotated[str | None, Query(max_length=64)]},
)


def _symbols(text: str | None) -> list[str] | None:
    return None if text is None else [part.strip() for part in text.split(",") if part.strip()]


def _not_modified(request: Request, response: Response, key: str) -> Response | None:
    """Set the cache headers of `key`; a 304 when the client already holds it."""
    tag = f'"{key}"'
    response.headers["ETag"] = tag
    response.headers["Cache-Control"] = "private, max-age=86400"
    wanted = request.headers.get("if-none-match", "")
    if tag in [part.strip() for part in wanted.split(",")] or wanted.strip() == "*":
        return Response(status_code=304, headers=dict(response.headers))
    return None


def _estimated(
    request: Request,
    estimate: Callable[..., Any],
    date: dt.date,
    universe: str | None,
    symbols: str | None,
    estimator: str,
    window_days: int,
    **more: Any,
) -> Any:
    """What a covariance-based use case finds for a universe (or symbols) as of a date."""
    return estimate(
        application(request).uow(),
        day=date,
        symbols=_symbols(symbols),
        universe=universe,
        estimator=estimator,
        window_days=window_days,
        **more,
    )


@router.get(
    "/covariance",
    summary="The covariance matrix of a universe as of a date (read from the cache or "
    "computed and cached); ETag is the universe hash, date and method",
    dependencies=READ,
    tags=["covariance"],
    responses={304: {"description": "Not Modified (If-None-Match matched the ETag)"}},
)
def get_covariance(
    request: Request,
    response: Response,
    date: Annotated[dt.date, Query(description="As of this date.")],
    universe: Universe = None,
    symbols: SymbolsQuery = None,
    estimator: Estimator = "ledoit_wolf",
    window_days: Window = 252,
    matrix: Annotated[bool, Query(description="Include the matrix itself (n² numbers).")] = True,
) -> Any:
    from stocker.lab.covariance import covariance

    found = _estimated(request, covariance, date, universe, symbols, estimator, window_days)
    key = f"{found.universe_hash}:{found.as_of_date}:{found.method}"
    cached = _not_modified(request, response, key)
    return cached if cached is not None else found.as_json(with_matrix=matrix)


@router.get(
    "/hrp-tree",
    summary="The HRP clustering tree of a universe as of a date (cached); ETag as for "
    "the covariance",
    dependencies=READ,
    tags=["covariance"],
    responses={304: {"description": "Not Modified (If-None-Match matched the ETag)"}},
)
def get_tree(
    request: Request,
    response: Response,
    date: Annotated[dt.date, Query(description="As of this date.")],
    universe: Universe = None,
    symbols: SymbolsQuery = None,
    estimator: Estimator = "ledoit_wolf",
    window_days: Window = 252,
    linkage: Annotated[
        Literal["single", "complete", "average", "ward"], Query(description="Linkage method.")
    ] = "single",
) -> Any:
    from stocker.lab.covariance import hrp_tree

    found = _estimated(
        request, hrp_tree, date, universe, symbols, estimator, window_days, linkage_method=linkage
    )
    key = f"{found.universe_hash}:{found.as_of_date}:{found.covariance_method}:{found.linkage}"
    cached = _not_modified(request, response, key)
    if cached is not None:
        return cached
    return {
        "id": found.id,
        "as_of_date": found.as_of_date.isoformat(),
        "symbols": list(found.symbols),
        "linkage": found.linkage,
        "covariance_method": found.covariance_method,
        "universe_hash": found.universe_hash,
        "cached": found.cached,
        "ordered_symbols": found.tree.ordered_labels,
        "tree": dataclasses.asdict(found.tree),
        "created_at": found.created_at.isoformat(),
    }
