"""Covariance estimators in the scikit-learn shape, and a PSD check that never repairs in silence.

Every estimator takes its parameters in `__init__` (no logic there), learns from a returns table
(dates as rows, symbols as columns) in `fit`, which returns `self`, and exposes `covariance_`
(a DataFrame when the input was one, else an ndarray). Estimators:

- `SampleCovariance`: the unbiased (ddof=1) sample covariance by default.
- `LedoitWolf`: target "identity" is scikit-learn's scaled identity (Ledoit & Wolf 2004a, "A
  well-conditioned estimator…"); target "constant_correlation" is Ledoit & Wolf (2004b, "Honey,
  I shrunk the sample covariance matrix") with PyPortfolioOpt's conventions (sample covariance with
  ddof=1, moments divided by T).
- `OAS`: Chen et al. (2010) oracle approximating shrinkage, scikit-learn's formula.
- `EWMACovariance`: exponentially weighted, normalised weights (pandas `ewm(adjust=True)`), demeaned
  by the weighted mean unless `assume_centered`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal, Self

import numpy as np
import pandas as pd

from stocker.core.errors import DataError

FloatArray = np.ndarray
CovarianceTarget = Literal["identity", "constant_correlation"]


def _as_matrix(returns: pd.DataFrame | np.ndarray, name: str = "returns") -> np.ndarray:
    """Return a finite float64 2-D array, or say exactly what is wrong with the input."""
    values = np.asarray(returns, dtype=np.float64)
    if values.ndim != 2:
        raise DataError(f"{name}: expected a 2-D table (dates × symbols), got shape {values.shape}")
    if values.shape[0] < 2:
        raise DataError(f"{name}: expected at least 2 rows (dates), got {values.shape[0]}")
    if not np.isfinite(values).all():
        bad_rows, bad_cols = np.nonzero(~np.isfinite(values))
        raise DataError(
            f"{name}: expected finite values, found {bad_rows.size} NaN/inf "
            f"(first at row {bad_rows[0]}, column {bad_cols[0]}); drop or fill them first"
        )
    return values


def _wrap(matrix: np.ndarray, like: pd.DataFrame | np.ndarray) -> pd.DataFrame | np.ndarray:
    """Label the matrix with the input's symbols when the input had them."""
    if isinstance(like, pd.DataFrame):
        return pd.DataFrame(matrix, index=like.columns, columns=like.columns)
    return matrix


class SampleCovariance:
    """Plain sample covariance; `ddof=1` is the unbiased estimator, `ddof=0` the MLE."""

    def __init__(self, ddof: int = 1, assume_centered: bool = False) -> None:
        self.ddof = ddof
        self.assume_centered = assume_centered

    def fit(self, returns: pd.DataFrame | np.ndarray) -> Self:
        """Estimate the covariance of `returns` (dates × symbols)."""
        values = _as_matrix(returns)
        centered = values if self.assume_centered else values - values.mean(axis=0)
        matrix = centered.T @ centered / (values.shape[0] - self.ddof)
        self.covariance_ = _wrap(matrix, returns)
        return self


class LedoitWolf:
    """Ledoit-Wolf shrinkage towards a scaled identity or a constant-correlation target."""

    def __init__(
        self, target: CovarianceTarget = "identity", assume_centered: bool = False
    ) -> None:
        self.target = target
        self.assume_centered = assume_centered

    def fit(self, returns: pd.DataFrame | np.ndarray) -> Self:
        """Estimate the shrunk covariance and the shrinkage intensity `shrinkage_`."""
        values = _as_matrix(returns)
        if self.target == "identity":
            matrix, shrinkage = _ledoit_wolf_identity(values, self.assume_centered)
        elif self.target == "constant_correlation":
            matrix, shrinkage = _ledoit_wolf_constant_correlation(values)
        else:
            raise DataError(
                f"target: got {self.target!r}, expected 'identity' or 'constant_correlation'"
            )
        self.shrinkage_ = shrinkage
        self.covariance_ = _wrap(matrix, returns)
        return self


def _ledoit_wolf_identity(values: np.ndarray, assume_centered: bool) -> tuple[np.ndarray, float]:
    """scikit-learn's `ledoit_wolf` in one block: shrink the MLE towards mu·I."""
    n_samples, n_features = values.shape
    x = values if assume_centered else values - values.mean(axis=0)
    emp_cov = x.T @ x / n_samples
    if n_features == 1:
        return emp_cov, 0.0
    x2 = x**2
    emp_cov_trace = x2.sum(axis=0) / n_samples
    mu = emp_cov_trace.sum() / n_features
    beta_ = float(np.sum(x2.T @ x2))
    delta_ = float(np.sum((x.T @ x) ** 2)) / n_samples**2
    beta = (beta_ / n_samples - delta_) / (n_features * n_samples)
    delta = (delta_ - 2.0 * mu * emp_cov_trace.sum() + n_features * mu**2) / n_features
    beta = min(beta, delta)
    shrinkage = 0.0 if beta == 0 else beta / delta
    shrunk = (1.0 - shrinkage) * emp_cov
    shrunk.flat[:: n_features + 1] += shrinkage * mu
    return shrunk, float(shrinkage)


def _ledoit_wolf_constant_correlation(values: np.ndarray) -> tuple[np.ndarray, float]:
    """Ledoit & Wolf (2004b) towards the average-correlation matrix (PyPortfolioOpt's algebra)."""
    t, n = values.shape
    xm = values - values.mean(axis=0)
    sample = xm.T @ xm / (t - 1)
    var = np.diag(sample).copy()
    std = np.sqrt(var)
    outer_std = np.outer(std, std)
    r_bar = (np.sum(sample / outer_std) - n) / (n * (n - 1))
    target = r_bar * outer_std
    np.fill_diagonal(target, var)
    y = xm**2
    moment = xm.T @ xm / t
    pi_mat = y.T @ y / t - 2.0 * moment * sample + sample**2
    pi_hat = float(pi_mat.sum())
    theta = (xm**3).T @ xm / t - np.diag(moment)[:, None] * sample - moment * var[:, None]
    theta += var[:, None] * sample
    np.fill_diagonal(theta, 0.0)
    rho_hat = float(np.trace(pi_mat)) + r_bar * float(np.sum(np.outer(1.0 / std, std) * theta))
    gamma_hat = float(np.linalg.norm(sample - target, "fro") ** 2)
    kappa = (pi_hat - rho_hat) / gamma_hat
    shrinkage = max(0.0, min(1.0, kappa / t))
    return shrinkage * target + (1.0 - shrinkage) * sample, shrinkage


class OAS:
    """Oracle approximating shrinkage (Chen et al. 2010) with scikit-learn's formula."""

    def __init__(self, assume_centered: bool = False) -> None:
        self.assume_centered = assume_centered

    def fit(self, returns: pd.DataFrame | np.ndarray) -> Self:
        """Estimate the shrunk covariance and `shrinkage_`."""
        values = _as_matrix(returns)
        n_samples, n_features = values.shape
        x = values if self.assume_centered else values - values.mean(axis=0)
        emp_cov = x.T @ x / n_samples
        if n_features == 1:
            self.shrinkage_ = 0.0
            self.covariance_ = _wrap(emp_cov, returns)
            return self
        alpha = float(np.mean(emp_cov**2))
        mu = float(np.trace(emp_cov)) / n_features
        numerator = alpha + mu**2
        denominator = (n_samples + 1) * (alpha - mu**2 / n_features)
        shrinkage = 1.0 if denominator == 0 else min(numerator / denominator, 1.0)
        shrunk = (1.0 - shrinkage) * emp_cov
        shrunk.flat[:: n_features + 1] += shrinkage * mu
        self.shrinkage_ = shrinkage
        self.covariance_ = _wrap(shrunk, returns)
        return self


class EWMACovariance:
    """Exponentially weighted covariance; the newest row has weight 1, the one before `decay`.

    `halflife_days` (if given) sets decay = 0.5 ** (1 / halflife_days). Weights are normalised to
    sum to one (pandas `ewm(adjust=True)`, `cov(bias=True)`); RiskMetrics' daily decay is 0.94.
    """

    def __init__(
        self,
        decay: float = 0.94,
        halflife_days: float | None = None,
        assume_centered: bool = False,
    ) -> None:
        self.decay = decay
        self.halflife_days = halflife_days
        self.assume_centered = assume_centered

    def fit(self, returns: pd.DataFrame | np.ndarray) -> Self:
        """Estimate the weighted covariance as of the last row."""
        decay = self.decay if self.halflife_days is None else 0.5 ** (1.0 / self.halflife_days)
        if not 0.0 < decay < 1.0:
            raise DataError(f"decay: got {decay}, expected a number in (0, 1)")
        values = _as_matrix(returns)
        ages = np.arange(values.shape[0] - 1, -1, -1, dtype=np.float64)
        weights = decay**ages
        weights /= weights.sum()
        location = np.zeros(values.shape[1]) if self.assume_centered else weights @ values
        centered = values - location
        self.location_ = location
        self.covariance_ = _wrap((centered * weights[:, None]).T @ centered, returns)
        return self


@dataclass(frozen=True)
class PsdReport:
    """What `check_psd` found and what `repair_psd` changed; `reason` is for a human."""

    is_psd: bool
    min_eigenvalue: float
    n_negative: int
    tolerance: float
    asymmetry: float
    repaired: bool = False
    n_clipped: int = 0
    min_eigenvalue_after: float | None = None
    frobenius_change: float = 0.0
    reason: str = ""


def _tolerance(eigenvalues: np.ndarray) -> float:
    """Eigenvalues above -tol count as zero: numerical noise scaled to the matrix's size."""
    scale = max(float(np.max(np.abs(eigenvalues))), 1e-300)
    return 10.0 * eigenvalues.size * float(np.finfo(np.float64).eps) * scale


def _square(matrix: pd.DataFrame | np.ndarray) -> np.ndarray:
    values = np.asarray(matrix, dtype=np.float64)
    if values.ndim != 2 or values.shape[0] != values.shape[1]:
        raise DataError(f"covariance: expected a square matrix, got shape {values.shape}")
    if not np.isfinite(values).all():
        raise DataError("covariance: expected finite values, found NaN or inf")
    return values


def check_psd(matrix: pd.DataFrame | np.ndarray, exact: bool = False) -> PsdReport:
    """Say whether `matrix` is symmetric positive semi-definite, up to round-off.

    A symmetric matrix whose Cholesky factorisation succeeds is positive definite; unless
    `exact`, that cheap proof is accepted and `min_eigenvalue` is NaN ("not computed").
    Otherwise the eigenvalues are computed and the report says how many are negative.
    """
    values = _square(matrix)
    asymmetry = float(np.max(np.abs(values - values.T))) if values.size else 0.0
    scale = float(np.max(np.abs(np.diag(values)))) if values.size else 0.0
    if not exact and asymmetry <= 1e-12 * max(scale, 1e-300):
        try:
            np.linalg.cholesky(values)
        except np.linalg.LinAlgError:
            pass
        else:
            return PsdReport(
                is_psd=True,
                min_eigenvalue=float("nan"),
                n_negative=0,
                tolerance=0.0,
                asymmetry=asymmetry,
                reason="positive definite (Cholesky succeeded)",
            )
    eigenvalues = np.linalg.eigvalsh((values + values.T) / 2.0)
    tolerance = _tolerance(eigenvalues)
    n_negative = int(np.sum(eigenvalues < -tolerance))
    symmetric = asymmetry <= tolerance
    min_eigenvalue = float(eigenvalues[0]) if eigenvalues.size else 0.0
    if n_negative == 0 and symmetric:
        reason = "positive semi-definite"
    else:
        parts = []
        if n_negative:
            parts.append(
                f"{n_negative} eigenvalue(s) below -{tolerance:.3g}, min {min_eigenvalue:.6g}"
            )
        if not symmetric:
            parts.append(f"asymmetric by up to {asymmetry:.3g}")
        reason = "not positive semi-definite: " + "; ".join(parts)
    return PsdReport(
        is_psd=n_negative == 0 and symmetric,
        min_eigenvalue=min_eigenvalue,
        n_negative=n_negative,
        tolerance=tolerance,
        asymmetry=asymmetry,
        reason=reason,
    )


def repair_psd(
    matrix: pd.DataFrame | np.ndarray, floor: float = 0.0
) -> tuple[pd.DataFrame | np.ndarray, PsdReport]:
    """Return the nearest PSD matrix in Frobenius norm (Higham 1988) and what was done.

    The matrix is symmetrised, eigenvalues below `floor` are raised to `floor`; a PSD input comes
    back unchanged with `repaired=False`. Nothing is repaired without the report saying so.
    """
    report = check_psd(matrix, exact=floor > 0)
    values = _square(matrix)
    if report.is_psd and (floor <= 0 or floor <= report.min_eigenvalue):
        return matrix, report
    symmetric = (values + values.T) / 2.0
    eigenvalues, vectors = np.linalg.eigh(symmetric)
    clipped = eigenvalues < floor
    repaired = (vectors * np.maximum(eigenvalues, floor)) @ vectors.T
    repaired = (repaired + repaired.T) / 2.0
    after = float(np.linalg.eigvalsh(repaired)[0])
    change = float(np.linalg.norm(repaired - values, "fro"))
    reason = (
        f"{report.reason}; clipped {int(clipped.sum())} eigenvalue(s) to {floor:g} "
        f"(min was {report.min_eigenvalue:.6g}, now {after:.6g}; Frobenius change {change:.3g})"
    )
    result = PsdReport(
        is_psd=report.is_psd,
        min_eigenvalue=report.min_eigenvalue,
        n_negative=report.n_negative,
        tolerance=report.tolerance,
        asymmetry=report.asymmetry,
        repaired=True,
        n_clipped=int(clipped.sum()),
        min_eigenvalue_after=after,
        frobenius_change=change,
        reason=reason,
    )
    if isinstance(matrix, pd.DataFrame):
        return pd.DataFrame(repaired, index=matrix.index, columns=matrix.columns), result
    return repaired, result


def correlation_from_covariance(covariance: np.ndarray) -> np.ndarray:
    """Correlation matrix of a covariance; zero-variance assets are an error, not a NaN."""
    std = np.sqrt(np.diag(covariance))
    if np.any(std <= 0):
        index = int(np.argmin(std))
        raise DataError(f"covariance: asset {index} has variance {std[index] ** 2}, expected > 0")
    correlation = covariance / np.outer(std, std)
    return np.clip(correlation, -1.0, 1.0)


def annualize_volatility(variance: float, periods_per_year: int) -> float:
    """Annual volatility from a per-period variance."""
    return math.sqrt(max(variance, 0.0) * periods_per_year)
