"""Expected-return models beyond the historical and EWMA means: CAPM, factor-score implied,
Black–Litterman with user views.

Each model is a frozen dataclass with `estimate(returns, covariance) -> ndarray` (aligned with
`returns.columns`, per period of `returns`), so `optimize(..., expected_returns=CAPM(...))`
states every input it used. Units are per period throughout: daily returns give a daily
risk-free rate, premium and prior; nothing is annualised here.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
import pandas as pd

from stocker.core.errors import DataError


def _align(values: pd.Series | Mapping[str, float], symbols: pd.Index, name: str) -> np.ndarray:
    series = pd.Series(values, dtype=np.float64)
    missing = [s for s in symbols if s not in series.index]
    if missing:
        raise DataError(f"{name}: no value for {list(missing)[:10]}, expected one per symbol")
    out = series.reindex(symbols).to_numpy(dtype=np.float64)
    if not np.isfinite(out).all():
        raise DataError(f"{name}: expected finite numbers")
    return out


@dataclass(frozen=True, kw_only=True)
class CAPM:
    """μᵢ = r_f + βᵢ·(E[r_m] − r_f), βᵢ = cov(rᵢ, r_m) / var(r_m) (sample, ddof=1).

    `market_returns` is the benchmark's per-period return series (aligned on the returns' dates;
    dates missing from it are dropped); without one, the equal-weighted mean of the assets is the
    proxy (PyPortfolioOpt's default too). `market_premium` (E[r_m] − r_f per period) overrides
    the proxy's arithmetic mean excess return. Differences from PyPortfolioOpt's `capm_return`:
    it annualises (×252) and by default uses the geometric (compounded) market mean; here the
    mean is arithmetic and per period — with `compounding=False, frequency=1` they agree.
    """

    market_returns: pd.Series | None = None
    risk_free_rate: float = 0.0
    market_premium: float | None = None

    def betas(self, returns: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
        """(betas per asset, the market series used), over the common dates."""
        if self.market_returns is None:
            market = returns.mean(axis=1)
            frame = returns
        else:
            market = pd.Series(self.market_returns, dtype=np.float64).reindex(returns.index)
            keep = market.notna().to_numpy()
            if keep.sum() < 3:
                raise DataError("market_returns: fewer than 3 dates in common with the returns")
            frame, market = returns.loc[keep], market.loc[keep]
        values = frame.to_numpy(dtype=np.float64)
        m = market.to_numpy(dtype=np.float64)
        centred = m - m.mean()
        variance = float(centred @ centred)
        if variance <= 0:
            raise DataError("market_returns: zero variance, beta is undefined")
        betas = (values - values.mean(axis=0)).T @ centred / variance
        return betas, m

    def estimate(self, returns: pd.DataFrame, covariance: np.ndarray) -> np.ndarray:
        """Per-period CAPM expected returns (the covariance is not used)."""
        betas, market = self.betas(returns)
        premium = self.market_premium
        if premium is None:
            premium = float(market.mean()) - self.risk_free_rate
        return self.risk_free_rate + betas * premium


@dataclass(frozen=True, kw_only=True)
class FactorImplied:
    """μᵢ = base + spread · zᵢ, z the cross-sectionally standardised composite score.

    z = (s − mean s) / std s (ddof=0), so the expected returns have cross-sectional mean `base`
    and standard deviation exactly `spread` (per period). With `volatility_scaled=True` the
    Grinold–Kahn form is used instead: μᵢ = base + spread · σᵢ/mean(σ) · zᵢ (higher-volatility
    names get proportionally larger alphas for the same score). `base` defaults to the
    cross-sectional mean of the historical means; a higher score always means a higher μ.
    """

    scores: pd.Series | Mapping[str, float]
    spread: float
    base: float | None = None
    volatility_scaled: bool = False

    def estimate(self, returns: pd.DataFrame, covariance: np.ndarray) -> np.ndarray:
        """Per-period expected returns implied by the scores."""
        if not (np.isfinite(self.spread) and self.spread >= 0):
            raise DataError(f"spread: got {self.spread}, expected a finite number >= 0")
        scores = _align(self.scores, returns.columns, "scores")
        deviation = float(scores.std())
        if deviation == 0:
            raise DataError("scores: all equal, so they imply no spread of returns")
        z = (scores - scores.mean()) / deviation
        if self.volatility_scaled:
            volatility = np.sqrt(np.diag(covariance))
            z = z * volatility / volatility.mean()
        base = self.base
        if base is None:
            base = float(returns.to_numpy(dtype=np.float64).mean())
        return base + self.spread * z


@dataclass(frozen=True, kw_only=True)
class BlackLitterman:
    """He & Litterman (1999) posterior mean with user views.

    Prior (equilibrium) π = δ·Σ·w_mkt + r_f, with w_mkt the normalised `market_caps` (or
    `market_weights`), δ = `risk_aversion` — or a given `prior`. Views: `P` (K × N, a row per
    view over the symbols) and `Q` (K), or `absolute_views` {symbol: return} (P = unit rows).
    Posterior::

        μ_BL = [(τΣ)⁻¹ + PᵀΩ⁻¹P]⁻¹ [(τΣ)⁻¹π + PᵀΩ⁻¹Q]
             = π + τΣPᵀ (PτΣPᵀ + Ω)⁻¹ (Q − Pπ)        (the form computed; Ω may be singular)

    Ω: `omega="default"` is diag(τ·PΣPᵀ) (He & Litterman); `"idzorek"` takes
    `view_confidences` c_k ∈ [0, 1] and sets Ω_kk = τ·(1−c_k)/c_k·P_kΣP_kᵀ (Idzorek 2005, in
    Walters' closed form; c = 0 gives 1e6, c = 1 a certain view); or a K × K matrix. τ defaults
    to 0.05. Per-period units: Σ, π, Q and r_f in the returns' period. Matches PyPortfolioOpt's
    `BlackLittermanModel(...).bl_returns()` on the same inputs.
    """

    P: pd.DataFrame | None = None
    Q: pd.Series | Sequence[float] | np.ndarray | None = None
    absolute_views: Mapping[str, float] = field(default_factory=dict)
    market_caps: pd.Series | Mapping[str, float] | None = None
    prior: pd.Series | Mapping[str, float] | None = None
    risk_aversion: float = 2.5
    risk_free_rate: float = 0.0
    tau: float = 0.05
    omega: Literal["default", "idzorek"] | np.ndarray | pd.DataFrame = "default"
    view_confidences: Sequence[float] | None = None

    def views(self, symbols: pd.Index) -> tuple[np.ndarray, np.ndarray]:
        """(P, Q) aligned with `symbols`."""
        if self.absolute_views:
            if self.P is not None or self.Q is not None:
                raise DataError("views: give absolute_views or P and Q, not both")
            unknown = sorted(set(self.absolute_views) - {str(s) for s in symbols})
            if unknown:
                raise DataError(f"absolute_views: {unknown[:10]} are not in the universe")
            names = list(self.absolute_views)
            pick = np.array([[float(str(s) == name) for s in symbols] for name in names])
            return pick, np.array([float(self.absolute_views[n]) for n in names])
        if self.P is None or self.Q is None:
            raise DataError("views: expected absolute_views, or P (views × symbols) and Q")
        frame = pd.DataFrame(self.P)
        unknown = sorted({str(c) for c in frame.columns} - {str(s) for s in symbols})
        if unknown:
            raise DataError(f"P: columns {unknown[:10]} are not in the universe")
        pick = frame.reindex(columns=symbols, fill_value=0.0).to_numpy(dtype=np.float64)
        q = np.asarray(self.Q, dtype=np.float64).ravel()
        if q.shape[0] != pick.shape[0]:
            raise DataError(f"Q: got {q.shape[0]} values for {pick.shape[0]} views in P")
        return pick, q

    def equilibrium(self, symbols: pd.Index, covariance: np.ndarray) -> np.ndarray:
        """π: the given prior, or δ·Σ·w_mkt + r_f from the market capitalisations."""
        if self.prior is not None:
            if self.market_caps is not None:
                raise DataError("prior: give prior or market_caps, not both")
            return _align(self.prior, symbols, "prior")
        if self.market_caps is None:
            raise DataError("market_caps: Black–Litterman needs market_caps or a prior")
        caps = _align(self.market_caps, symbols, "market_caps")
        if np.any(caps < 0) or caps.sum() <= 0:
            raise DataError("market_caps: expected non-negative values with a positive sum")
        return self.risk_aversion * covariance @ (caps / caps.sum()) + self.risk_free_rate

    def uncertainty(self, pick: np.ndarray, covariance: np.ndarray) -> np.ndarray:
        """Ω, K × K."""
        view_variance = np.diag(pick @ covariance @ pick.T)
        if isinstance(self.omega, str):
            if self.omega == "default":
                return np.diag(self.tau * view_variance)
            if self.omega != "idzorek":
                raise DataError(f"omega: got {self.omega!r}, expected 'default', 'idzorek'")
            confidences = np.asarray(self.view_confidences, dtype=np.float64).ravel()
            if self.view_confidences is None or confidences.shape[0] != pick.shape[0]:
                raise DataError("view_confidences: Idzorek's Ω needs one confidence per view")
            if np.any((confidences < 0) | (confidences > 1)):
                raise DataError("view_confidences: expected values in [0, 1]")
            with np.errstate(divide="ignore"):
                alpha = np.where(confidences > 0, (1 - confidences) / confidences, 0.0)
            return np.diag(np.where(confidences > 0, self.tau * alpha * view_variance, 1e6))
        omega = np.asarray(self.omega, dtype=np.float64)
        if omega.shape != (pick.shape[0],) * 2:
            raise DataError(f"omega: expected shape {(pick.shape[0],) * 2}, got {omega.shape}")
        return omega

    def estimate(self, returns: pd.DataFrame, covariance: np.ndarray) -> np.ndarray:
        """The posterior mean μ_BL, per period."""
        if not self.tau > 0:
            raise DataError(f"tau: got {self.tau}, expected > 0")
        symbols = returns.columns
        pi = self.equilibrium(symbols, covariance)
        pick, q = self.views(symbols)
        omega = self.uncertainty(pick, covariance)
        tau_sigma_p = self.tau * covariance @ pick.T
        system = pick @ tau_sigma_p + omega
        gap = q - pick @ pi
        try:
            solution = np.linalg.solve(system, gap)
        except np.linalg.LinAlgError:
            solution = np.linalg.lstsq(system, gap, rcond=None)[0]
        return np.asarray(pi + tau_sigma_p @ solution)


ExpectedReturnModel = CAPM | FactorImplied | BlackLitterman
