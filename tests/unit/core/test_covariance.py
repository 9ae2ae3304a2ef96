"""Covariance estimators against scikit-learn, PyPortfolioOpt and direct sums; PSD repair."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import sklearn.covariance as skc
from skfolio.datasets import load_sp500_dataset
from skfolio.preprocessing import prices_to_returns

from stocker.core.covariance import (
    OAS,
    EWMACovariance,
    LedoitWolf,
    SampleCovariance,
    check_psd,
    repair_psd,
)
from stocker.core.errors import DataError


@pytest.fixture(scope="module")
def returns() -> pd.DataFrame:
    """The last 1,260 days of the 20-stock S&P 500 sample."""
    return prices_to_returns(load_sp500_dataset()).iloc[-1260:]


@pytest.mark.parametrize("rows", [30, 1260])
def test_ledoit_wolf_identity_equals_sklearn(returns: pd.DataFrame, rows: int) -> None:
    sample = returns.iloc[-rows:]
    ours = LedoitWolf().fit(sample)
    reference = skc.LedoitWolf().fit(sample.to_numpy())
    np.testing.assert_allclose(
        np.asarray(ours.covariance_), reference.covariance_, rtol=0, atol=1e-10
    )
    assert ours.shrinkage_ == pytest.approx(reference.shrinkage_, abs=1e-10)
    assert isinstance(ours.covariance_, pd.DataFrame)
    assert list(ours.covariance_.columns) == list(returns.columns)


@pytest.mark.parametrize("rows", [30, 1260])
def test_oas_equals_sklearn(returns: pd.DataFrame, rows: int) -> None:
    sample = returns.iloc[-rows:]
    ours = OAS().fit(sample)
    reference = skc.OAS().fit(sample.to_numpy())
    np.testing.assert_allclose(
        np.asarray(ours.covariance_), reference.covariance_, rtol=0, atol=1e-10
    )
    assert ours.shrinkage_ == pytest.approx(reference.shrinkage_, abs=1e-10)


def test_ledoit_wolf_constant_correlation_equals_pyportfolioopt(returns: pd.DataFrame) -> None:
    risk_models = pytest.importorskip("pypfopt.risk_models")
    sample = returns.iloc[-250:]
    shrinkage = risk_models.CovarianceShrinkage(sample, returns_data=True, frequency=1)
    reference = shrinkage.ledoit_wolf(shrinkage_target="constant_correlation")
    ours = LedoitWolf(target="constant_correlation").fit(sample)
    np.testing.assert_allclose(
        np.asarray(ours.covariance_), reference.to_numpy(), rtol=1e-12, atol=1e-14
    )
    assert ours.shrinkage_ == pytest.approx(shrinkage.delta, abs=1e-12)
    assert 0.0 < ours.shrinkage_ < 1.0


def test_ledoit_wolf_constant_correlation_target_has_one_average_correlation(
    returns: pd.DataFrame,
) -> None:
    # With full shrinkage the estimate is the target: every off-diagonal correlation is r̄.
    fitted = LedoitWolf(target="constant_correlation").fit(returns.iloc[-250:])
    sample = returns.iloc[-250:].cov().to_numpy()
    target = (np.asarray(fitted.covariance_) - (1 - fitted.shrinkage_) * sample) / fitted.shrinkage_
    std = np.sqrt(np.diag(target))
    correlation = target / np.outer(std, std)
    off_diagonal = correlation[~np.eye(len(std), dtype=bool)]
    assert np.ptp(off_diagonal) < 1e-10
    np.testing.assert_allclose(np.diag(target), np.diag(sample), rtol=1e-12)


def test_sample_covariance_equals_pandas(returns: pd.DataFrame) -> None:
    ours = SampleCovariance().fit(returns).covariance_
    assert isinstance(ours, pd.DataFrame)
    pd.testing.assert_frame_equal(ours, returns.cov(), rtol=1e-12, atol=1e-16)


def test_ewma_covariance_equals_direct_weighted_sum(returns: pd.DataFrame) -> None:
    sample = returns.iloc[-300:].to_numpy()
    decay = 0.97
    weights = np.array([decay ** (len(sample) - 1 - t) for t in range(len(sample))])
    weights /= weights.sum()
    mean = sum(w * row for w, row in zip(weights, sample, strict=True))
    direct = sum(
        w * np.outer(row - mean, row - mean) for w, row in zip(weights, sample, strict=True)
    )
    ours = EWMACovariance(decay=decay).fit(sample).covariance_
    np.testing.assert_allclose(ours, direct, rtol=1e-12, atol=1e-18)


def test_ewma_covariance_equals_pandas_ewm_cov(returns: pd.DataFrame) -> None:
    sample = returns.iloc[-300:]
    ours = EWMACovariance(halflife_days=20).fit(sample).covariance_
    reference = sample.ewm(halflife=20, adjust=True).cov(bias=True).loc[sample.index[-1]]
    np.testing.assert_allclose(np.asarray(ours), reference.to_numpy(), rtol=1e-10, atol=1e-18)


def test_estimators_refuse_missing_values_naming_the_position() -> None:
    frame = pd.DataFrame({"A": [0.01, np.nan, 0.02], "B": [0.0, 0.01, 0.02]})
    with pytest.raises(DataError, match=r"returns: expected finite values.*row 1, column 0"):
        LedoitWolf().fit(frame)


def test_ewma_refuses_decay_outside_unit_interval() -> None:
    with pytest.raises(DataError, match=r"decay: got 1.5"):
        EWMACovariance(decay=1.5).fit(np.ones((5, 2)))


def test_check_psd_accepts_a_sample_covariance(returns: pd.DataFrame) -> None:
    report = check_psd(returns.cov())
    assert report.is_psd and report.n_negative == 0 and not report.repaired
    assert "Cholesky" in report.reason
    exact = check_psd(returns.cov(), exact=True)
    assert exact.is_psd and exact.min_eigenvalue > 0


def test_repair_psd_clips_negative_eigenvalues_and_says_how_many() -> None:
    matrix = np.array([[1.0, 0.9, 0.7], [0.9, 1.0, -0.4], [0.7, -0.4, 1.0]])  # not PSD
    repaired, report = repair_psd(matrix)
    assert not report.is_psd and report.repaired
    assert report.n_negative == 1 and report.n_clipped == 1
    assert report.min_eigenvalue < 0
    assert report.min_eigenvalue_after is not None and report.min_eigenvalue_after >= -1e-12
    assert "clipped 1 eigenvalue" in report.reason and "min was" in report.reason
    assert check_psd(repaired).is_psd
    assert report.frobenius_change == pytest.approx(np.linalg.norm(repaired - matrix), rel=1e-12)


def test_repair_psd_leaves_a_psd_matrix_alone(returns: pd.DataFrame) -> None:
    covariance = returns.cov()
    repaired, report = repair_psd(covariance)
    assert repaired is covariance and not report.repaired
