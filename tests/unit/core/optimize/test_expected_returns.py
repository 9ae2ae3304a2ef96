"""CAPM, factor-score implied and Black–Litterman expected returns, against PyPortfolioOpt."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from pypfopt import black_litterman, expected_returns

from stocker.core.errors import DataError
from stocker.core.optimize import CAPM, BlackLitterman, FactorImplied, optimize


def _cov(returns: pd.DataFrame) -> np.ndarray:
    return returns.cov().to_numpy()


def test_capm_matches_pyportfolioopt_with_arithmetic_per_period_conventions(
    returns: pd.DataFrame,
) -> None:
    rate = 0.0001
    ours = CAPM(risk_free_rate=rate).estimate(returns, _cov(returns))
    theirs = expected_returns.capm_return(
        returns.copy(), returns_data=True, risk_free_rate=rate, compounding=False, frequency=1
    )
    np.testing.assert_allclose(ours, theirs.reindex(returns.columns).to_numpy(), rtol=1e-10)


def test_capm_with_a_benchmark_matches_pyportfolioopt(returns: pd.DataFrame) -> None:
    market = returns.iloc[:, :5].mean(axis=1) * 0.9 + 0.0001
    ours = CAPM(market_returns=market).estimate(returns, _cov(returns))
    theirs = expected_returns.capm_return(
        returns.copy(),
        market_prices=market.to_frame("SPX"),
        returns_data=True,
        compounding=False,
        frequency=1,
    )
    np.testing.assert_allclose(ours, theirs.reindex(returns.columns).to_numpy(), rtol=1e-10)


def test_capm_differs_from_pyportfolioopt_defaults_by_annualising_only(
    returns: pd.DataFrame,
) -> None:
    # PyPortfolioOpt's default compounds the market mean and annualises; ours stays per period.
    ours = CAPM().estimate(returns, _cov(returns))
    theirs = expected_returns.capm_return(returns.copy(), returns_data=True)
    market = returns.mean(axis=1)
    geometric = float(np.prod(1 + market.to_numpy())) ** (252 / len(market)) - 1
    np.testing.assert_allclose(
        ours * geometric / market.mean(), theirs.reindex(returns.columns), rtol=1e-10
    )


def test_capm_market_premium_and_beta_one_for_the_market_itself(returns: pd.DataFrame) -> None:
    market = returns["AAPL"]
    model = CAPM(market_returns=market, risk_free_rate=0.0001, market_premium=0.0003)
    mu = pd.Series(model.estimate(returns, _cov(returns)), index=returns.columns)
    assert mu["AAPL"] == pytest.approx(0.0004, rel=1e-12)


def test_factor_implied_has_the_target_spread_and_orders_by_score(returns: pd.DataFrame) -> None:
    scores = pd.Series(np.arange(returns.shape[1], dtype=float), index=returns.columns)[::-1]
    mu = FactorImplied(scores=scores, spread=0.0002, base=0.0003).estimate(returns, _cov(returns))
    assert mu.mean() == pytest.approx(0.0003, rel=1e-12)
    assert mu.std() == pytest.approx(0.0002, rel=1e-12)
    order = scores.reindex(returns.columns).to_numpy()
    assert np.all(np.diff(mu[np.argsort(order)]) > 0)
    scaled = FactorImplied(scores=scores, spread=0.0002, volatility_scaled=True)
    assert np.isfinite(scaled.estimate(returns, _cov(returns))).all()
    with pytest.raises(DataError, match="scores"):
        FactorImplied(scores=scores.iloc[:3], spread=0.1).estimate(returns, _cov(returns))


@pytest.mark.parametrize("omega", ["default", "idzorek"])
def test_black_litterman_matches_pyportfolioopt(returns: pd.DataFrame, omega: str) -> None:
    cov = returns.cov()
    caps = pd.Series(np.linspace(1.0, 3.0, returns.shape[1]), index=returns.columns)
    views = pd.DataFrame(0.0, index=range(3), columns=returns.columns)
    views.loc[0, "AAPL"] = 1.0
    views.loc[1, ["JPM", "BAC"]] = [1.0, -1.0]
    views.loc[2, ["KO", "PEP", "XOM"]] = [0.5, 0.5, -1.0]
    q = np.array([0.001, 0.0002, -0.0001])
    confidences = [0.6, 0.3, 0.9] if omega == "idzorek" else None
    model = BlackLitterman(
        P=views, Q=q, market_caps=caps, risk_aversion=2.5, risk_free_rate=0.0001, tau=0.05,
        omega=omega, view_confidences=confidences,  # type: ignore[arg-type]
    )  # fmt: skip
    ours = model.estimate(returns, cov.to_numpy())
    prior = black_litterman.market_implied_prior_returns(caps, 2.5, cov, risk_free_rate=0.0001)
    reference = black_litterman.BlackLittermanModel(
        cov, pi=prior, P=views.to_numpy(), Q=q, omega=omega, view_confidences=confidences,
        tau=0.05, risk_aversion=2.5,
    )  # fmt: skip
    np.testing.assert_allclose(ours, reference.bl_returns().to_numpy(), rtol=0, atol=1e-8)
    np.testing.assert_allclose(ours, reference.bl_returns().to_numpy(), rtol=1e-8)


def test_black_litterman_absolute_views_equal_the_textbook_formula(returns: pd.DataFrame) -> None:
    cov = returns.cov().to_numpy()
    prior = pd.Series(0.0003, index=returns.columns)
    model = BlackLitterman(absolute_views={"AAPL": 0.002, "XOM": -0.001}, prior=prior, tau=0.1)
    ours = model.estimate(returns, cov)
    pick, q = model.views(returns.columns)
    omega = np.diag(0.1 * np.diag(pick @ cov @ pick.T))
    tau_sigma_inv = np.linalg.inv(0.1 * cov)
    left = tau_sigma_inv + pick.T @ np.linalg.inv(omega) @ pick
    right = tau_sigma_inv @ prior.to_numpy() + pick.T @ np.linalg.inv(omega) @ q
    np.testing.assert_allclose(ours, np.linalg.solve(left, right), rtol=1e-7)


def test_black_litterman_refuses_missing_inputs(returns: pd.DataFrame) -> None:
    with pytest.raises(DataError, match="market_caps"):
        BlackLitterman(absolute_views={"AAPL": 0.1}).estimate(returns, _cov(returns))
    with pytest.raises(DataError, match="universe"):
        prior = dict.fromkeys(returns.columns, 0.0)
        BlackLitterman(absolute_views={"NOPE": 0.1}, prior=prior).estimate(returns, _cov(returns))


def test_optimize_accepts_the_models_and_the_capm_mode(returns: pd.DataFrame) -> None:
    capm = optimize(returns, "max_sharpe", expected_returns="capm")
    explicit = optimize(returns, "max_sharpe", expected_returns=CAPM())
    # The second call re-solves the cached problem with the active-set solver (exact at the
    # bounds); the first is Clarabel's interior point, within its 1e-8 tolerance.
    np.testing.assert_allclose(capm, explicit, atol=1e-7)
    caps = pd.Series(1.0, index=returns.columns)
    bl = BlackLitterman(absolute_views={"AAPL": 0.002}, market_caps=caps)
    weights = optimize(returns, "mean_variance", expected_returns=bl, risk_aversion=2.5)
    assert weights.sum() == pytest.approx(1.0, abs=1e-9)
    with pytest.raises(DataError, match="expected_returns"):
        optimize(returns, "max_sharpe", expected_returns="nope")  # type: ignore[arg-type]


def test_models_needing_inputs_cannot_be_named_alone(returns: pd.DataFrame) -> None:
    with pytest.raises(DataError, match=r"'black_litterman' needs its inputs .*BlackLitterman"):
        optimize(returns, "max_sharpe", expected_returns="black_litterman")  # type: ignore[arg-type]
    with pytest.raises(DataError, match=r"'factor_implied' needs its inputs .*FactorImplied"):
        optimize(returns, "max_sharpe", expected_returns="factor_implied")  # type: ignore[arg-type]
