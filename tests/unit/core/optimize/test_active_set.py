"""The warm-started active-set solver for maximum Sharpe against an independent cvxpy model.

The oracle is the homogenised problem written here from scratch and solved by Clarabel at tight
tolerances. Whatever the solver answers must be feasible and at least as good as the oracle's
Sharpe ratio (it is certified by the KKT conditions, so it *is* the optimum); and in a
walk-forward, where it starts from the previous answer's active set, it must actually answer.
"""

from __future__ import annotations

from dataclasses import replace

import cvxpy as cp
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from stocker.core.optimize import Constraints, ConvexProblem, FactorCovariance
from stocker.core.optimize.active_set import (
    AT_PREVIOUS,
    FIXED,
    Declined,
    DenseRisk,
    FactorRisk,
    SharpeAnswer,
    SharpeInputs,
    active_set_from,
    solve_max_sharpe,
)
from stocker.core.optimize.active_set_primal import solve_max_sharpe_primal

TIGHT = {"tol_gap_abs": 1e-10, "tol_gap_rel": 1e-10, "tol_feas": 1e-10}


def _inputs(seed: int, n: int = 30, k: int = 3, dense: bool = False) -> SharpeInputs:
    rng = np.random.default_rng(seed)
    loadings = rng.normal(0.0, 1.0, (k, n)) * rng.uniform(0.2, 1.0, (k, 1))
    specific = rng.uniform(0.3, 1.0, n)
    risk: FactorRisk | DenseRisk = FactorRisk(loadings, specific)
    if dense:
        risk = DenseRisk(loadings.T @ loadings + np.diag(specific**2))
    n_sectors = 4
    sectors = np.zeros((n_sectors, n))
    sectors[rng.integers(0, n_sectors, n), np.arange(n)] = 1.0
    exposure = rng.normal(0.0, 1.0, n)
    rows = np.vstack([sectors, exposure, -exposure])
    limits = np.concatenate([np.full(n_sectors, 0.4), [0.3, 0.3]])
    unconstrained = SharpeInputs(
        risk=risk,
        mu=rng.normal(0.5, 0.6, n),
        cost=np.zeros(n),
        lower=np.zeros(n),
        upper=np.full(n, 0.15),
        previous=np.zeros(n),
        rows=rows,
        limits=limits,
        turnover=None,
    )
    # The previous weights: a feasible portfolio (another day's optimum, with other returns).
    previous = _oracle(replace(unconstrained, mu=rng.normal(0.5, 0.6, n)))
    return replace(unconstrained, cost=rng.uniform(0.0, 0.05, n), previous=previous, turnover=0.15)


def _sigma(inputs: SharpeInputs) -> np.ndarray:
    if isinstance(inputs.risk, DenseRisk):
        return inputs.risk.matrix
    return inputs.risk.loadings.T @ inputs.risk.loadings + np.diag(inputs.risk.specific)


def _oracle(inputs: SharpeInputs) -> np.ndarray:
    """The homogenised max-Sharpe problem in cvxpy, solved tightly; returns the weights."""
    n = inputs.mu.size
    y, kappa = cp.Variable(n), cp.Variable(nonneg=True)
    trade = y - kappa * inputs.previous
    constraints = [
        inputs.mu @ y - inputs.cost @ cp.abs(trade) >= 1,
        cp.sum(y) == kappa,
        y >= kappa * inputs.lower,
        y <= kappa * inputs.upper,
        inputs.rows @ y <= kappa * inputs.limits,
    ]
    if inputs.turnover is not None:
        constraints.append(0.5 * cp.sum(cp.abs(trade)) <= kappa * inputs.turnover)
    root = np.linalg.cholesky(_sigma(inputs)).T
    problem = cp.Problem(cp.Minimize(cp.sum_squares(root @ y)), constraints)
    problem.solve(solver="CLARABEL", **TIGHT)
    assert problem.status == cp.OPTIMAL
    return np.asarray(y.value) / float(np.asarray(kappa.value))


def _sharpe(inputs: SharpeInputs, weights: np.ndarray) -> float:
    excess = inputs.mu @ weights - inputs.cost @ np.abs(weights - inputs.previous)
    return float(excess / np.sqrt(weights @ _sigma(inputs) @ weights))


def _assert_feasible(inputs: SharpeInputs, weights: np.ndarray, tol: float = 1e-9) -> None:
    assert abs(weights.sum() - 1.0) <= tol
    assert np.all(weights >= inputs.lower - tol) and np.all(weights <= inputs.upper + tol)
    assert np.all(inputs.rows @ weights <= inputs.limits + tol)
    assert inputs.turnover is not None
    assert 0.5 * np.abs(weights - inputs.previous).sum() <= inputs.turnover + tol


def _nearby(inputs: SharpeInputs, seed: int, size: float) -> SharpeInputs:
    """The next rebalance: returns and risk moved a little, as a rolling window moves them."""
    rng = np.random.default_rng(seed)
    risk = inputs.risk
    moved: FactorRisk | DenseRisk
    if isinstance(risk, FactorRisk):
        moved = FactorRisk(
            risk.loadings * (1 + size * rng.normal(0, 1, risk.loadings.shape)),
            np.sqrt(risk.specific) * (1 + size * rng.uniform(-1, 1, risk.specific.size)),
        )
    else:
        noise = size * rng.normal(0, 1, risk.matrix.shape)
        moved = DenseRisk(risk.matrix + noise @ noise.T)
    return SharpeInputs(
        risk=moved,
        mu=inputs.mu + size * rng.normal(0, 1, inputs.mu.size),
        cost=inputs.cost,
        lower=inputs.lower,
        upper=inputs.upper,
        previous=inputs.previous,
        rows=inputs.rows,
        limits=inputs.limits,
        turnover=inputs.turnover,
    )


@pytest.mark.parametrize("dense", [False, True])
def test_from_a_nearby_answer_it_reaches_the_oracles_optimum(dense: bool) -> None:
    answered = 0
    for seed in range(12):
        first = _inputs(seed, dense=dense)
        start = active_set_from(first, _oracle(first))
        second = _nearby(first, seed + 100, 0.02)
        answer = solve_max_sharpe(second, start)
        if isinstance(answer, Declined):
            continue
        answered += 1
        ours, best = answer.y / answer.kappa, _oracle(second)
        _assert_feasible(second, ours)
        assert _sharpe(second, ours) >= _sharpe(second, best) * (1 - 1e-8)
        # Weights to the oracle's accuracy: a 1e-10 gap leaves ~1e-5 in flat directions.
        np.testing.assert_allclose(ours, best, atol=1e-5)
    assert answered >= 10, f"answered only {answered} of 12 nearby problems"


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 10_000), size=st.sampled_from([0.0, 0.01, 0.05, 0.3]))
def test_whatever_it_answers_is_feasible_and_optimal(seed: int, size: float) -> None:
    """From any start — even a far one — an answer is only ever the certified optimum."""
    first = _inputs(seed, n=20, k=2)
    start = active_set_from(first, _oracle(first))
    second = _nearby(first, seed + 1, size)
    answer = solve_max_sharpe(second, start)
    if isinstance(answer, SharpeAnswer):
        ours = answer.y / answer.kappa
        _assert_feasible(second, ours)
        assert _sharpe(second, ours) >= _sharpe(second, _oracle(second)) * (1 - 1e-8)


def test_the_exact_active_set_needs_one_step_and_a_wrong_one_needs_more() -> None:
    inputs = _inputs(3)
    exact = active_set_from(inputs, _oracle(inputs))
    answer = solve_max_sharpe(inputs, exact)
    assert isinstance(answer, SharpeAnswer) and answer.iterations == 1
    nothing_trades = active_set_from(inputs, inputs.previous)
    assert np.all(nothing_trades.state == FIXED)
    inside = (inputs.previous > inputs.lower + 1e-6) & (inputs.previous < inputs.upper - 1e-6)
    assert np.all(nothing_trades.fixed_at[inside] == AT_PREVIOUS)
    from_scratch = solve_max_sharpe(inputs, nothing_trades)
    assert isinstance(from_scratch, SharpeAnswer) and from_scratch.iterations > 1
    np.testing.assert_allclose(
        from_scratch.y / from_scratch.kappa, answer.y / answer.kappa, atol=1e-9
    )


def test_it_declines_instead_of_guessing() -> None:
    inputs = _inputs(5)
    elsewhere = _nearby(inputs, 9, 0.3)
    start = active_set_from(inputs, _oracle(elsewhere))
    declined = solve_max_sharpe(inputs, start, max_iterations=1)
    assert isinstance(declined, Declined) and "1 steps" in declined.reason
    # A free asset without specific variance: the Woodbury inverse does not exist.
    assert isinstance(inputs.risk, FactorRisk)
    flat = FactorRisk(inputs.risk.loadings, np.sqrt(inputs.risk.specific) * 0.0)
    degenerate = SharpeInputs(
        flat,
        inputs.mu,
        inputs.cost,
        inputs.lower,
        inputs.upper,
        inputs.previous,
        inputs.rows,
        inputs.limits,
        inputs.turnover,
    )
    declined = solve_max_sharpe(degenerate, active_set_from(inputs, _oracle(inputs)))
    assert isinstance(declined, Declined) and "singular" in declined.reason


def _walk(n: int, steps: int, seed: int = 4) -> tuple[list[np.ndarray], list[np.ndarray]]:
    rng = np.random.default_rng(seed)
    loadings = rng.normal(0, 0.01, (3, n)) * np.array([[1.0], [0.5], [0.3]])
    days = 300 + 5 * steps
    returns = rng.normal(0, 1, (days, 3)) @ loadings + rng.normal(0, 0.012, (days, n)) + 5e-4
    windows = [returns[5 * i : 5 * i + 300] for i in range(steps)]
    return windows, [window.mean(axis=0) for window in windows]


WALKS: dict[str, tuple[dict[str, object], int | None]] = {
    "sector caps, turnover, costs; factor Σ": ({"turnover_limit": 0.1}, 4),
    "per-asset turnover, factor bounds, beta; factor Σ": (
        {
            "per_asset_turnover_limit": 0.01,
            "factor_bounds": {"value": (-0.2, 0.2)},
            "max_beta": 1.1,
        },
        4,
    ),
    "sector caps, turnover, costs; dense Σ": ({"turnover_limit": 0.1}, None),
}


@pytest.mark.parametrize("walk", sorted(WALKS))
def test_a_walk_forward_re_solve_is_answered_by_it_and_equals_a_rebuild(walk: str) -> None:
    extra, factors = WALKS[walk]
    n, steps = 60, 12
    windows, means = _walk(n, steps)
    symbols = [f"S{i}" for i in range(n)]
    sectors = {s: f"sector{i % 5}" for i, s in enumerate(symbols)}
    rng = np.random.default_rng(1)
    exposures = {"value": dict(zip(symbols, rng.normal(0, 1, n), strict=True))}
    betas = dict(zip(symbols, rng.uniform(0.5, 1.5, n), strict=True))

    def constraints(previous: np.ndarray) -> Constraints:
        options: dict[str, object] = dict(extra)
        if "factor_bounds" in options:
            options["factor_exposures"] = exposures
        if "max_beta" in options:
            options["betas"] = betas
        return Constraints(
            max_weight=0.08,
            sectors=sectors,
            sector_caps=dict.fromkeys(sorted(set(sectors.values())), 0.25),
            previous_weights=dict(zip(symbols, previous, strict=True)),
            transaction_cost_bps=5.0,
            **options,  # type: ignore[arg-type]
        )

    previous = np.full(n, 1.0 / n)
    problem = ConvexProblem(
        "max_sharpe", constraints(previous).resolve(symbols), risk_factors=factors
    )
    answered_by = []
    for window, mean in zip(windows, means, strict=True):
        resolved = constraints(previous).resolve(symbols)
        model = FactorCovariance.statistical(window, 4)
        dense = model.matrix()
        covariance = model if factors else dense
        problem.set_values(covariance, resolved, mean)
        outcome = problem.solve()
        answered_by.append(outcome.solver)
        fresh = ConvexProblem("max_sharpe", resolved, risk_factors=factors)
        fresh.set_values(covariance, resolved, mean)
        rebuilt = fresh.solve(("CLARABEL",)).weights

        def sharpe(w: np.ndarray) -> float:
            cost = float(resolved.cost @ np.abs(w - resolved.previous))  # noqa: B023
            return float((mean @ w - cost) / np.sqrt(w @ dense @ w))  # noqa: B023

        assert outcome.max_violation <= 1e-9
        assert sharpe(outcome.weights) >= sharpe(rebuilt) * (1 - 1e-6)
        previous = outcome.weights
    assert answered_by[0] == "CLARABEL"  # nothing to start from yet
    assert answered_by[1:].count("ACTIVE_SET") >= steps - 2, answered_by


def test_a_previous_weight_above_todays_cap_is_moved_to_the_cap() -> None:
    """Held weights that today's bounds forbid are not kept: the cap fell from 15% to 12%."""
    inputs = _inputs(7)
    start = active_set_from(inputs, _oracle(inputs))
    above = inputs.previous > 0.12 + 1e-9
    assert above.any()
    lowered = replace(inputs, upper=np.full(inputs.mu.size, 0.12))
    answer = solve_max_sharpe(lowered, start)
    assert isinstance(answer, SharpeAnswer), answer
    ours = answer.y / answer.kappa
    _assert_feasible(lowered, ours)
    assert np.all(ours[above] <= 0.12 + 1e-12)
    assert _sharpe(lowered, ours) >= _sharpe(lowered, _oracle(lowered)) * (1 - 1e-8)


@pytest.mark.parametrize("seed", range(8))
def test_the_primal_method_reaches_the_optimum_from_the_previous_weights(seed: int) -> None:
    inputs = _nearby(_inputs(seed), seed + 50, 0.3)  # far from where the previous answer was
    answer = solve_max_sharpe_primal(inputs)
    assert isinstance(answer, SharpeAnswer), answer
    ours, best = answer.y / answer.kappa, _oracle(inputs)
    _assert_feasible(inputs, ours)
    assert _sharpe(inputs, ours) >= _sharpe(inputs, best) * (1 - 1e-8)
    np.testing.assert_allclose(ours, best, atol=1e-5)


def test_the_primal_method_needs_a_feasible_start() -> None:
    inputs = _inputs(2)
    losing = replace(inputs, mu=-np.abs(inputs.mu))
    declined = solve_max_sharpe_primal(losing)
    assert isinstance(declined, Declined) and "expected return" in declined.reason
    capped = replace(inputs, upper=np.full(inputs.mu.size, 0.01))
    declined = solve_max_sharpe_primal(capped)
    assert isinstance(declined, Declined) and "break today's limits" in declined.reason


def test_monthly_rebalances_of_a_small_universe_are_all_answered_by_the_active_set() -> None:
    """Twenty S&P 500 names (skfolio's dataset), monthly rebalances, uneven sector caps and a
    binding 15% turnover: large moves between rebalances, where the primal-dual iteration from
    the previous active set often gets lost — the primal method then answers."""
    from skfolio.datasets import load_sp500_dataset

    returns = load_sp500_dataset().pct_change().iloc[1:]
    symbols = [str(s) for s in returns.columns]
    groups = {
        "Tech": ("AAPL", "AMD", "MSFT"),
        "Fin": ("BAC", "JPM"),
        "Energy": ("CVX", "XOM", "RRC"),
        "Health": ("JNJ", "LLY", "MRK", "PFE", "UNH"),
    }
    sectors = {s: next((g for g, names in groups.items() if s in names), "Cons") for s in symbols}
    caps = {"Tech": 0.25, "Health": 0.30, "Energy": 0.20, "Fin": 0.15, "Cons": 0.40}
    values = returns.to_numpy()
    steps = 40
    ends = range(len(values) - 21 * steps, len(values), 21)
    previous = np.full(len(symbols), 1.0 / len(symbols))

    def constraints(previous: np.ndarray) -> Constraints:
        return Constraints(
            max_weight=0.15,
            sectors=sectors,
            sector_caps=caps,
            previous_weights=dict(zip(symbols, previous, strict=True)),
            turnover_limit=0.15,
        )

    problem = ConvexProblem("max_sharpe", constraints(previous).resolve(symbols))
    answered_by = []
    for end in ends:
        window = values[end - 252 : end]
        resolved = constraints(previous).resolve(symbols)
        covariance, mean = np.cov(window, rowvar=False), window.mean(axis=0)
        problem.set_values(covariance, resolved, mean)
        outcome = problem.solve()
        answered_by.append(outcome.solver)
        fresh = ConvexProblem("max_sharpe", resolved)
        fresh.set_values(covariance, resolved, mean)
        rebuilt = fresh.solve(("CLARABEL",)).weights

        def sharpe(w: np.ndarray) -> float:
            return float(mean @ w / np.sqrt(w @ covariance @ w))  # noqa: B023

        assert outcome.max_violation <= 1e-9
        assert sharpe(outcome.weights) >= sharpe(rebuilt) * (1 - 1e-6)
        previous = outcome.weights
    assert answered_by[1:] == ["ACTIVE_SET"] * (steps - 1), answered_by
