"""The synthetic market: price invariants, actions consistent with adj_close, point-in-time
fundamentals, determinism, and a factor structure that a cross-sectional regression recovers."""

from __future__ import annotations

from functools import cache

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from stocker.core.adjustment import adjusted_close
from stocker.core.errors import DataError
from stocker.sample import SECTOR_NAMES, STYLE_FACTORS, SyntheticMarket, generate_market


def _sessions(count: int, start: str = "2001-01-02") -> pd.DatetimeIndex:
    return pd.bdate_range(start, periods=count)


@cache
def _market(symbols: int = 40, sessions: int = 1500, seed: int = 11) -> SyntheticMarket:
    return generate_market(symbols, _sessions(sessions), seed)


def _wide(market: SyntheticMarket, column: str) -> pd.DataFrame:
    return market.prices.pivot(index="date", columns="symbol", values=column)


def _actions(market: SyntheticMarket, action_type: str) -> pd.DataFrame:
    actions = market.corporate_actions
    wide = actions[actions["action_type"] == action_type].pivot(
        index="date", columns="symbol", values="value"
    )
    return wide.reindex(index=_wide(market, "close").index, columns=_wide(market, "close").columns)


def _reference_adjusted_close(market: SyntheticMarket) -> pd.DataFrame:
    """The project's adjustment of the stored raw closes from the stored actions, per symbol."""
    close = _wide(market, "close")
    actions = market.corporate_actions
    adjusted = close.copy()
    for symbol in close.columns:
        own = actions[actions["symbol"] == symbol]
        splits = own[own["action_type"] == "SPLIT"].set_index("date")["value"]
        dividends = own[own["action_type"] == "DIVIDEND"].set_index("date")["value"]
        adjusted[symbol] = adjusted_close(close.index, close[symbol], splits, dividends)
    return adjusted


@settings(max_examples=25, deadline=None)
@given(
    symbols=st.integers(1, 25),
    session_count=st.integers(2, 400),
    seed=st.integers(0, 2**32 - 1),
)
def test_prices_for_any_market_satisfy_ohlcv_invariants(
    symbols: int, session_count: int, seed: int
) -> None:
    prices = generate_market(symbols, _sessions(session_count), seed).prices

    assert len(prices) == symbols * session_count
    assert (prices["low"] <= prices[["open", "close"]].min(axis=1)).all()
    assert (prices[["open", "close"]].max(axis=1) <= prices["high"]).all()
    assert (prices[["open", "high", "low", "close", "adj_close"]] > 0).all().all()
    assert (prices["volume"] > 0).all()
    assert not prices.duplicated(["symbol", "date"]).any()


def test_prices_over_twenty_years_stay_positive_and_plausible() -> None:
    market = generate_market(150, _sessions(5000), seed=3)
    log_returns = np.log(_wide(market, "adj_close")).diff().iloc[1:]
    vol_annual = log_returns.std() * np.sqrt(252)

    assert market.prices["close"].min() > 0.01
    assert market.prices["close"].max() < 2000
    assert 0.15 < vol_annual.median() < 0.45
    assert log_returns.abs().max().max() < 0.7


def test_adj_close_on_the_last_session_equals_the_raw_close() -> None:
    market = _market()
    close, adj_close = _wide(market, "close"), _wide(market, "adj_close")

    pd.testing.assert_series_equal(close.iloc[-1], adj_close.iloc[-1])


def test_adj_close_is_the_projects_adjustment_of_the_stored_closes_and_actions() -> None:
    market = _market(symbols=60, sessions=4000)
    expected = _reference_adjusted_close(market).round(4)

    pd.testing.assert_frame_equal(_wide(market, "adj_close"), expected, check_exact=True)


def test_splits_change_raw_close_by_the_ratio_but_not_the_adjusted_return() -> None:
    market = _market(symbols=60, sessions=4000)
    close, adj_close = _wide(market, "close"), _wide(market, "adj_close")
    splits = _actions(market, "SPLIT").stack().dropna()
    assert set(splits.unique()) <= {2.0, 3.0}
    assert len(splits) >= 5

    raw_log_return = np.log(close / close.shift()).stack().loc[splits.index]
    adj_log_return = np.log(adj_close / adj_close.shift()).stack().loc[splits.index]
    model_log_return = market.truth.log_returns.stack().loc[splits.index]

    np.testing.assert_allclose(raw_log_return - adj_log_return, -np.log(splits), atol=2e-3)
    np.testing.assert_allclose(adj_log_return, model_log_return, atol=2e-3)
    assert adj_log_return.abs().max() < 0.25


def test_dividends_make_the_adjusted_return_the_reinvested_return_on_ex_dates() -> None:
    market = _market()
    close, adj_close = _wide(market, "close"), _wide(market, "adj_close")
    dividends = _actions(market, "DIVIDEND").stack().dropna()
    assert len(dividends) >= 50
    assert (dividends > 0).all()

    previous_close = close.shift().stack().loc[dividends.index]
    # Reinvested at the ex-dividend reference price previous_close - dividend.
    total_return = close.stack().loc[dividends.index] / (previous_close - dividends) - 1
    adjusted_return = (adj_close / adj_close.shift() - 1).stack().loc[dividends.index]
    previous_adj = adj_close.shift().stack().loc[dividends.index]

    # Stored adj_close has 4 decimals: its return carries at most ~1e-4 / price of rounding.
    tolerance = 1.5e-4 / previous_adj
    assert ((adjusted_return - total_return).abs() <= tolerance).all()
    # Not the price-only return: the dividend shows up in the adjusted return.
    price_return = close.stack().loc[dividends.index] / previous_close - 1
    assert ((adjusted_return - price_return) > 0.8 * dividends / previous_close).all()


def test_adjusted_log_returns_are_the_model_returns() -> None:
    market = _market()
    adj_close = _wide(market, "adj_close")
    generated = np.log(adj_close).diff().iloc[1:]

    np.testing.assert_allclose(generated, market.truth.log_returns, atol=2e-3)


def test_fundamentals_are_reported_after_their_period_ends() -> None:
    fundamentals = _market().fundamentals
    lag_days = (fundamentals["as_of_date"] - fundamentals["period_end"]).dt.days

    assert (fundamentals["period_type"] == "FQ").all()
    assert lag_days.min() >= 20
    assert lag_days.max() <= 49
    assert not fundamentals.duplicated(["symbol", "as_of_date", "period_type"]).any()
    assert fundamentals["as_of_date"].isin(_wide(_market(), "close").index).all()


def test_fundamentals_are_coherent_with_each_other_and_with_prices() -> None:
    market = _market()
    fundamentals = market.fundamentals.set_index(["symbol", "as_of_date"])
    close = market.prices.set_index(["symbol", "date"])["close"]
    price_on_report = close.loc[fundamentals.index].to_numpy()

    np.testing.assert_allclose(
        fundamentals["market_cap"], price_on_report * fundamentals["shares_outstanding"], rtol=1e-9
    )
    np.testing.assert_allclose(
        fundamentals["net_margin"],
        fundamentals["net_income"] / fundamentals["revenue"],
        atol=1e-6,
    )
    np.testing.assert_allclose(
        fundamentals["ebitda_margin"], fundamentals["ebitda"] / fundamentals["revenue"], atol=1e-6
    )
    trailing_income = (
        market.fundamentals.groupby("symbol")["net_income"].rolling(4).sum().to_numpy()
    )
    pe = fundamentals["pe_ttm"].to_numpy()
    has_year = ~np.isnan(trailing_income) & ~np.isnan(pe)
    assert has_year.sum() > 100
    np.testing.assert_allclose(
        pe[has_year],
        fundamentals["market_cap"].to_numpy()[has_year] / trailing_income[has_year],
        rtol=1e-3,
    )
    assert (fundamentals["pe_ttm"].dropna() > 0).all()
    assert (fundamentals["gross_margin"] >= fundamentals["ebitda_margin"]).mean() > 0.95
    assert (fundamentals["enterprise_value"] > 0).mean() > 0.95


def test_eps_growth_is_split_adjusted_like_earnings_growth() -> None:
    market = _market(symbols=60, sessions=4000)
    assert (market.corporate_actions["action_type"] == "SPLIT").sum() >= 5
    both = market.fundamentals.dropna(subset=["eps_growth_yoy", "earnings_growth_yoy"])

    # Per-share growth differs from total growth only by the slow drift in share count.
    ratio = (1 + both["eps_growth_yoy"]) / (1 + both["earnings_growth_yoy"])
    assert len(both) > 1000
    assert (ratio - 1).abs().max() < 0.1


def test_dividend_rate_is_the_trailing_sum_of_ex_date_dividends() -> None:
    market = _market(symbols=8, sessions=1500, seed=5)
    dividends = market.corporate_actions.query("action_type == 'DIVIDEND'")
    splits = market.corporate_actions.query("action_type == 'SPLIT'")
    checked = 0
    for row in market.fundamentals.itertuples():
        paid = dividends[
            (dividends["symbol"] == row.symbol)
            & (dividends["date"] <= row.period_end)
            & (dividends["date"] > row.period_end - pd.DateOffset(years=1))
        ]
        split_between = splits[
            (splits["symbol"] == row.symbol) & (splits["date"] > paid["date"].min())
        ]
        if paid.empty or not split_between.empty or row.period_end < pd.Timestamp("2002-03-01"):
            continue
        assert row.dividend_rate == pytest.approx(paid["value"].sum(), abs=1e-5)
        checked += 1
    assert checked > 20


def test_same_seed_gives_identical_frames_and_another_seed_different_ones() -> None:
    sessions = _sessions(300)
    first = generate_market(15, sessions, seed=42)
    again = generate_market(15, sessions, seed=42)
    other = generate_market(15, sessions, seed=43)

    for name, frame in first.tables().items():
        pd.testing.assert_frame_equal(frame, again.tables()[name])
    pd.testing.assert_frame_equal(first.truth.factor_returns, again.truth.factor_returns)
    assert not np.allclose(first.prices["close"], other.prices["close"])
    assert first.prices["source"].iloc[0] == "synthetic:seed=42"
    assert other.instruments["source"].iloc[0] == "synthetic:seed=43"


def test_instruments_cover_every_sector_with_synthetic_symbols() -> None:
    instruments = generate_market(30, _sessions(10), seed=1).instruments

    assert instruments["symbol"].tolist() == [f"SYN{number:04d}" for number in range(1, 31)]
    assert set(instruments["sector"]) == set(SECTOR_NAMES)
    assert instruments["industry"].notna().all()
    assert instruments["name"].str.len().between(5, 255).all()
    assert (instruments["source"] == "synthetic:seed=1").all()


def test_cross_sectional_regression_on_true_loadings_recovers_factor_returns() -> None:
    market = generate_market(500, _sessions(250), seed=9)
    returns = np.log(_wide(market, "adj_close")).diff().iloc[1:]
    loadings = market.truth.loadings.loc[returns.columns]

    estimates, *_ = np.linalg.lstsq(loadings.to_numpy(), returns.to_numpy().T, rcond=None)
    estimated = pd.DataFrame(estimates.T, index=returns.index, columns=loadings.columns)
    truth = market.truth.factor_returns

    correlations = estimated.corrwith(truth)
    assert correlations["market"] > 0.9
    assert (correlations[list(STYLE_FACTORS)] > 0.9).all()
    assert (correlations[list(SECTOR_NAMES)] > 0.75).all()
    assert correlations[list(SECTOR_NAMES)].mean() > 0.85
    # A shuffled assignment of loadings recovers nothing.
    shuffled = np.random.default_rng(0).permutation(loadings.to_numpy())
    noise, *_ = np.linalg.lstsq(shuffled, returns.to_numpy().T, rcond=None)
    assert abs(np.corrcoef(noise[-1], truth[STYLE_FACTORS[-1]])[0, 1]) < 0.3


def test_generate_market_when_inputs_are_invalid_names_the_field() -> None:
    with pytest.raises(DataError, match="symbols"):
        generate_market(0, _sessions(10), seed=1)
    with pytest.raises(DataError, match="sessions"):
        generate_market(5, _sessions(1), seed=1)
    with pytest.raises(DataError, match="sessions"):
        generate_market(5, _sessions(10)[::-1], seed=1)
    with pytest.raises(DataError, match="seed"):
        generate_market(5, _sessions(10), seed=-1)
