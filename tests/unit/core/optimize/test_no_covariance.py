"""Equal weight and inverse volatility never estimate an n×n covariance (it is their whole cost
at 2,000 symbols); the risk figures they report still agree with the full matrix."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from stocker.core.optimize import api as optimize_api
from stocker.core.optimize import optimize, risk_contributions


class _Exploding:
    """A covariance estimator that fails the test if anyone fits it."""

    def fit(self, returns: pd.DataFrame) -> _Exploding:
        raise AssertionError("a covariance was estimated")


@pytest.fixture
def no_covariance(monkeypatch: pytest.MonkeyPatch) -> None:
    """Estimating, checking or repairing a covariance inside `optimize` fails the test."""

    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("a covariance was asked for")

    monkeypatch.setattr(optimize_api, "_covariance", refuse)
    monkeypatch.setattr(optimize_api, "SampleCovariance", _Exploding)
    monkeypatch.setattr(optimize_api, "repair_psd", refuse)


@pytest.mark.usefixtures("no_covariance")
def test_equal_weight_never_asks_for_a_covariance(returns: pd.DataFrame) -> None:
    weights = optimize(returns, "equal_weight", covariance_estimator=_Exploding())
    assert np.allclose(weights, 1 / returns.shape[1])
    result = weights.attrs["result"]
    assert result.solver == "closed form"
    assert "not checked: equal_weight needs no covariance" in result.psd.reason


@pytest.mark.usefixtures("no_covariance")
def test_inverse_volatility_needs_only_the_variances(returns: pd.DataFrame) -> None:
    weights = optimize(returns, "inverse_volatility")
    inverse = 1 / returns.std()
    np.testing.assert_allclose(weights, inverse / inverse.sum(), atol=1e-12)
    given = optimize(returns, "inverse_volatility", covariance=returns.cov() * 4.0)
    np.testing.assert_allclose(given, weights, atol=1e-12)  # scale-free in the variances


def test_risk_figures_without_the_matrix_equal_those_with_it(returns: pd.DataFrame) -> None:
    covariance = returns.cov().to_numpy()
    for method in ("equal_weight", "inverse_volatility"):
        result = optimize(returns, method).attrs["result"]
        weights = result.weights.to_numpy()
        np.testing.assert_allclose(
            result.risk_contributions, risk_contributions(weights, covariance), atol=1e-12
        )
        assert result.risk_contributions.sum() == pytest.approx(1.0, abs=1e-12)
        assert result.objective == pytest.approx(weights @ covariance @ weights, rel=1e-12)
        given = optimize(returns, method, covariance=returns.cov()).attrs["result"]
        np.testing.assert_allclose(given.risk_contributions, result.risk_contributions, atol=1e-12)
