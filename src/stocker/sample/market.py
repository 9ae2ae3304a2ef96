"""A synthetic equity market whose structure is known, for tests, demos and benchmarks.

`generate_market` is a pure function of (number of symbols, trading sessions, seed). It returns
the rows of `instrument_info`, `prices_daily`, `corporate_actions` and quarterly
`instrument_metrics` plus the `truth` that produced them, so factor and risk-model code can be
checked for recovery.

How the data is made (all vectorized over sessions × symbols):

1. Daily log total returns follow a factor model: a market factor with GARCH(1,1) volatility and
   Student-t shocks times each stock's beta, one factor per GICS sector (0/1 loadings), four style
   factors (size, value, quality, low volatility; standardized loadings), and fat-tailed
   idiosyncratic noise with a per-stock volatility. The idiosyncratic log price mean-reverts slowly
   (half-life of years) so no stock drifts to a zero price over decades.
2. Quarterly cash dividends (for a subset of stocks) and 2:1 / 3:1 splits (when a raw price passes
   a per-stock threshold) are placed on sessions; raw closes are derived from the total-return
   path by undoing them: on an ex-date ``close * split_ratio = (previous close - dividend) *
   gross return``.
3. `adj_close` is the back-adjusted close of `stocker.core.adjustment` (the convention every
   stored price uses) recomputed from the stored, rounded raw closes and actions: its return on
   an ex-date is ``close * split_ratio / (previous close - dividend) - 1`` and on the last session
   it equals the raw close. So re-adjusting the stored data from its actions changes nothing.
4. Open, high, low and volume are drawn around the close (low ≤ open, close ≤ high; volume > 0).
5. Fundamentals are coherent accounting: revenue tracks the stock's price path, margins depend on
   sector and the quality loading, net income is after interest and tax, book equity accumulates
   earnings less dividends paid; ratios use trailing-twelve-month sums and the price on the report
   date, which comes 20–45 days after the quarter end (``as_of_date > period_end``).
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date

import numpy as np
import pandas as pd
from scipy.signal import lfilter

from stocker.core.errors import DataError
from stocker.core.prices import SMALLEST_PRICE
from stocker.sample.fundamentals import quarterly_fundamentals
from stocker.sample.paths import (
    MARKET_VOL_ANNUAL,
    SECTOR_VOL_ANNUAL,
    SPECIFIC_HALF_LIFE_YEARS,
    STYLE_PREMIUM_ANNUAL,
    STYLE_VOL_ANNUAL,
    TRADING_DAYS_PER_YEAR,
    back_adjusted_close,
    constant_labels,
    ex_dividend_days,
    garch_market_returns,
    long_frame,
    round_prices,
    split_factors,
    standardize,
    student_t,
)
from stocker.sample.sectors import (
    SECTOR_NAMES,
    SECTORS,
    assign_sectors,
    company_names,
    sector_array,
)

GENERATOR_VERSION = "synthetic-market/1"
MAX_SYMBOLS = 9999

MARKET_FACTOR = "market"
STYLE_FACTORS: tuple[str, ...] = ("size", "value", "quality", "low_volatility")


@dataclass(frozen=True)
class MarketTruth:
    """The hidden structure behind a synthetic market.

    `loadings` is symbols × factors (beta on `market`, 0/1 on each sector, standardized style
    exposures); `factor_returns` is sessions (from the second) × factors and `specific_returns`
    sessions × symbols, both daily log returns. A stock's daily log total return is
    ``loadings @ factor_returns + specific_returns``.
    """

    loadings: pd.DataFrame
    factor_returns: pd.DataFrame
    specific_returns: pd.DataFrame
    specific_vol_annual: pd.Series
    market_factor: str = MARKET_FACTOR
    sector_factors: tuple[str, ...] = SECTOR_NAMES
    style_factors: tuple[str, ...] = STYLE_FACTORS

    @property
    def log_returns(self) -> pd.DataFrame:
        """Daily log total returns implied by the model (sessions from the second × symbols)."""
        systematic = self.factor_returns.to_numpy() @ self.loadings.to_numpy().T
        return pd.DataFrame(
            systematic + self.specific_returns.to_numpy(),
            index=self.factor_returns.index,
            columns=self.loadings.index,
        )


@dataclass(frozen=True)
class SyntheticMarket:
    """Rows for four tables (column names as in the schema) and the truth that made them."""

    instruments: pd.DataFrame
    prices: pd.DataFrame
    corporate_actions: pd.DataFrame
    fundamentals: pd.DataFrame
    truth: MarketTruth
    source: str
    source_hash: str
    parameters: dict[str, object] = field(default_factory=dict)

    def tables(self) -> dict[str, pd.DataFrame]:
        """Frames keyed by target table, in the order they must be written (foreign keys)."""
        return {
            "instrument_info": self.instruments,
            "prices_daily": self.prices,
            "corporate_actions": self.corporate_actions,
            "instrument_metrics": self.fundamentals,
        }


def _as_sessions(sessions: pd.DatetimeIndex | Sequence[date]) -> pd.DatetimeIndex:
    index = pd.DatetimeIndex(list(sessions) if not isinstance(sessions, pd.Index) else sessions)
    if index.tz is not None:
        index = index.tz_localize(None)
    index = index.normalize().as_unit("ns")
    if len(index) < 2:
        raise DataError(f"sessions: got {len(index)} session(s), expected at least 2")
    if not index.is_monotonic_increasing or index.has_duplicates:
        raise DataError("sessions: expected strictly increasing dates without duplicates")
    return index


def _hash(parameters: dict[str, object]) -> str:
    text = "|".join(f"{key}={parameters[key]}" for key in sorted(parameters))
    return hashlib.sha256(text.encode()).hexdigest()


def generate_market(
    symbols: int,
    sessions: pd.DatetimeIndex | Sequence[date],
    seed: int,
    *,
    exchange: str = "NYSE",
    currency: str = "USD",
) -> SyntheticMarket:
    """Generate a synthetic market of `symbols` stocks over the given trading `sessions`.

    Parameters
    ----------
    symbols : number of stocks, named ``SYN0001`` … (at most 9999).
    sessions : the trading sessions, e.g. from an exchange calendar (at least 2, increasing).
    seed : random seed; the same inputs give identical frames, a different seed different ones.
    exchange, currency : written on the `instrument_info` rows.

    Returns
    -------
    SyntheticMarket with `instruments`, `prices`, `corporate_actions`, `fundamentals` (frames
    whose columns are the target tables' columns) and `truth` (loadings and factor returns).
    """
    if not 1 <= symbols <= MAX_SYMBOLS:
        raise DataError(f"symbols: got {symbols}, expected 1 to {MAX_SYMBOLS}")
    if seed < 0:
        raise DataError(f"seed: got {seed}, expected a non-negative integer")
    session_index = _as_sessions(sessions)
    session_count = len(session_index)
    rng = np.random.default_rng(seed)

    parameters: dict[str, object] = {
        "generator": GENERATOR_VERSION,
        "symbols": symbols,
        "seed": seed,
        "first_session": session_index[0].date().isoformat(),
        "last_session": session_index[-1].date().isoformat(),
        "session_count": session_count,
        "exchange": exchange,
        "currency": currency,
    }
    source = f"synthetic:seed={seed}"
    source_hash = _hash(parameters)
    tickers = np.array([f"SYN{number:04d}" for number in range(1, symbols + 1)], dtype=object)

    # --- cross-section: sectors, industries, loadings, per-stock parameters -------------------
    sector_index = assign_sectors(rng, symbols)
    industry_choice = rng.random(symbols)
    industries = [
        SECTORS[SECTOR_NAMES[sector]].industries[
            int(choice * len(SECTORS[SECTOR_NAMES[sector]].industries))
        ]
        for sector, choice in zip(sector_index, industry_choice, strict=True)
    ]
    names = company_names(rng, sector_index)

    log_market_cap = np.log(8e9) + 1.3 * rng.standard_normal(symbols)
    log_market_cap = np.clip(log_market_cap, np.log(2e8), np.log(2e12))
    beta = sector_array(sector_index, "beta") + 0.35 * rng.standard_normal(symbols)
    beta = np.clip(beta, 0.2, 2.5)
    specific_vol_annual = (
        0.9
        * sector_array(sector_index, "specific_vol_annual")
        * np.exp(0.30 * rng.standard_normal(symbols) - 0.12 * standardize(log_market_cap))
    )
    specific_vol_annual = np.clip(specific_vol_annual, 0.08, 0.80)
    style_loadings = np.column_stack(
        [
            standardize(log_market_cap),
            standardize(rng.standard_normal(symbols)),
            standardize(rng.standard_normal(symbols)),
            standardize(
                -(0.6 * standardize(beta) + 0.6 * standardize(specific_vol_annual))
                + 0.5 * rng.standard_normal(symbols)
            ),
        ]
    )
    sector_dummies = np.zeros((symbols, len(SECTORS)))
    sector_dummies[np.arange(symbols), sector_index] = 1.0
    loadings = np.column_stack([beta, sector_dummies, style_loadings])
    factor_names = [MARKET_FACTOR, *SECTOR_NAMES, *STYLE_FACTORS]

    # --- time series: factor returns and specific returns (log) -------------------------------
    return_days = session_count - 1
    market = garch_market_returns(rng, return_days)
    daily_sector_vol = SECTOR_VOL_ANNUAL / np.sqrt(TRADING_DAYS_PER_YEAR)
    sector_returns = daily_sector_vol * rng.standard_normal((return_days, len(SECTORS)))
    sector_returns -= 0.5 * daily_sector_vol**2
    style_vol = np.array([STYLE_VOL_ANNUAL[name] for name in STYLE_FACTORS])
    style_premium = np.array([STYLE_PREMIUM_ANNUAL[name] for name in STYLE_FACTORS])
    style_returns = style_premium / TRADING_DAYS_PER_YEAR + (
        style_vol / np.sqrt(TRADING_DAYS_PER_YEAR)
    ) * rng.standard_normal((return_days, len(STYLE_FACTORS)))
    factor_returns = np.column_stack([market, sector_returns, style_returns])

    daily_specific_vol = specific_vol_annual / np.sqrt(TRADING_DAYS_PER_YEAR)
    shocks = student_t(rng, (return_days, symbols)) * daily_specific_vol[None, :]
    persistence = 1.0 - np.log(2.0) / (SPECIFIC_HALF_LIFE_YEARS * TRADING_DAYS_PER_YEAR)
    specific_level = lfilter([1.0], [1.0, -persistence], shocks, axis=0)
    specific_returns = np.diff(specific_level, axis=0, prepend=0.0)
    specific_returns -= 0.5 * daily_specific_vol[None, :] ** 2

    log_returns = factor_returns @ loadings.T + specific_returns  # (T-1) × N
    gross_returns = np.vstack([np.ones((1, symbols)), np.exp(log_returns)])

    # --- actions and raw prices ---------------------------------------------------------------
    payers = rng.random(symbols) < sector_array(sector_index, "dividend_payer_probability")
    yield_quarterly = (
        sector_array(sector_index, "dividend_yield_annual")
        * np.exp(0.35 * rng.standard_normal(symbols))
        / 4.0
    )
    dividend_days = ex_dividend_days(rng, session_index, payers)
    retained = np.where(dividend_days, 1.0 - yield_quarterly[None, :], 1.0)

    thresholds = rng.uniform(120.0, 400.0, size=symbols)
    start_price = np.minimum(
        np.exp(np.log(40.0) + 0.7 * rng.standard_normal(symbols)), 0.8 * thresholds
    )
    start_price = np.maximum(start_price, 5.0)
    unsplit_close = start_price[None, :] * np.cumprod(gross_returns * retained, axis=0)
    split_cumulative, split_ratios = split_factors(rng, unsplit_close, thresholds, dividend_days)
    close = round_prices(unsplit_close / split_cumulative)
    previous_close = np.vstack([close[:1], close[:-1]])
    dividends = np.where(
        dividend_days, round_prices(yield_quarterly[None, :] * previous_close), 0.0
    )
    adj_close = round_prices(back_adjusted_close(close, split_ratios, dividends))

    # --- open, high, low, volume --------------------------------------------------------------
    all_log_returns = np.vstack([np.zeros((1, symbols)), log_returns])
    daily_total_vol = np.sqrt((beta * MARKET_VOL_ANNUAL) ** 2 + specific_vol_annual**2) / np.sqrt(
        TRADING_DAYS_PER_YEAR
    )
    intraday = 0.65 * all_log_returns + 0.35 * daily_total_vol[None, :] * rng.standard_normal(
        (session_count, symbols)
    )
    open_ = round_prices(close * np.exp(-intraday))
    upper_wick = np.abs(rng.standard_normal((session_count, symbols))) * 0.45 * daily_total_vol
    lower_wick = np.abs(rng.standard_normal((session_count, symbols))) * 0.45 * daily_total_vol
    high = round_prices(np.maximum(open_, close) * np.exp(upper_wick))
    low = round_prices(np.minimum(open_, close) * np.exp(-lower_wick))
    low = np.maximum(low, SMALLEST_PRICE)

    share_drift_annual = rng.normal(0.0, 0.015, size=symbols)
    years_elapsed = np.arange(session_count)[:, None] / TRADING_DAYS_PER_YEAR
    base_shares = np.exp(log_market_cap) / start_price
    shares = base_shares[None, :] * split_cumulative * np.exp(share_drift_annual * years_elapsed)
    turnover_noise = 0.3 * rng.standard_normal(symbols)
    turnover = np.exp(np.log(0.008) - 0.25 * style_loadings[:, 0] + turnover_noise)
    surprise = np.abs(all_log_returns) / daily_total_vol[None, :]
    volume_noise = 0.35 * rng.standard_normal((session_count, symbols))
    volume = shares * turnover[None, :] * np.exp(volume_noise + 0.25 * surprise - 0.3)
    volume = np.maximum(np.round(volume), 100).astype(np.int64)

    prices = long_frame(
        tickers,
        session_index,
        {
            "open": open_,
            "high": high,
            "low": low,
            "close": close,
            "adj_close": adj_close,
            "volume": volume,
        },
    )
    prices["source"] = constant_labels(source, len(prices))
    prices["source_hash"] = constant_labels(source_hash, len(prices))

    action_rows = []
    for action_type, mask, values in (
        ("SPLIT", split_ratios != 1.0, split_ratios),
        ("DIVIDEND", dividend_days, dividends),
    ):
        rows, columns = np.nonzero(mask)
        action_rows.append(
            pd.DataFrame(
                {
                    "symbol": tickers[columns],
                    "date": session_index.to_numpy()[rows],
                    "action_type": action_type,
                    "value": values[rows, columns],
                }
            )
        )
    corporate_actions = (
        pd.concat(action_rows, ignore_index=True)
        .sort_values(["symbol", "date", "action_type"])
        .reset_index(drop=True)
    )
    corporate_actions["source"] = source
    corporate_actions["source_hash"] = source_hash

    instruments = pd.DataFrame(
        {
            "symbol": tickers,
            "name": names,
            "asset_class": "US_EQUITY" if currency == "USD" else "EQUITY",
            "sector": [SECTOR_NAMES[index] for index in sector_index],
            "industry": industries,
            "exchange": exchange,
            "currency": currency,
            "active": True,
            "source": source,
            "source_hash": source_hash,
        }
    )

    fundamentals = quarterly_fundamentals(
        rng,
        session_index,
        tickers,
        instruments,
        close=close,
        adj_close=adj_close,
        dividends=dividends,
        shares=shares,
        split_cumulative=split_cumulative,
        beta=beta,
        log_market_cap=log_market_cap,
        style_loadings=style_loadings,
        sector_index=sector_index,
    )
    fundamentals["source"] = source

    truth = MarketTruth(
        loadings=pd.DataFrame(
            loadings, index=pd.Index(tickers, name="symbol"), columns=factor_names
        ),
        factor_returns=pd.DataFrame(
            factor_returns, index=session_index[1:].rename("date"), columns=factor_names
        ),
        specific_returns=pd.DataFrame(
            specific_returns,
            index=session_index[1:].rename("date"),
            columns=pd.Index(tickers, name="symbol"),
        ),
        specific_vol_annual=pd.Series(specific_vol_annual, index=tickers, name="vol_annual"),
    )
    return SyntheticMarket(
        instruments=instruments,
        prices=prices,
        corporate_actions=corporate_actions,
        fundamentals=fundamentals,
        truth=truth,
        source=source,
        source_hash=source_hash,
        parameters=parameters,
    )
