"""Portfolio construction, side by side with skfolio, PyPortfolioOpt and Riskfolio-Lib.

    .venv/bin/python bench/optimize.py                       # N = 20, 100, 500; walk-forward at 500
    .venv/bin/python bench/optimize.py --sizes 20 100 --rebalances 24 --walk-assets 100  # quick

Every row starts from the same returns table (1,260 days, synthetic factor-model returns with
positive drift, seeded) and includes the sample covariance / mean estimation each library does.
"cold" is Stocker's first call for a shape (it compiles the DPP problem); "warm" is the median of
the following calls, which re-solve the cached problem — the way a rebalancing loop runs — with
each method's default solvers (polished OSQP first for min-variance, Clarabel for max-Sharpe).
"OSQP→Clar." is the warm median with `solvers=("OSQP", "CLARABEL")`: OSQP (PyPortfolioOpt's
solver) answers first; an answer breaking any constraint by > 1e-6 falls back to Clarabel.
Solver warm starts are off in this table (the same problem again would start at its answer);
Clarabel keeps its solver object between calls (cvxpy updates its data; an interior point
starts cold regardless). The walk-forward, where consecutive problems differ, keeps them on.
Peers have no such cache, so each call of theirs is a full build. Median wall-clock seconds
of `--repeats` rounds; each round calls every candidate once (interleaved), so a change of
load on a shared machine falls on all of them alike.
BLAS runs single-threaded for everyone (`--threads 1`, via threadpoolctl): on a shared 2-core
machine multithreaded OpenBLAS spends more time contending than computing (a 500×500 Cholesky
took 67 ms with 2 threads under load, 3 ms with one).

The walk-forward re-estimates the covariance and mean on a rolling 1,260-day window every
`--step` days and solves max-Sharpe (long-only, 5% cap, sector caps at 12% over 10 sectors,
one-way turnover ≤ 20% against the previous weights): (a) one DPP problem re-solved with new
parameter values, (b) the same problem rebuilt each time and compiled with constants
(`ignore_dpp=True`, the cheaper compile for a one-off problem).
"""

from __future__ import annotations

import argparse
import math
import statistics
import time
import warnings
from collections.abc import Callable

import numpy as np
import pandas as pd
from threadpoolctl import threadpool_limits

from stocker.core.optimize import Constraints, ConvexProblem, FactorCovariance, optimize
from stocker.core.optimize import api as optimize_api
from stocker.core.optimize.solvers import DEFAULT_SOLVERS

DAYS = 1260
METHODS = ("min_variance", "max_sharpe", "risk_parity", "hrp")


def synthetic_returns(n_assets: int, n_days: int, seed: int = 7) -> pd.DataFrame:
    """Five-factor returns with idiosyncratic noise and a positive drift (daily)."""
    rng = np.random.default_rng(seed)
    loadings = rng.normal(0.0, 1.0, (n_assets, 5)) * np.array([0.8, 0.4, 0.3, 0.2, 0.2])
    factors = rng.normal(0.0, 0.01, (n_days, 5))
    noise = rng.normal(0.0, 1.0, (n_days, n_assets)) * rng.uniform(0.008, 0.025, n_assets)
    drift = rng.normal(0.0004, 0.0003, n_assets)
    symbols = [f"S{i:04d}" for i in range(n_assets)]
    dates = pd.bdate_range("2015-01-01", periods=n_days)
    return pd.DataFrame(factors @ loadings.T + noise + drift, index=dates, columns=symbols)


def interleaved(
    calls: dict[str, Callable[[], object]], repeats: int
) -> tuple[dict[str, float], dict[str, float | None]]:
    """(first call, median of the next `repeats`) per candidate, in seconds; None for a
    candidate that failed. Every round calls each candidate once, so a change of load on the
    shared machine falls on all of them alike (timing one library after another does not)."""
    first: dict[str, float] = {}
    times: dict[str, list[float]] = {name: [] for name in calls}
    failed: set[str] = set()
    for round_ in range(repeats + 1):
        for name, call in calls.items():
            if name in failed:
                continue
            start = time.perf_counter()
            try:
                call()
            except Exception as error:  # a peer failing is a result, not a crash
                failed.add(name)
                print(f"  {name} failed: {str(error)[:100]}")
                continue
            elapsed = time.perf_counter() - start
            if round_ == 0:
                first[name] = elapsed
            else:
                times[name].append(elapsed)
    medians = {
        name: None if name in failed else statistics.median(values)
        for name, values in times.items()
    }
    return first, medians


def stocker_calls(
    returns: pd.DataFrame, solvers: tuple[str, ...] | None = None
) -> dict[str, Callable[[], object]]:
    """`solvers=None` is each method's default (OSQP first for min-variance, else Clarabel)."""
    capped = Constraints(max_weight=0.1)
    # Cold solves: repeating one problem, a warm start would begin at the answer. Clarabel is
    # left as it runs in a rebalancing loop: cvxpy keeps its solver object and updates its
    # data, and the interior point starts cold all the same (it has no warm start).
    cold = {name: {"warm_start": False} for name in ("SCS", "ECOS", "OSQP")}
    return {
        "min_variance": lambda: optimize(
            returns, "min_variance", solvers=solvers, solver_options=cold
        ),
        # The sequence is named so the active-set re-solve stays out: the same problem again
        # would start from its own answer's active set (the walk-forward measures it).
        "max_sharpe": lambda: optimize(
            returns, "max_sharpe", capped, solvers=solvers or DEFAULT_SOLVERS, solver_options=cold
        ),
        "risk_parity": lambda: optimize(returns, "risk_parity"),
        "hrp": lambda: optimize(returns, "hrp"),
    }


def skfolio_calls(returns: pd.DataFrame) -> dict[str, Callable[[], object]]:
    from skfolio.optimization import (
        HierarchicalRiskParity,
        MeanRisk,
        ObjectiveFunction,
        RiskBudgeting,
    )

    return {
        "min_variance": lambda: MeanRisk().fit(returns),
        "max_sharpe": lambda: MeanRisk(
            objective_function=ObjectiveFunction.MAXIMIZE_RATIO, max_weights=0.1
        ).fit(returns),
        "risk_parity": lambda: RiskBudgeting().fit(returns),
        "hrp": lambda: HierarchicalRiskParity().fit(returns),
    }


def pyportfolioopt_calls(returns: pd.DataFrame) -> dict[str, Callable[[], object]]:
    from pypfopt import EfficientFrontier, HRPOpt

    def min_variance() -> object:
        return EfficientFrontier(returns.mean(), returns.cov()).min_volatility()

    def max_sharpe() -> object:
        frontier = EfficientFrontier(returns.mean(), returns.cov(), weight_bounds=(0, 0.1))
        return frontier.max_sharpe(risk_free_rate=0.0)

    return {
        "min_variance": min_variance,
        "max_sharpe": max_sharpe,
        "hrp": lambda: HRPOpt(returns).optimize("single"),
    }


def riskfolio_calls(returns: pd.DataFrame) -> dict[str, Callable[[], object]]:
    import riskfolio as rp

    def portfolio(upper: float = 1.0) -> object:
        port = rp.Portfolio(returns=returns, upperlng=upper)
        port.assets_stats(method_mu="hist", method_cov="hist")
        return port

    return {
        "min_variance": lambda: portfolio().optimization(  # type: ignore[attr-defined]
            model="Classic", rm="MV", obj="MinRisk", hist=True
        ),
        "max_sharpe": lambda: portfolio(0.1).optimization(  # type: ignore[attr-defined]
            model="Classic", rm="MV", obj="Sharpe", rf=0.0, hist=True
        ),
        "risk_parity": lambda: portfolio().rp_optimization(  # type: ignore[attr-defined]
            model="Classic", rm="MV", hist=True
        ),
        "hrp": lambda: rp.HCPortfolio(returns=returns).optimization(
            model="HRP", codependence="pearson", rm="MV", linkage="single"
        ),
    }


def peers() -> dict[str, Callable[[pd.DataFrame], dict[str, Callable[[], object]]]]:
    """Peers that import here; a missing one is reported, not silently skipped."""
    found: dict[str, Callable[[pd.DataFrame], dict[str, Callable[[], object]]]] = {}
    for name, module, factory in (
        ("skfolio", "skfolio", skfolio_calls),
        ("PyPortfolioOpt", "pypfopt", pyportfolioopt_calls),
        ("Riskfolio-Lib", "riskfolio", riskfolio_calls),
    ):
        try:
            __import__(module)
            found[name] = factory
        except ImportError as error:
            print(f"{name}: not installed ({error}); its column is empty")
    return found


def compare(sizes: list[int], repeats: int) -> None:
    available = peers()
    header = f"{'N':>4} {'method':<13} {'stocker cold':>12} {'stocker warm':>12} {'OSQP→Clar.':>10}"
    for name in available:
        header += f" {name:>15}"
    header += f" {'fastest peer':>14} {'peer/warm':>9}"
    print(header)
    for n_assets in sizes:
        returns = synthetic_returns(n_assets, DAYS)
        optimize_api._PROBLEMS.clear()
        ours = stocker_calls(returns)
        ours_osqp = stocker_calls(returns, ("OSQP", "CLARABEL"))
        theirs = {name: factory(returns) for name, factory in available.items()}
        for method in METHODS:
            calls = {"stocker": ours[method]}
            calls.update({name: made[method] for name, made in theirs.items() if method in made})
            first, medians = interleaved(calls, repeats)
            warm = medians["stocker"]
            assert warm is not None, "Stocker failed"
            row = f"{n_assets:>4} {method:<13} {first['stocker']:>12.4f} {warm:>12.4f}"
            osqp = None
            if method in ("min_variance", "max_sharpe"):
                # Apart: switching solvers on one cached problem between calls would throw
                # away the solver data cvxpy keeps for the next call (as no rebalancing loop
                # that keeps its solver does).
                osqp = interleaved({"osqp": ours_osqp[method]}, repeats)[1]["osqp"]
            row += f" {osqp:>10.4f}" if osqp is not None else f" {'—':>10}"
            peer_times = []
            for name in available:
                if name not in calls:
                    row += f" {'—':>15}"
                elif (median := medians[name]) is None:
                    row += f" {'failed':>15}"
                else:
                    peer_times.append(median)
                    row += f" {median:>15.4f}"
            if peer_times:
                fastest = min(peer_times)
                row += f" {fastest:>14.4f} {fastest / warm:>9.1f}"
            print(row, flush=True)


def walk_forward(
    n_assets: int,
    rebalances: int,
    step: int,
    rebuild_sample: int,
    solvers: tuple[str, ...] | None,
    n_factors: int | None = None,
) -> None:
    """DPP re-solve of one problem vs a fresh problem per rebalance, same solver sequence.

    Timed per step: writing the values and solving (re-solve), or building, compiling with
    constants and solving (rebuild). Estimating the covariance is the same work in both paths
    and is timed on its own. With `n_factors`, the covariance is a statistical factor model
    (`FactorCovariance.statistical`) and is given to the optimizer in factor form; the rebuild
    is timed twice: the same factor problem, and the same Σ = BᵀB + diag(d) as a dense matrix
    (how an API taking a covariance matrix, as the peers' do, rebuilds it every time).
    """
    total_days = DAYS + rebalances * step
    returns = synthetic_returns(n_assets, total_days, seed=11)
    symbols = list(returns.columns)
    sectors = {s: f"sector{i % 10}" for i, s in enumerate(symbols)}
    caps = {f"sector{i}": 0.12 for i in range(10)}

    def constraints(previous: np.ndarray) -> Constraints:
        return Constraints(
            max_weight=0.05,
            sectors=sectors,
            sector_caps=caps,
            previous_weights=dict(zip(symbols, previous, strict=True)),
            turnover_limit=0.2,
        )

    estimating: list[float] = []

    def window(index: int) -> tuple[np.ndarray | FactorCovariance, np.ndarray]:
        tick = time.perf_counter()
        frame = returns.iloc[index * step : index * step + DAYS].to_numpy()
        covariance: np.ndarray | FactorCovariance
        if n_factors is None:
            covariance = np.cov(frame, rowvar=False)
        else:
            covariance = FactorCovariance.statistical(frame, n_factors)
        estimating.append(time.perf_counter() - tick)
        return covariance, frame.mean(axis=0)

    def sharpe(
        weights: np.ndarray, covariance: np.ndarray | FactorCovariance, mean: np.ndarray
    ) -> float:
        variance = (
            covariance.variance(weights)
            if isinstance(covariance, FactorCovariance)
            else float(weights @ covariance @ weights)
        )
        return float(mean @ weights) / math.sqrt(variance)

    previous = np.full(n_assets, 1.0 / n_assets)
    tick = time.perf_counter()
    problem = ConvexProblem(
        "max_sharpe", constraints(previous).resolve(symbols), risk_factors=n_factors
    )
    build = time.perf_counter() - tick
    per_step = []
    dpp_weights = []
    answered: dict[str, int] = {}
    accuracy = 0.0
    for index in range(rebalances):
        covariance, mean = window(index)
        tick = time.perf_counter()
        resolved = constraints(previous).resolve(symbols)
        problem.set_values(covariance, resolved, mean)
        outcome = problem.solve(solvers)
        per_step.append(time.perf_counter() - tick)
        answered[outcome.solver] = answered.get(outcome.solver, 0) + 1
        accuracy = max(accuracy, outcome.max_violation)
        previous = outcome.weights
        dpp_weights.append(previous)
    per_step[0] += build
    dpp_total = sum(per_step)
    dpp_median = statistics.median(per_step[1:])
    risk = "sample Σ (dense)" if n_factors is None else f"{n_factors}-factor Σ"
    sequence = "default (active set, then Clarabel)" if solvers is None else "→".join(solvers)
    print(
        f"walk-forward N={n_assets}, {rebalances} rebalances, {risk}, solvers "
        f"{sequence}: DPP re-solve total {dpp_total:.2f} s (first incl. compile "
        f"{per_step[0]:.3f} s, median step {dpp_median:.4f} s; answered by {answered}; "
        f"largest constraint violation {accuracy:.1e}); estimating the covariance "
        f"{statistics.median(estimating):.3f} s per step (both paths, not in these times)"
    )
    sample = sorted(set(np.linspace(0, rebalances - 1, rebuild_sample).astype(int).tolist()))
    cold = {name: {"ignore_dpp": True, "warm_start": False} for name in solvers or DEFAULT_SOLVERS}
    variants = ["same formulation"] if n_factors is None else ["same formulation", "dense Σ"]
    for variant in variants:
        rebuild_steps = []
        worst = 0.0
        sharpe_gaps: list[float] = []
        for index in sample:
            previous = np.full(n_assets, 1.0 / n_assets) if index == 0 else dpp_weights[index - 1]
            covariance, mean = window(index)
            tick = time.perf_counter()
            resolved = constraints(previous).resolve(symbols)
            if variant == "dense Σ" and isinstance(covariance, FactorCovariance):
                given: np.ndarray | FactorCovariance = covariance.matrix()
                fresh = ConvexProblem("max_sharpe", resolved)
            else:
                given = covariance
                fresh = ConvexProblem("max_sharpe", resolved, risk_factors=n_factors)
            fresh.set_values(given, resolved, mean)
            weights = fresh.solve(solvers, solver_options=cold).weights
            rebuild_steps.append(time.perf_counter() - tick)
            worst = max(worst, float(np.abs(weights - dpp_weights[index]).max()))
            ours, theirs = (
                sharpe(dpp_weights[index], covariance, mean),
                sharpe(weights, covariance, mean),
            )
            sharpe_gaps.append(ours / theirs - 1.0)
        rebuild_median = statistics.median(rebuild_steps)
        print(
            f"  rebuild each time ({variant}): median step {rebuild_median:.4f} s over "
            f"{len(sample)} sampled rebalances → {rebuild_median / dpp_median:.1f}× the re-solve "
            f"median ({rebuild_median * rebalances / dpp_total:.1f}× on totals); max |Δw| "
            f"{worst:.1e}; re-solve's Sharpe ratio ÷ rebuild's − 1 from {min(sharpe_gaps):.1e} "
            f"to {max(sharpe_gaps):.1e}",
            flush=True,
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[20, 100, 500])
    parser.add_argument("--repeats", type=int, default=7, help="timed rounds after the first")
    parser.add_argument("--walk-assets", type=int, default=500)
    parser.add_argument("--rebalances", type=int, default=240)
    parser.add_argument("--step", type=int, default=5, help="days between rebalances")
    parser.add_argument(
        "--rebuild-sample", type=int, default=24, help="rebalances timed for the rebuild path"
    )
    parser.add_argument("--threads", type=int, default=1, help="BLAS threads for everyone")
    parser.add_argument("--skip-compare", action="store_true")
    parser.add_argument("--skip-walk", action="store_true")
    parser.add_argument(
        "--factors", type=int, default=20, help="factors of the walk-forward's factor model"
    )
    args = parser.parse_args()
    warnings.simplefilter("ignore")
    with threadpool_limits(limits=args.threads):
        if not args.skip_compare:
            compare(args.sizes, args.repeats)
        if not args.skip_walk:
            sequences: tuple[tuple[tuple[str, ...] | None, int | None], ...] = (
                (None, args.factors),
                (("CLARABEL",), args.factors),
                (None, None),
                (("CLARABEL",), None),
                (("OSQP", "CLARABEL"), None),
            )
            for solvers, n_factors in sequences:
                walk_forward(
                    args.walk_assets,
                    args.rebalances,
                    args.step,
                    args.rebuild_sample,
                    solvers,
                    n_factors,
                )


if __name__ == "__main__":
    main()
