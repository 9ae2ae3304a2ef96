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

GENERATOR_VERSION = "synthetic-market/1"
TRADING_DAYS_PER_YEAR = 252
MAX_SYMBOLS = 9999
PRICE_DECIMALS = 4
WARMUP_QUARTERS = 12

MARKET_FACTOR = "market"
STYLE_FACTORS: tuple[str, ...] = ("size", "value", "quality", "low_volatility")


@dataclass(frozen=True)
class SectorProfile:
    """What a typical company of a GICS sector looks like (means; stocks scatter around them)."""

    weight: float  # share of symbols
    beta: float
    specific_vol_annual: float
    gross_margin: float
    ebitda_to_gross: float
    price_to_sales: float
    debt_to_equity: float
    dividend_payer_probability: float
    dividend_yield_annual: float
    industries: tuple[str, ...]


SECTORS: dict[str, SectorProfile] = {
    "Information Technology": SectorProfile(
        0.14, 1.20, 0.32, 0.58, 0.45, 5.0, 0.4, 0.45, 0.012,
        ("Software", "IT Services", "Semiconductors & Semiconductor Equipment",
         "Technology Hardware, Storage & Peripherals", "Communications Equipment",
         "Electronic Equipment, Instruments & Components"),
    ),
    "Health Care": SectorProfile(
        0.12, 0.85, 0.30, 0.60, 0.40, 3.5, 0.5, 0.50, 0.015,
        ("Pharmaceuticals", "Biotechnology", "Health Care Equipment & Supplies",
         "Health Care Providers & Services", "Life Sciences Tools & Services"),
    ),
    "Financials": SectorProfile(
        0.13, 1.10, 0.22, 0.55, 0.55, 2.5, 1.8, 0.80, 0.025,
        ("Banks", "Capital Markets", "Insurance", "Financial Services", "Consumer Finance"),
    ),
    "Industrials": SectorProfile(
        0.14, 1.05, 0.24, 0.32, 0.50, 1.8, 0.9, 0.75, 0.018,
        ("Aerospace & Defense", "Machinery", "Building Products", "Electrical Equipment",
         "Construction & Engineering", "Industrial Conglomerates", "Ground Transportation",
         "Air Freight & Logistics"),
    ),
    "Consumer Discretionary": SectorProfile(
        0.10, 1.15, 0.28, 0.38, 0.40, 1.5, 1.0, 0.55, 0.015,
        ("Specialty Retail", "Hotels, Restaurants & Leisure", "Household Durables",
         "Automobiles", "Automobile Components", "Textiles, Apparel & Luxury Goods",
         "Broadline Retail"),
    ),
    "Consumer Staples": SectorProfile(
        0.07, 0.65, 0.17, 0.36, 0.50, 1.6, 0.9, 0.90, 0.028,
        ("Beverages", "Food Products", "Household Products", "Personal Care Products",
         "Tobacco", "Consumer Staples Distribution & Retail"),
    ),
    "Energy": SectorProfile(
        0.05, 1.10, 0.30, 0.35, 0.60, 1.2, 0.6, 0.80, 0.035,
        ("Oil, Gas & Consumable Fuels", "Energy Equipment & Services"),
    ),
    "Materials": SectorProfile(
        0.05, 1.05, 0.25, 0.30, 0.55, 1.5, 0.7, 0.75, 0.022,
        ("Chemicals", "Metals & Mining", "Construction Materials", "Containers & Packaging",
         "Paper & Forest Products"),
    ),
    "Utilities": SectorProfile(
        0.06, 0.55, 0.15, 0.45, 0.75, 2.2, 1.4, 0.95, 0.035,
        ("Electric Utilities", "Multi-Utilities", "Gas Utilities", "Water Utilities",
         "Independent Power and Renewable Electricity Producers"),
    ),
    "Real Estate": SectorProfile(
        0.06, 0.90, 0.20, 0.65, 0.80, 6.0, 1.1, 0.90, 0.038,
        ("Specialized REITs", "Residential REITs", "Retail REITs", "Industrial REITs",
         "Office REITs", "Diversified REITs", "Real Estate Management & Development"),
    ),
    "Communication Services": SectorProfile(
        0.08, 1.00, 0.27, 0.55, 0.50, 3.0, 0.8, 0.45, 0.018,
        ("Interactive Media & Services", "Media", "Entertainment",
         "Diversified Telecommunication Services", "Wireless Telecommunication Services"),
    ),
}  # fmt: skip
SECTOR_NAMES: tuple[str, ...] = tuple(SECTORS)

_NAME_STEMS = (
    "Aurora", "Beacon", "Cedar", "Delta", "Ember", "Falcon", "Granite", "Harbor", "Ion", "Juniper",
    "Keystone", "Lumen", "Meridian", "Northwind", "Orchid", "Pioneer", "Quarry", "Redwood",
    "Summit", "Tidewater", "Union", "Vertex", "Willow", "Zenith", "Atlas", "Bluestone", "Crescent",
    "Driftwood", "Evergreen", "Foxglove", "Highland", "Ironwood", "Lakeside", "Maple", "Oakridge",
    "Prairie", "Riverside", "Silverline", "Timber", "Westfield",
)  # fmt: skip
_NAME_SUFFIXES = ("Inc.", "Corp.", "Holdings", "Group", "Co.", "plc", "Ltd.")
_SECTOR_WORDS = {
    "Information Technology": ("Technologies", "Systems", "Semiconductor", "Software"),
    "Health Care": ("Health", "Therapeutics", "Medical", "Biosciences"),
    "Financials": ("Financial", "Bancorp", "Capital", "Insurance"),
    "Industrials": ("Industries", "Aerospace", "Machinery", "Logistics"),
    "Consumer Discretionary": ("Brands", "Retail", "Motors", "Leisure"),
    "Consumer Staples": ("Foods", "Beverages", "Household", "Provisions"),
    "Energy": ("Energy", "Petroleum", "Resources", "Oilfield"),
    "Materials": ("Materials", "Chemicals", "Mining", "Metals"),
    "Utilities": ("Power", "Electric", "Utilities", "Water"),
    "Real Estate": ("Realty", "Properties", "REIT", "Land"),
    "Communication Services": ("Media", "Communications", "Telecom", "Networks"),
}

# Market-wide parameters (annualized where the name says so).
_MARKET_DRIFT_ANNUAL = 0.07
_MARKET_VOL_ANNUAL = 0.16
_GARCH_ALPHA = 0.08
_GARCH_BETA = 0.90
_T_DEGREES_OF_FREEDOM = 5.0
_SECTOR_VOL_ANNUAL = 0.12
_STYLE_VOL_ANNUAL = {"size": 0.05, "value": 0.05, "quality": 0.04, "low_volatility": 0.05}
_STYLE_PREMIUM_ANNUAL = {"size": -0.01, "value": 0.02, "quality": 0.02, "low_volatility": 0.01}
_SPECIFIC_HALF_LIFE_YEARS = 3.0
_TAX_RATE = 0.21
_INTEREST_RATE = 0.045


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


def _standardize(values: np.ndarray) -> np.ndarray:
    spread = values.std()
    centered = values - values.mean()
    return centered / spread if spread > 0 else centered


def _student_t(rng: np.random.Generator, shape: tuple[int, ...]) -> np.ndarray:
    """Student-t draws scaled to unit variance (fat tails, same volatility)."""
    nu = _T_DEGREES_OF_FREEDOM
    return rng.standard_t(nu, size=shape) / np.sqrt(nu / (nu - 2.0))


def _garch_market_returns(rng: np.random.Generator, count: int) -> np.ndarray:
    """Daily market log returns with GARCH(1,1) volatility clustering (scalar loop over days)."""
    long_run_variance = _MARKET_VOL_ANNUAL**2 / TRADING_DAYS_PER_YEAR
    omega = long_run_variance * (1.0 - _GARCH_ALPHA - _GARCH_BETA)
    shocks = _student_t(rng, (count,))
    variance = np.empty(count)
    current = long_run_variance
    previous_shock_sq = long_run_variance
    for day in range(count):
        current = omega + _GARCH_ALPHA * previous_shock_sq + _GARCH_BETA * current
        variance[day] = current
        previous_shock_sq = current * shocks[day] ** 2
    drift = _MARKET_DRIFT_ANNUAL / TRADING_DAYS_PER_YEAR - 0.5 * long_run_variance
    return drift + np.sqrt(variance) * shocks


def _assign_sectors(rng: np.random.Generator, count: int) -> np.ndarray:
    """Sector index per symbol: every sector present once there are enough symbols."""
    weights = np.array([profile.weight for profile in SECTORS.values()])
    weights = weights / weights.sum()
    drawn = rng.choice(len(SECTORS), size=count, p=weights)
    guaranteed = min(count, len(SECTORS))
    drawn[:guaranteed] = rng.permutation(len(SECTORS))[:guaranteed]
    return rng.permutation(drawn)


def _sector_array(sector_index: np.ndarray, attribute: str) -> np.ndarray:
    values = np.array([getattr(profile, attribute) for profile in SECTORS.values()], dtype=float)
    return values[sector_index]


def _names(rng: np.random.Generator, sector_index: np.ndarray) -> list[str]:
    """Company-like names ("Granite Energy Corp."): obviously invented, sector-flavoured."""
    stems = rng.integers(0, len(_NAME_STEMS), size=len(sector_index))
    words = rng.integers(0, 4, size=len(sector_index))
    suffixes = rng.integers(0, len(_NAME_SUFFIXES), size=len(sector_index))
    return [
        f"{_NAME_STEMS[stem]} {_SECTOR_WORDS[SECTOR_NAMES[sector]][word]} {_NAME_SUFFIXES[suffix]}"
        for stem, sector, word, suffix in zip(stems, sector_index, words, suffixes, strict=True)
    ]


def _dividend_days(
    rng: np.random.Generator, sessions: pd.DatetimeIndex, payers: np.ndarray
) -> np.ndarray:
    """Boolean sessions × symbols: quarterly ex-dates (first session on/after a fixed day)."""
    count = len(payers)
    month_starts = pd.date_range(
        sessions[0].to_period("M").to_timestamp(), sessions[-1], freq="MS"
    ).to_numpy(dtype="datetime64[D]")
    month_numbers = (month_starts.astype("datetime64[M]").astype(np.int64)) % 3
    first_month = rng.integers(0, 3, size=count)
    day_offset = rng.integers(0, 25, size=count)
    targets = month_starts[:, None] + day_offset[None, :].astype("timedelta64[D]")
    positions = np.searchsorted(sessions.to_numpy(dtype="datetime64[D]"), targets.ravel())
    positions = positions.reshape(targets.shape)
    wanted = (month_numbers[:, None] == first_month[None, :]) & payers[None, :]
    wanted &= (positions >= 1) & (positions < len(sessions))
    days = np.zeros((len(sessions), count), dtype=bool)
    month_rows, symbol_columns = np.nonzero(wanted)
    days[positions[month_rows, symbol_columns], symbol_columns] = True
    return days


def _split_factors(
    rng: np.random.Generator,
    unsplit_close: np.ndarray,
    thresholds: np.ndarray,
    dividend_days: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """Cumulative split factor and per-day split ratio (1 = none), sessions × symbols.

    A stock splits 2:1 (sometimes 3:1) on the first session its raw price passes its threshold;
    a split that would share a session with an ex-dividend date moves to the next session.
    """
    session_count, symbol_count = unsplit_close.shape
    cumulative = np.ones_like(unsplit_close)
    ratios = np.ones_like(unsplit_close)
    columns = np.arange(symbol_count)
    day_numbers = np.arange(session_count)[:, None]
    last_split = np.zeros(symbol_count, dtype=np.int64)
    for _round in range(16):
        above = (unsplit_close / cumulative) > thresholds[None, :]
        above &= day_numbers > last_split[None, :]
        triggered = above.any(axis=0)
        if not triggered.any():
            break
        first = np.where(triggered, above.argmax(axis=0), session_count)
        clash = triggered & dividend_days[np.minimum(first, session_count - 1), columns]
        first = np.where(clash, first + 1, first)
        triggered &= first < session_count
        ratio = np.where(rng.random(symbol_count) < 0.25, 3.0, 2.0)
        step = np.where(triggered[None, :] & (day_numbers >= first[None, :]), ratio[None, :], 1.0)
        cumulative *= step
        ratios[first[triggered], columns[triggered]] = ratio[triggered]
        last_split = np.where(triggered, first, last_split)
    return cumulative, ratios


def _round_prices(values: np.ndarray) -> np.ndarray:
    return np.round(values, PRICE_DECIMALS)


def _back_adjusted_close(
    close: np.ndarray, split_ratios: np.ndarray, dividends: np.ndarray
) -> np.ndarray:
    """`stocker.core.adjustment.adjusted_close` for every column at once, operation for operation,
    so re-adjusting the stored rows reproduces them exactly."""
    previous_close = np.vstack([np.full((1, close.shape[1]), np.nan), close[:-1]])
    with np.errstate(invalid="ignore"):
        dividend_multiplier = np.where(dividends > 0, 1.0 - dividends / previous_close, 1.0)
    multiplier = dividend_multiplier / split_ratios
    factors = np.ones_like(close)
    factors[:-1] = np.cumprod(multiplier[::-1], axis=0)[::-1][1:]
    return close * factors


def _hash(parameters: dict[str, object]) -> str:
    text = "|".join(f"{key}={parameters[key]}" for key in sorted(parameters))
    return hashlib.sha256(text.encode()).hexdigest()


def _constant_labels(label: str, count: int) -> pd.Categorical[str]:
    return pd.Categorical.from_codes(np.zeros(count, dtype=np.int8), categories=pd.Index([label]))


def _long_frame(
    symbols: np.ndarray, sessions: pd.DatetimeIndex, columns: dict[str, np.ndarray]
) -> pd.DataFrame:
    """Sessions × symbols arrays to long rows ordered by symbol then date.

    Repeated labels are categorical: millions of rows of a few hundred distinct strings.
    """
    session_count = len(sessions)
    codes = np.repeat(np.arange(len(symbols), dtype=np.int32), session_count)
    frame = pd.DataFrame(
        {
            "symbol": pd.Categorical.from_codes(codes, categories=pd.Index(symbols)),
            "date": np.tile(sessions.to_numpy(), len(symbols)),
        }
    )
    for name, values in columns.items():
        frame[name] = values.T.reshape(-1)
    return frame


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
    sector_index = _assign_sectors(rng, symbols)
    industry_choice = rng.random(symbols)
    industries = [
        SECTORS[SECTOR_NAMES[sector]].industries[
            int(choice * len(SECTORS[SECTOR_NAMES[sector]].industries))
        ]
        for sector, choice in zip(sector_index, industry_choice, strict=True)
    ]
    names = _names(rng, sector_index)

    log_market_cap = np.log(8e9) + 1.3 * rng.standard_normal(symbols)
    log_market_cap = np.clip(log_market_cap, np.log(2e8), np.log(2e12))
    beta = _sector_array(sector_index, "beta") + 0.35 * rng.standard_normal(symbols)
    beta = np.clip(beta, 0.2, 2.5)
    specific_vol_annual = (
        0.9
        * _sector_array(sector_index, "specific_vol_annual")
        * np.exp(0.30 * rng.standard_normal(symbols) - 0.12 * _standardize(log_market_cap))
    )
    specific_vol_annual = np.clip(specific_vol_annual, 0.08, 0.80)
    style_loadings = np.column_stack(
        [
            _standardize(log_market_cap),
            _standardize(rng.standard_normal(symbols)),
            _standardize(rng.standard_normal(symbols)),
            _standardize(
                -(0.6 * _standardize(beta) + 0.6 * _standardize(specific_vol_annual))
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
    market = _garch_market_returns(rng, return_days)
    daily_sector_vol = _SECTOR_VOL_ANNUAL / np.sqrt(TRADING_DAYS_PER_YEAR)
    sector_returns = daily_sector_vol * rng.standard_normal((return_days, len(SECTORS)))
    sector_returns -= 0.5 * daily_sector_vol**2
    style_vol = np.array([_STYLE_VOL_ANNUAL[name] for name in STYLE_FACTORS])
    style_premium = np.array([_STYLE_PREMIUM_ANNUAL[name] for name in STYLE_FACTORS])
    style_returns = style_premium / TRADING_DAYS_PER_YEAR + (
        style_vol / np.sqrt(TRADING_DAYS_PER_YEAR)
    ) * rng.standard_normal((return_days, len(STYLE_FACTORS)))
    factor_returns = np.column_stack([market, sector_returns, style_returns])

    daily_specific_vol = specific_vol_annual / np.sqrt(TRADING_DAYS_PER_YEAR)
    shocks = _student_t(rng, (return_days, symbols)) * daily_specific_vol[None, :]
    persistence = 1.0 - np.log(2.0) / (_SPECIFIC_HALF_LIFE_YEARS * TRADING_DAYS_PER_YEAR)
    specific_level = lfilter([1.0], [1.0, -persistence], shocks, axis=0)
    specific_returns = np.diff(specific_level, axis=0, prepend=0.0)
    specific_returns -= 0.5 * daily_specific_vol[None, :] ** 2

    log_returns = factor_returns @ loadings.T + specific_returns  # (T-1) × N
    gross_returns = np.vstack([np.ones((1, symbols)), np.exp(log_returns)])

    # --- actions and raw prices ---------------------------------------------------------------
    payers = rng.random(symbols) < _sector_array(sector_index, "dividend_payer_probability")
    yield_quarterly = (
        _sector_array(sector_index, "dividend_yield_annual")
        * np.exp(0.35 * rng.standard_normal(symbols))
        / 4.0
    )
    dividend_days = _dividend_days(rng, session_index, payers)
    retained = np.where(dividend_days, 1.0 - yield_quarterly[None, :], 1.0)

    thresholds = rng.uniform(120.0, 400.0, size=symbols)
    start_price = np.minimum(
        np.exp(np.log(40.0) + 0.7 * rng.standard_normal(symbols)), 0.8 * thresholds
    )
    start_price = np.maximum(start_price, 5.0)
    unsplit_close = start_price[None, :] * np.cumprod(gross_returns * retained, axis=0)
    split_cumulative, split_ratios = _split_factors(rng, unsplit_close, thresholds, dividend_days)
    close = _round_prices(unsplit_close / split_cumulative)
    previous_close = np.vstack([close[:1], close[:-1]])
    dividends = np.where(
        dividend_days, _round_prices(yield_quarterly[None, :] * previous_close), 0.0
    )
    adj_close = _round_prices(_back_adjusted_close(close, split_ratios, dividends))

    # --- open, high, low, volume --------------------------------------------------------------
    all_log_returns = np.vstack([np.zeros((1, symbols)), log_returns])
    daily_total_vol = np.sqrt((beta * _MARKET_VOL_ANNUAL) ** 2 + specific_vol_annual**2) / np.sqrt(
        TRADING_DAYS_PER_YEAR
    )
    intraday = 0.65 * all_log_returns + 0.35 * daily_total_vol[None, :] * rng.standard_normal(
        (session_count, symbols)
    )
    open_ = _round_prices(close * np.exp(-intraday))
    upper_wick = np.abs(rng.standard_normal((session_count, symbols))) * 0.45 * daily_total_vol
    lower_wick = np.abs(rng.standard_normal((session_count, symbols))) * 0.45 * daily_total_vol
    high = _round_prices(np.maximum(open_, close) * np.exp(upper_wick))
    low = _round_prices(np.minimum(open_, close) * np.exp(-lower_wick))
    low = np.maximum(low, 10.0**-PRICE_DECIMALS)

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

    prices = _long_frame(
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
    prices["source"] = _constant_labels(source, len(prices))
    prices["source_hash"] = _constant_labels(source_hash, len(prices))

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

    fundamentals = _fundamentals(
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


def _ratio(numerator: np.ndarray, denominator: np.ndarray) -> np.ndarray:
    """numerator / denominator, NaN (NULL) where the denominator is not positive: a P/E on a
    loss or a return on negative equity means nothing."""
    valid = denominator > 0
    safe = np.where(valid, denominator, 1.0)
    return np.where(valid, numerator / safe, np.nan)


def _trailing_sum(values: np.ndarray, quarters: int = 4) -> np.ndarray:
    """Sum over the last `quarters` rows (NaN until enough history)."""
    cumulative = np.cumsum(values, axis=0)
    result = np.full_like(values, np.nan)
    result[quarters - 1] = cumulative[quarters - 1]
    result[quarters:] = cumulative[quarters:] - cumulative[:-quarters]
    return result


def _quarter_sums(daily: np.ndarray, quarter_stop: np.ndarray) -> np.ndarray:
    """Sum of sessions × symbols values per quarter; `quarter_stop` is each quarter's end row."""
    cumulative = np.vstack([np.zeros((1, daily.shape[1])), np.cumsum(daily, axis=0)])
    at_stop = cumulative[quarter_stop]
    return np.diff(at_stop, axis=0, prepend=np.zeros((1, daily.shape[1])))


def _lagged(values: np.ndarray, quarters: int) -> np.ndarray:
    result = np.full_like(values, np.nan)
    result[quarters:] = values[:-quarters]
    return result


def _fundamentals(
    rng: np.random.Generator,
    sessions: pd.DatetimeIndex,
    tickers: np.ndarray,
    instruments: pd.DataFrame,
    *,
    close: np.ndarray,
    adj_close: np.ndarray,
    dividends: np.ndarray,
    shares: np.ndarray,
    split_cumulative: np.ndarray,
    beta: np.ndarray,
    log_market_cap: np.ndarray,
    style_loadings: np.ndarray,
    sector_index: np.ndarray,
) -> pd.DataFrame:
    """Quarterly fundamentals (period_type FQ), reported 20–45 days after each quarter end."""
    symbol_count = len(tickers)
    session_days = sessions.to_numpy(dtype="datetime64[D]")
    first_quarter_end = (sessions[0] - pd.offsets.QuarterEnd(WARMUP_QUARTERS)).normalize()
    quarter_ends = pd.date_range(first_quarter_end, sessions[-1], freq="QE")
    quarter_count = len(quarter_ends)
    quarter_days = quarter_ends.to_numpy(dtype="datetime64[D]")

    # Price level at each quarter end (first session's level before the data starts).
    last_session_position = np.searchsorted(session_days, quarter_days, side="right") - 1
    in_range = last_session_position >= 0
    position = np.maximum(last_session_position, 0)
    log_level = np.log(adj_close[position])
    log_level[~in_range] = np.log(adj_close[0])[None, :]
    log_level -= np.log(adj_close[0])[None, :]

    # Revenue follows the stock's price path (elasticity below one) plus its own noise.
    market_cap_start = np.exp(log_market_cap)
    value = style_loadings[:, 1]
    quality = style_loadings[:, 2]
    price_to_sales = _sector_array(sector_index, "price_to_sales") * np.exp(
        -0.35 * value + 0.25 * rng.standard_normal(symbol_count)
    )
    quarterly_revenue_start = market_cap_start / price_to_sales / 4.0
    revenue_noise = 0.03 * rng.standard_normal((quarter_count, symbol_count))
    seasonal = 0.02 * np.sin(2 * np.pi * (np.arange(quarter_count) % 4) / 4.0)[:, None]
    revenue = quarterly_revenue_start[None, :] * np.exp(0.7 * log_level + revenue_noise + seasonal)

    gross_margin = np.clip(
        _sector_array(sector_index, "gross_margin")
        + 0.05 * quality
        + 0.05 * rng.standard_normal(symbol_count),
        0.08,
        0.92,
    )
    ebitda_margin_base = gross_margin * np.clip(
        _sector_array(sector_index, "ebitda_to_gross") + 0.05 * quality, 0.15, 0.9
    )
    ebitda_margin = ebitda_margin_base[None, :] + 0.015 * rng.standard_normal(
        (quarter_count, symbol_count)
    )
    depreciation_share = rng.uniform(0.03, 0.07, size=symbol_count)
    operating_margin = ebitda_margin - depreciation_share[None, :]
    ebitda = revenue * ebitda_margin
    operating_income = revenue * operating_margin

    book_to_price = np.exp(np.log(0.3) + 0.4 * value + 0.2 * rng.standard_normal(symbol_count))
    equity_start = market_cap_start * book_to_price
    debt_to_equity_start = _sector_array(sector_index, "debt_to_equity") * np.exp(
        -0.3 * quality + 0.3 * rng.standard_normal(symbol_count)
    )
    revenue_trend = revenue / quarterly_revenue_start[None, :]
    debt = equity_start[None, :] * debt_to_equity_start[None, :] * revenue_trend
    interest = debt * _INTEREST_RATE / 4.0
    pretax = operating_income - interest
    net_income = np.where(pretax > 0, pretax * (1.0 - _TAX_RATE), pretax)
    free_cash_flow = ebitda * rng.uniform(0.35, 0.7, size=symbol_count)[None, :] - interest

    # Dividends paid in each quarter, from the ex-dates (per share × shares that day), and per
    # share restated to the last session's share count (so splits do not distort the sum).
    quarter_stop = np.searchsorted(session_days, quarter_days, side="right")
    dividends_paid = _quarter_sums(dividends * shares, quarter_stop)
    dividends_per_share = _quarter_sums(
        dividends * split_cumulative / split_cumulative[-1][None, :], quarter_stop
    )

    equity = equity_start[None, :] + np.cumsum(net_income - dividends_paid, axis=0)
    cash = 0.08 * revenue * 4.0

    # Report dates: 20–45 calendar days after quarter end, on the next session.
    report_lag_days = rng.integers(20, 46, size=(quarter_count, symbol_count))
    report_days = quarter_days[:, None] + report_lag_days.astype("timedelta64[D]")
    report_position = np.searchsorted(session_days, report_days.ravel()).reshape(report_days.shape)
    reported = (report_position < len(sessions)) & (quarter_days[:, None] >= session_days[0])
    report_position = np.minimum(report_position, len(sessions) - 1)
    columns = np.arange(symbol_count)[None, :]
    price_at_report = close[report_position, columns]
    shares_at_report = np.round(shares[report_position, columns])
    market_cap = price_at_report * shares_at_report
    # Per-share dividends restated to the report date's share count.
    dividend_rate = _trailing_sum(dividends_per_share) * (
        split_cumulative[-1][None, :] / split_cumulative[report_position, columns]
    )

    revenue_ttm = _trailing_sum(revenue)
    ebitda_ttm = _trailing_sum(ebitda)
    operating_ttm = _trailing_sum(operating_income)
    net_income_ttm = _trailing_sum(net_income)
    fcf_ttm = _trailing_sum(free_cash_flow)
    interest_ttm = _trailing_sum(interest)
    dividends_ttm = _trailing_sum(dividends_paid)
    enterprise_value = market_cap + debt - cash
    # EPS on one share basis (splits undone), so growth rates do not jump on a split.
    comparable_shares = (
        shares[report_position, columns] / split_cumulative[report_position, columns]
    )
    eps_ttm = net_income_ttm / comparable_shares
    eps_ttm_3y_ago = _lagged(eps_ttm, 12)
    eps_quarter = net_income / comparable_shares
    eps_growth_3y = np.where(
        (eps_ttm > 0) & (eps_ttm_3y_ago > 0),
        (np.where(eps_ttm > 0, eps_ttm, 1.0) / np.where(eps_ttm_3y_ago > 0, eps_ttm_3y_ago, 1.0))
        ** (1.0 / 3.0)
        - 1.0,
        np.nan,
    )
    total_assets = equity + debt + 0.3 * revenue_ttm
    other_current = rng.uniform(0.9, 2.2, size=symbol_count)[None, :] * np.exp(
        0.05 * rng.standard_normal((quarter_count, symbol_count))
    )

    metrics: dict[str, np.ndarray] = {
        "market_cap": market_cap,
        "enterprise_value": enterprise_value,
        "shares_outstanding": shares_at_report,
        "float_shares": np.round(shares_at_report * rng.uniform(0.82, 0.99, size=symbol_count)),
        "beta": np.broadcast_to(beta, market_cap.shape),
        "pe_ttm": _ratio(market_cap, net_income_ttm),
        "price_to_book": _ratio(market_cap, equity),
        "price_to_sales": _ratio(market_cap, revenue_ttm),
        "ev_to_ebitda": _ratio(enterprise_value, ebitda_ttm),
        "ev_to_ebit": _ratio(enterprise_value, operating_ttm),
        "fcf_yield": _ratio(fcf_ttm, market_cap),
        "dividend_yield": _ratio(dividend_rate, price_at_report),
        "dividend_rate": dividend_rate,
        "payout_ratio": _ratio(dividends_ttm, net_income_ttm),
        "revenue": revenue,
        "ebitda": ebitda,
        "net_income": net_income,
        "free_cash_flow": free_cash_flow,
        "gross_margin": np.broadcast_to(gross_margin, market_cap.shape),
        "operating_margin": operating_margin,
        "net_margin": net_income / revenue,
        "ebitda_margin": ebitda_margin,
        "roe": _ratio(net_income_ttm, equity),
        "roa": _ratio(net_income_ttm, total_assets),
        "roic": _ratio(operating_ttm * (1 - _TAX_RATE), equity + debt - cash),
        "roce": _ratio(operating_ttm, equity + debt),
        "revenue_growth_yoy": _ratio(revenue, _lagged(revenue, 4)) - 1.0,
        "earnings_growth_yoy": _ratio(net_income, _lagged(net_income, 4)) - 1.0,
        "eps_growth_yoy": _ratio(eps_quarter, _lagged(eps_quarter, 4)) - 1.0,
        "eps_growth_3y": eps_growth_3y,
        "fcf_growth_yoy": _ratio(free_cash_flow, _lagged(free_cash_flow, 4)) - 1.0,
        "debt_to_equity": _ratio(debt, equity),
        "net_debt_to_ebitda": _ratio(debt - cash, ebitda_ttm),
        "interest_coverage": _ratio(operating_ttm, interest_ttm),
        "current_ratio": other_current,
        "quick_ratio": other_current * rng.uniform(0.5, 0.9, size=symbol_count)[None, :],
    }  # fmt: skip

    quarter_rows, symbol_columns = np.nonzero(reported)
    frame = pd.DataFrame(
        {
            "symbol": tickers[symbol_columns],
            "as_of_date": sessions.to_numpy()[report_position[quarter_rows, symbol_columns]],
            "period_type": "FQ",
            "period_end": quarter_ends.to_numpy()[quarter_rows],
            "fiscal_year": quarter_ends.year.to_numpy()[quarter_rows],
            "fiscal_quarter": quarter_ends.quarter.to_numpy()[quarter_rows],
            "currency": instruments["currency"].to_numpy()[symbol_columns],
        }
    )
    for name, values in metrics.items():
        frame[name] = _fit_column(name, np.asarray(values)[quarter_rows, symbol_columns])
    for name in ("shares_outstanding", "float_shares"):
        frame[name] = frame[name].astype("Int64")
    frame["sector"] = instruments["sector"].to_numpy()[symbol_columns]
    frame["industry"] = instruments["industry"].to_numpy()[symbol_columns]
    return frame.sort_values(["symbol", "as_of_date"]).reset_index(drop=True)


# Column precision in instrument_metrics: (decimal places, largest magnitude allowed).
_MONEY = (2, 1e17)
_RATIO_4 = (4, 1e7)
_RATIO_6 = (6, 1e5)
_COLUMN_FIT: dict[str, tuple[int, float]] = {
    "market_cap": _MONEY, "enterprise_value": _MONEY, "revenue": _MONEY, "ebitda": _MONEY,
    "net_income": _MONEY, "free_cash_flow": _MONEY, "shares_outstanding": (0, 9e18),
    "float_shares": (0, 9e18), "beta": (4, 99.0), "pe_ttm": _RATIO_4, "pe_forward": _RATIO_4,
    "price_to_book": _RATIO_4, "price_to_sales": _RATIO_4, "peg_ratio": _RATIO_4,
    "ev_to_ebitda": _RATIO_4, "ev_to_ebit": _RATIO_4, "dividend_rate": (6, 1e7),
}  # fmt: skip


def _fit_column(name: str, values: np.ndarray) -> np.ndarray:
    """Round to the column's scale; a value too large for the column becomes NULL (NaN)."""
    decimals, largest = _COLUMN_FIT.get(name, _RATIO_6)
    values = values.astype(float)
    values = np.where(np.isfinite(values) & (np.abs(values) < largest), values, np.nan)
    return np.round(values, decimals)
