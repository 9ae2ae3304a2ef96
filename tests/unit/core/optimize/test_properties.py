"""Property tests: every constraint holds in every answer; infeasible sets name their conflict.

Feasible sets are drawn around a random portfolio w₀ that satisfies them by construction, so a
failure to solve is a bug, not bad luck. Infeasible sets plant one known conflict among loose
constraints; the diagnosis must name exactly the planted groups.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from stocker.core.errors import InfeasibleError
from stocker.core.optimize import ConflictingConstraintsError, Constraints, optimize
from stocker.core.optimize.api import Method

N_ASSETS = 8
SECTORS = ("A", "B", "C")
PROPERTY_SETTINGS = settings(
    max_examples=20,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


@pytest.fixture(scope="module")
def small(returns: pd.DataFrame) -> pd.DataFrame:
    return returns.iloc[-500:, :N_ASSETS]


def _feasible_set(draw: st.DrawFn, symbols: list[str], covariance: np.ndarray) -> Constraints:
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    long_only = draw(st.booleans())
    anchor = rng.dirichlet(np.ones(N_ASSETS))
    if not long_only:
        anchor = anchor + rng.normal(0, 0.1, N_ASSETS)
        anchor += (1 - anchor.sum()) / N_ASSETS
    slack = draw(st.floats(0.0, 0.1))
    sectors = {s: SECTORS[i % 3] for i, s in enumerate(symbols)}
    options: dict[str, object] = {"long_only": long_only, "sectors": sectors}
    low = anchor.min() - slack
    options["min_weight"] = max(low, 0.0) if long_only else low
    options["max_weight"] = anchor.max() + slack
    if not long_only:
        options["gross_limit"] = float(np.abs(anchor).sum() + slack)
    if draw(st.booleans()):
        totals = {name: anchor[[sectors[s] == name for s in symbols]].sum() for name in SECTORS}
        options["sector_caps"] = {name: totals[name] + slack for name in SECTORS[:2]}
    if draw(st.booleans()):
        exposure = dict(zip(symbols, rng.normal(0, 1, N_ASSETS), strict=True))
        value = float(np.array(list(exposure.values())) @ anchor)
        options["factor_exposures"] = {"value": exposure}
        options["factor_bounds"] = {"value": (value - slack, value + slack)}
    if draw(st.booleans()):
        betas = dict(zip(symbols, rng.uniform(0.5, 1.5, N_ASSETS), strict=True))
        options["betas"] = betas
        options["max_beta"] = float(np.array(list(betas.values())) @ anchor) + slack
    if draw(st.booleans()):
        volatility = math.sqrt(anchor @ covariance @ anchor * 252)
        options["target_volatility_annual"] = volatility * (1 + slack)
    if draw(st.booleans()):
        previous = rng.dirichlet(np.ones(N_ASSETS))
        options["previous_weights"] = dict(zip(symbols, previous, strict=True))
        options["turnover_limit"] = 0.5 * float(np.abs(anchor - previous).sum()) + slack
        options["transaction_cost_bps"] = draw(st.sampled_from([0.0, 10.0]))
    return Constraints(**options)  # type: ignore[arg-type]


@st.composite
def feasible_case(draw: st.DrawFn, frame: pd.DataFrame) -> tuple[Method, Constraints]:
    methods: list[Method] = ["min_variance", "max_sharpe", "mean_variance", "min_cvar"]
    method = draw(st.sampled_from(methods))
    constraints = _feasible_set(draw, list(frame.columns), frame.cov().to_numpy())
    return method, constraints


def test_every_constraint_holds_in_every_answer(small: pd.DataFrame) -> None:
    covariance = small.cov().to_numpy()

    @PROPERTY_SETTINGS
    @given(case=feasible_case(small))
    def check(case: tuple[Method, Constraints]) -> None:
        method, constraints = case
        try:
            weights = optimize(small, method, constraints)
        except InfeasibleError as error:
            # Only max-Sharpe may legitimately find no portfolio beating the risk-free rate.
            assert method == "max_sharpe" and "no portfolio satisfying them" in str(error)
            return
        resolved = constraints.resolve(small.columns)
        assert resolved.violations(weights.to_numpy(), covariance, tol=1e-6) == []
        assert abs(weights.attrs["result"].sum_before_normalization - 1) <= 1e-6

    check()


@PROPERTY_SETTINGS
@given(
    data=st.data(),
    low=st.floats(0.0, 0.06),
    high=st.floats(0.13, 0.6),
    method=st.sampled_from(["hrp", "herc"]),
)
def test_hierarchical_bounds_hold_for_random_bounds(
    small: pd.DataFrame, data: st.DataObject, low: float, high: float, method: Method
) -> None:
    symbols = list(small.columns)
    lower = {s: data.draw(st.floats(0.0, low)) for s in symbols}
    upper = {s: data.draw(st.floats(high / 2, high)) for s in symbols}
    if sum(lower.values()) > 1 or sum(upper.values()) < 1:
        with pytest.raises(InfeasibleError):
            optimize(small, method, Constraints(min_weight=lower, max_weight=upper))
        return
    weights = optimize(small, method, Constraints(min_weight=lower, max_weight=upper))
    assert (weights >= pd.Series(lower) - 1e-12).all()
    assert (weights <= pd.Series(upper) + 1e-12).all()
    assert weights.sum() == pytest.approx(1.0, abs=1e-12)


PLANTS = ("floors", "ceilings", "sector_floor", "factor", "beta", "turnover_sector")


@st.composite
def infeasible_case(draw: st.DrawFn, symbols: list[str]) -> tuple[Constraints, tuple[str, ...]]:
    plant = draw(st.sampled_from(PLANTS))
    sectors = {s: SECTORS[i % 3] for i, s in enumerate(symbols)}
    excess = draw(st.floats(0.01, 0.2))
    loose: dict[str, object] = {"sectors": sectors}
    if draw(st.booleans()):
        loose["betas"] = dict.fromkeys(symbols, 1.0)
        loose["max_beta"] = 2.0
    if plant == "floors":
        return Constraints(min_weight=(1 + excess) / N_ASSETS, **loose), ("min_weight",)  # type: ignore[arg-type]
    if plant == "ceilings":
        return Constraints(max_weight=(1 - excess) / N_ASSETS, **loose), ("max_weight",)  # type: ignore[arg-type]
    if plant == "sector_floor":
        members = sum(1 for s in symbols if sectors[s] == "A")
        floor = 0.05
        return (
            Constraints(
                min_weight=floor,
                sector_caps={"A": members * floor * (1 - excess)},
                **loose,  # type: ignore[arg-type]
            ),
            ("min_weight", "sector_caps"),
        )
    if plant == "factor":
        exposure = dict(zip(symbols, np.linspace(-1, 1, N_ASSETS), strict=True))
        return (
            Constraints(
                factor_exposures={"momentum": exposure},
                factor_bounds={"momentum": (1 + excess, 2.0)},
                **loose,  # type: ignore[arg-type]
            ),
            ("min_weight", "factor_bounds"),
        )
    if plant == "beta":
        betas = dict(zip(symbols, np.linspace(0.8, 1.4, N_ASSETS), strict=True))
        return (
            Constraints(betas=betas, max_beta=0.8 - excess, sectors=sectors),
            ("min_weight", "max_beta"),
        )
    previous = dict.fromkeys(symbols, 0.0)
    a_members = [s for s in symbols if sectors[s] == "A"]
    for s in a_members:
        previous[s] = 1 / len(a_members)  # everything in sector A
    return (
        Constraints(
            previous_weights=previous,
            turnover_limit=0.5 - excess,
            sector_caps={"A": 0.5},
            **loose,  # type: ignore[arg-type]
        ),
        ("sector_caps", "turnover_limit"),
    )


def test_infeasible_sets_name_the_planted_conflict(small: pd.DataFrame) -> None:
    @PROPERTY_SETTINGS
    @given(
        case=infeasible_case(list(small.columns)),
        method=st.sampled_from(["min_variance", "max_sharpe"]),
    )
    def check(case: tuple[Constraints, tuple[str, ...]], method: Method) -> None:
        constraints, planted = case
        with pytest.raises(ConflictingConstraintsError) as caught:
            optimize(small, method, constraints)
        assert caught.value.conflicts == ("budget", *planted)
        for name in planted:
            assert name in str(caught.value)

    check()
