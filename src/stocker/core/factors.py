"""Cross-sectional factor exposures of one date, from point-in-time inputs (pure).

Each factor is built from raw descriptors of the symbols' latest fundamentals snapshot and
their adjusted closes, both known on the date (the caller passes nothing later; prices dated
after the date are refused):

- value: earnings yield ``1/pe``, book to price ``1/pb``, sales to price ``1/ps``;
- quality: ``roe``, ``roce``, ``operating_margin``, ``net_margin`` and low leverage
  ``-debt_to_equity``;
- momentum: the 12-month return skipping the last month, ``p[t-21] / p[t-252] - 1`` in sessions;
- low_vol: minus the annualized volatility of the last 252 daily returns;
- size: ``-log(market_cap)``.

Every raw descriptor is winsorized at configurable quantiles of the cross-section, then
z-scored (mean 0, population standard deviation 1, per sector when sector-neutral); a factor is
the mean of its available standardized descriptors, z-scored again. `composite_score` is the
weighted mean of the available factors (weights renormalized over them), z-scored again. Only
raw descriptors are clipped: clipping means of z-scores again would shrink the tails each time.

A value is null only when its inputs are missing (SigmaQLab rule 11.10.2), and then `reasons`
says why, e.g. "no fundamentals as of 2024-01-31". A z-score of a group whose values are all
equal (or a group of one) is 0: nothing distinguishes the symbol from its peers.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from stocker.core.errors import DataError
from stocker.core.risk import annualized_volatility

FACTORS = ("value", "quality", "momentum", "low_vol", "size")
COLUMNS = (*FACTORS, "composite_score")
DESCRIPTORS: dict[str, tuple[str, ...]] = {
    "value": ("earnings_yield", "book_to_price", "sales_to_price"),
    "quality": ("roe", "roce", "operating_margin", "net_margin", "low_leverage"),
    "momentum": ("momentum_12_1",),
    "low_vol": ("minus_volatility",),
    "size": ("minus_log_market_cap",),
}
FUNDAMENTAL_INPUTS: dict[str, tuple[str, ...]] = {
    "value": ("pe", "pb", "ps"),
    "quality": ("roe", "roce", "operating_margin", "net_margin", "debt_to_equity"),
    "size": ("market_cap",),
}
"""The fundamentals_snapshot fields each fundamental factor reads."""
NO_SECTOR = "(no sector)"


def no_fundamentals(day: dt.date) -> str:
    """The reason of a fundamental factor without any snapshot dated on or before `day`."""
    return f"no fundamentals as of {day.isoformat()}"


@dataclass(frozen=True, kw_only=True)
class FactorConfig:
    """How exposures are built; the defaults are the documented ones (docs/factors.md)."""

    weights: Mapping[str, float] = field(default_factory=lambda: dict.fromkeys(FACTORS, 1.0))
    lower_quantile: float = 0.01
    upper_quantile: float = 0.99
    sector_neutral: bool = False
    momentum_lookback: int = 252
    momentum_skip: int = 21
    volatility_window: int = 252
    min_volatility_returns: int = 126

    def __post_init__(self) -> None:
        unknown = sorted(set(self.weights) - set(FACTORS))
        if unknown:
            raise DataError(f"weights: unknown factor(s) {unknown}; expected some of {FACTORS}")
        bad = {name: w for name, w in self.weights.items() if not (np.isfinite(w) and w >= 0)}
        if bad:
            raise DataError(f"weights: {bad} are not finite and >= 0")
        if sum(self.weights.values()) <= 0:
            raise DataError("weights: expected at least one positive weight")
        if not 0 <= self.lower_quantile < self.upper_quantile <= 1:
            raise DataError(
                f"winsorization quantiles: got {self.lower_quantile}, {self.upper_quantile}; "
                "expected 0 <= lower < upper <= 1"
            )
        if not 0 < self.momentum_skip < self.momentum_lookback:
            raise DataError("momentum: expected 0 < skip < lookback sessions")


@dataclass(frozen=True)
class FactorResult:
    """Exposures (index symbol, columns `COLUMNS`, NaN = null) and, where null, the reason."""

    exposures: pd.DataFrame
    reasons: pd.DataFrame
    """Same shape as `exposures`: a string where the exposure is null, else None."""


def winsorize(values: pd.Series, lower: float = 0.01, upper: float = 0.99) -> pd.Series:
    """Clip to the `lower` and `upper` quantiles of the non-null values (nulls stay null)."""
    present = values.dropna()
    if present.empty:
        return values.astype("float64")
    low, high = np.quantile(present.to_numpy(dtype="float64"), [lower, upper])
    return values.astype("float64").clip(lower=low, upper=high)


def zscore(values: pd.Series, groups: pd.Series | None = None) -> pd.Series:
    """(x − mean) / population sd over the non-null values, within each group when given.

    A group whose values do not vary scores 0; nulls stay null.
    """
    values = values.astype("float64")
    if groups is None:
        keys = pd.Series(0, index=values.index)
    else:
        keys = groups.reindex(values.index).fillna(NO_SECTOR)
    grouped = values.groupby(keys)
    mean = grouped.transform("mean")
    sd = grouped.transform(lambda group: group.std(ddof=0))
    scored = (values - mean) / sd.where(sd > 1e-12 * (1.0 + mean.abs()))
    return scored.where(values.isna() | sd.gt(1e-12 * (1.0 + mean.abs())), 0.0)


def standardize(
    values: pd.Series, config: FactorConfig, groups: pd.Series | None = None
) -> pd.Series:
    """Winsorize at the configured quantiles (within the whole cross-section), then z-score."""
    clipped = winsorize(values, config.lower_quantile, config.upper_quantile)
    return zscore(clipped, groups if config.sector_neutral else None)


def _rescore(values: pd.Series, config: FactorConfig, groups: pd.Series | None) -> pd.Series:
    """Z-score again, without clipping: a mean of z-scores is rescaled, its tails already
    bounded by the descriptors' winsorization (clipping at every level would shrink them)."""
    return zscore(values, groups if config.sector_neutral else None)


def _inverse(values: pd.Series) -> pd.Series:
    """1 / x, null where x is null or 0 (a multiple of 0 is no information)."""
    values = values.astype("float64")
    return 1.0 / values.where(values != 0)


def momentum(prices: pd.DataFrame, lookback: int = 252, skip: int = 21) -> pd.Series:
    """``p[t-skip] / p[t-lookback] - 1`` by session position, t = the last row of `prices`."""
    if len(prices) <= lookback:
        return pd.Series(np.nan, index=prices.columns, dtype="float64")
    recent = prices.iloc[-1 - skip]
    past = prices.iloc[-1 - lookback]
    return (recent / past - 1.0).astype("float64")


def descriptors(
    fundamentals: pd.DataFrame, prices: pd.DataFrame, config: FactorConfig
) -> pd.DataFrame:
    """Raw descriptors per symbol (index = `prices.columns`), before standardization."""
    symbols = prices.columns
    snap = fundamentals.reindex(symbols)

    def column(name: str) -> pd.Series:
        if name not in snap:
            return pd.Series(np.nan, index=symbols, dtype="float64")
        return pd.to_numeric(snap[name], errors="coerce").astype("float64")

    window = prices.iloc[-(config.volatility_window + 1) :]
    returns = window / window.shift(1) - 1.0
    volatility = annualized_volatility(returns, min_observations=config.min_volatility_returns)
    market_cap = column("market_cap")
    return pd.DataFrame(
        {
            "earnings_yield": _inverse(column("pe")),
            "book_to_price": _inverse(column("pb")),
            "sales_to_price": _inverse(column("ps")),
            "roe": column("roe"),
            "roce": column("roce"),
            "operating_margin": column("operating_margin"),
            "net_margin": column("net_margin"),
            "low_leverage": -column("debt_to_equity"),
            "momentum_12_1": momentum(prices, config.momentum_lookback, config.momentum_skip),
            "minus_volatility": -volatility,
            "minus_log_market_cap": -np.log(market_cap.where(market_cap > 0)),
        },
        index=symbols,
    )


def _reason(
    factor: str,
    symbol: str,
    day: dt.date,
    fundamentals: pd.DataFrame,
    config: FactorConfig,
) -> str:
    """Why `factor` of `symbol` has no value on `day`."""
    if factor in FUNDAMENTAL_INPUTS:
        if symbol not in fundamentals.index:
            return no_fundamentals(day)
        snapshot_date = (
            str(pd.Timestamp(str(fundamentals.at[symbol, "as_of_date"])).date())
            if "as_of_date" in fundamentals
            else "its latest date"
        )
        fields = ", ".join(FUNDAMENTAL_INPUTS[factor])
        return f"{fields} missing (or not meaningful) in the snapshot of {snapshot_date}"
    if factor == "momentum":
        return (
            f"needs adjusted closes {config.momentum_lookback} and {config.momentum_skip} "
            f"sessions before {day.isoformat()}"
        )
    return (
        f"fewer than {config.min_volatility_returns} daily returns in the "
        f"{config.volatility_window} sessions to {day.isoformat()}"
    )


def factor_exposures(
    fundamentals: pd.DataFrame,
    prices: pd.DataFrame,
    *,
    day: dt.date,
    config: FactorConfig | None = None,
    sectors: pd.Series | None = None,
) -> FactorResult:
    """Exposures of every symbol of `prices` (its columns) on `day`.

    Parameters
    ----------
    fundamentals
        Each symbol's latest snapshot dated on or before `day` (index symbol; fundamentals_snapshot
        columns). A symbol absent here has no fundamentals as of `day`.
    prices
        Adjusted closes, (sessions × symbols), ascending, none dated after `day`.
    sectors
        Symbol → sector, for sector-neutral z-scores (missing: one group of their own).
    """
    config = config or FactorConfig()
    if len(prices.index) and pd.Timestamp(prices.index.max()).date() > day:
        raise DataError(
            f"prices: the last row is dated {pd.Timestamp(prices.index.max()).date()}, after "
            f"{day}; exposures on a date see nothing later"
        )
    if "as_of_date" in fundamentals and len(fundamentals):
        latest = pd.Timestamp(fundamentals["as_of_date"].max()).date()
        if latest > day:
            raise DataError(
                f"fundamentals: a snapshot is dated {latest}, after {day}; exposures on a date "
                "see nothing later"
            )
    raw = descriptors(fundamentals, prices, config)
    exposures = pd.DataFrame(index=raw.index, columns=list(COLUMNS), dtype="float64")
    for factor in FACTORS:
        scored = pd.DataFrame(
            {name: standardize(raw[name], config, sectors) for name in DESCRIPTORS[factor]}
        )
        exposures[factor] = _rescore(scored.mean(axis=1, skipna=True), config, sectors)
    weights = pd.Series({name: float(config.weights.get(name, 0.0)) for name in FACTORS})
    weights = weights[weights > 0]
    chosen = exposures[list(weights.index)]
    available = chosen.notna()
    weight_sum = available.mul(weights, axis=1).sum(axis=1)
    combined = chosen.fillna(0.0).mul(weights, axis=1).sum(axis=1) / weight_sum.where(
        weight_sum > 0
    )
    exposures["composite_score"] = _rescore(combined, config, sectors)
    reasons = pd.DataFrame(None, index=raw.index, columns=list(COLUMNS), dtype="object")
    for factor in FACTORS:
        for symbol in exposures.index[exposures[factor].isna()]:
            reasons.at[symbol, factor] = _reason(factor, symbol, day, fundamentals, config)
    for symbol in exposures.index[exposures["composite_score"].isna()]:
        reasons.at[symbol, "composite_score"] = (
            f"no weighted factor has a value ({', '.join(weights.index)} all null)"
        )
    return FactorResult(exposures=exposures, reasons=reasons)


def snapshot_as_of(history: pd.DataFrame, day: dt.date) -> pd.DataFrame:
    """From snapshots of several dates (``symbol, as_of_date, …``), each symbol's latest dated on
    or before `day`, indexed by symbol: what was known on `day`."""
    if history.empty:
        return history.set_index("symbol") if "symbol" in history else history
    dates = pd.to_datetime(history["as_of_date"])
    known = history[dates <= pd.Timestamp(day)]
    ordered = known.assign(_d=pd.to_datetime(known["as_of_date"])).sort_values(["symbol", "_d"])
    return ordered.drop_duplicates("symbol", keep="last").drop(columns="_d").set_index("symbol")


def sector_labels(
    snapshots: pd.DataFrame, fallback: Mapping[str, str | None], symbols: Sequence[str]
) -> pd.Series:
    """Each symbol's sector as of the snapshot, else `fallback` (the instrument's own)."""
    from_snapshot = (
        snapshots["sector"] if "sector" in snapshots else pd.Series(dtype="object")
    ).reindex(list(symbols))
    current = pd.Series({symbol: fallback.get(symbol) for symbol in symbols}, dtype="object")
    return from_snapshot.where(from_snapshot.notna(), current)
