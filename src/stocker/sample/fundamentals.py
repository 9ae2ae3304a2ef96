"""Quarterly fundamentals of the synthetic market: coherent accounting from the price paths.

Revenue tracks the stock's price path, margins depend on sector and the quality loading, net
income is after interest and tax, book equity accumulates earnings less dividends paid; ratios
use trailing-twelve-month sums and the price on the report date, which comes 20–45 days after
the quarter end (``as_of_date > period_end``).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from stocker.sample.sectors import sector_array

WARMUP_QUARTERS = 12
_TAX_RATE = 0.21
_INTEREST_RATE = 0.045


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


def quarterly_fundamentals(
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
    price_to_sales = sector_array(sector_index, "price_to_sales") * np.exp(
        -0.35 * value + 0.25 * rng.standard_normal(symbol_count)
    )
    quarterly_revenue_start = market_cap_start / price_to_sales / 4.0
    revenue_noise = 0.03 * rng.standard_normal((quarter_count, symbol_count))
    seasonal = 0.02 * np.sin(2 * np.pi * (np.arange(quarter_count) % 4) / 4.0)[:, None]
    revenue = quarterly_revenue_start[None, :] * np.exp(0.7 * log_level + revenue_noise + seasonal)

    gross_margin = np.clip(
        sector_array(sector_index, "gross_margin")
        + 0.05 * quality
        + 0.05 * rng.standard_normal(symbol_count),
        0.08,
        0.92,
    )
    ebitda_margin_base = gross_margin * np.clip(
        sector_array(sector_index, "ebitda_to_gross") + 0.05 * quality, 0.15, 0.9
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
    debt_to_equity_start = sector_array(sector_index, "debt_to_equity") * np.exp(
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
