"""Shrinkage estimators against scikit-learn's on the edges: centered or not, one asset, a
constant column, labels kept; the EWMA's decay bounds and default."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn import covariance as sk

from stocker.core.covariance import OAS, EWMACovariance, LedoitWolf
from stocker.core.errors import DataError


def _returns(n_days: int = 40, n_assets: int = 4, seed: int = 11) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return rng.normal(0.001, 0.02, (n_days, n_assets)) + rng.normal(0, 0.01, (n_days, 1))


@pytest.mark.parametrize("centered", [False, True])
def test_oas_and_ledoit_wolf_equal_sklearn(centered: bool) -> None:
    values = _returns()
    ours = OAS(assume_centered=centered).fit(values)
    theirs = sk.OAS(assume_centered=centered).fit(values)
    np.testing.assert_allclose(ours.covariance_, theirs.covariance_, rtol=1e-10, atol=1e-14)
    assert ours.shrinkage_ == pytest.approx(theirs.shrinkage_, rel=1e-10)
    lw = LedoitWolf(assume_centered=centered).fit(values)
    sk_lw = sk.LedoitWolf(assume_centered=centered).fit(values)
    np.testing.assert_allclose(lw.covariance_, sk_lw.covariance_, rtol=1e-10, atol=1e-14)
    assert lw.shrinkage_ == pytest.approx(sk_lw.shrinkage_, rel=1e-10)


@pytest.mark.parametrize("centered", [False, True])
def test_one_asset_is_not_shrunk(centered: bool) -> None:
    values = _returns(n_assets=1)
    frame = pd.DataFrame(values, columns=["A"])
    oas = OAS(assume_centered=centered).fit(frame)
    assert oas.shrinkage_ == 0.0
    assert list(oas.covariance_.columns) == ["A"]
    expected = sk.empirical_covariance(values, assume_centered=centered)
    assert oas.covariance_.to_numpy() == pytest.approx(expected, rel=1e-12)
    lw = LedoitWolf(assume_centered=centered).fit(values)
    assert lw.shrinkage_ == 0.0
    assert lw.covariance_ == pytest.approx(expected, rel=1e-12)


def test_two_assets_are_shrunk_and_labels_kept() -> None:
    frame = pd.DataFrame(_returns(n_assets=2), columns=["A", "B"])
    oas = OAS().fit(frame)
    theirs = sk.OAS().fit(frame.to_numpy())
    assert list(oas.covariance_.index) == ["A", "B"]
    assert oas.shrinkage_ == pytest.approx(theirs.shrinkage_, rel=1e-10)
    lw = LedoitWolf().fit(frame)
    assert lw.shrinkage_ == pytest.approx(sk.LedoitWolf().fit(frame.to_numpy()).shrinkage_)
    assert list(lw.covariance_.columns) == ["A", "B"]


def test_identical_columns_shrink_fully_or_not_at_all_like_sklearn() -> None:
    one = _returns(n_assets=1)
    values = np.hstack([one, one, one])
    ours, theirs = OAS().fit(values), sk.OAS().fit(values)
    assert ours.shrinkage_ == pytest.approx(theirs.shrinkage_)
    np.testing.assert_allclose(ours.covariance_, theirs.covariance_, rtol=1e-10)
    constant = np.ones((10, 3))
    flat = OAS().fit(constant)
    assert flat.shrinkage_ == 1.0
    assert np.allclose(flat.covariance_, 0.0)
    lw_flat = LedoitWolf().fit(constant)
    assert lw_flat.shrinkage_ == 0.0
    assert lw_flat.shrinkage_ == sk.LedoitWolf().fit(constant).shrinkage_


def test_ewma_decay_must_lie_strictly_between_0_and_1() -> None:
    values = _returns()
    for bad in (0.0, 1.0, -0.5, 1.5):
        with pytest.raises(DataError, match=rf"^decay: got {bad}, expected a number in \(0, 1\)$"):
            EWMACovariance(decay=bad).fit(values)
    default = EWMACovariance().fit(values).covariance_
    assert default == pytest.approx(EWMACovariance(decay=0.94).fit(values).covariance_)
    half = EWMACovariance(halflife_days=1.0).fit(values).covariance_
    assert half == pytest.approx(EWMACovariance(decay=0.5).fit(values).covariance_)
    centered = EWMACovariance(assume_centered=True).fit(values)
    assert np.array_equal(centered.location_, np.zeros(4))
    weights = 0.94 ** np.arange(39, -1, -1.0)
    weights /= weights.sum()
    assert centered.covariance_ == pytest.approx((values * weights[:, None]).T @ values)
