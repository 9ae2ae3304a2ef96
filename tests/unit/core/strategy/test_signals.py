"""Signals against a plainly written, loop-by-loop computation of issue 8's formulas."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from skfolio.datasets import load_sp500_dataset

from stocker.core.strategy.config import StrategyConfig
from stocker.core.strategy.portfolio import ewma_covariance, predicted_vol
from stocker.core.strategy.signals import compute_signals, ewma_vol, lookback_return


@pytest.fixture(scope="module")
def sample_prices() -> pd.DataFrame:
    """The real 20-stock sample: adjusted closes shipped inside skfolio, 1990–2022."""
    return load_sp500_dataset().astype(float)


def plain_lookback(column: list[float], lookback_days: int) -> list[float]:
    out = [math.nan] * len(column)
    for t in range(lookback_days, len(column)):
        out[t] = column[t] / column[t - lookback_days] - 1.0
    return out


def plain_ewma_vol(column: list[float], decay: float, seed: int, periods: int) -> list[float]:
    """Per-symbol loop: seed with the mean of the first `seed` squared returns, then recurse."""
    out = [math.nan] * len(column)
    squares: list[float] = []
    variance = math.nan
    for t in range(1, len(column)):
        if math.isnan(column[t]) or math.isnan(column[t - 1]):
            continue  # a missing return: no seed count, no update, no value
        r = column[t] / column[t - 1] - 1.0
        if len(squares) < seed:
            squares.append(r * r)
            if len(squares) == seed:
                variance = sum(squares) / seed
        else:
            variance = decay * variance + (1.0 - decay) * r * r
        if len(squares) == seed:
            out[t] = math.sqrt(periods * variance)
    return out


def plain_raw_weights(
    lookback: list[list[float]], vol: list[list[float]], threshold: float, long_short: bool
) -> list[list[float]]:
    rows = []
    for look_row, vol_row in zip(lookback, vol, strict=True):
        raw = []
        for look, sigma in zip(look_row, vol_row, strict=True):
            if math.isnan(look) or math.isnan(sigma):
                raw.append(0.0)
            elif look > threshold:
                raw.append(1.0 / sigma)
            elif long_short and look < -threshold:
                raw.append(-1.0 / sigma)
            else:
                raw.append(0.0)
        total = sum(abs(value) for value in raw)
        rows.append([value / total if total else 0.0 for value in raw])
    return rows


def assert_close(actual: pd.DataFrame, expected: list[list[float]], tolerance: float) -> None:
    got = actual.to_numpy()
    want = np.array(expected, dtype=float)
    assert np.array_equal(np.isnan(got), np.isnan(want))
    mask = ~np.isnan(want)
    assert np.max(np.abs(got[mask] - want[mask])) <= tolerance


def columns_of(prices: pd.DataFrame) -> list[list[float]]:
    return [prices[symbol].tolist() for symbol in prices.columns]


@pytest.mark.parametrize("long_short", [False, True])
def test_signals_on_sample_equal_plain_formulas_to_1e10(
    sample_prices: pd.DataFrame, long_short: bool
) -> None:
    prices = sample_prices  # all 20 stocks, 1990–2022
    config = StrategyConfig(long_short=long_short, threshold=0.02)

    signals = compute_signals(prices, config)

    look = [plain_lookback(c, 126) for c in columns_of(prices)]
    vol = [plain_ewma_vol(c, 0.94, 20, 252) for c in columns_of(prices)]
    assert_close(signals.lookback_return, [list(row) for row in zip(*look, strict=True)], 1e-10)
    assert_close(signals.vol_annual, [list(row) for row in zip(*vol, strict=True)], 1e-10)
    expected = plain_raw_weights(
        [list(row) for row in zip(*look, strict=True)],
        [list(row) for row in zip(*vol, strict=True)],
        0.02,
        long_short,
    )
    assert_close(signals.raw_weight, expected, 1e-10)
    assert (signals.raw_weight.to_numpy() < 0).any() == long_short


def test_ewma_vol_with_gaps_skips_missing_returns_and_seeds_on_the_20th(
    sample_prices: pd.DataFrame,
) -> None:
    prices = sample_prices.iloc[:400, :4].copy()
    prices.iloc[:30, 1] = np.nan  # listed late
    prices.iloc[[50, 51, 120], 2] = np.nan  # suspended days

    vol = ewma_vol(prices)

    expected = [plain_ewma_vol(c, 0.94, 20, 252) for c in columns_of(prices)]
    assert_close(vol, [list(row) for row in zip(*expected, strict=True)], 1e-12)
    got = vol.to_numpy()
    assert np.isnan(got[:20, 0]).all() and not np.isnan(got[20, 0])
    assert np.isnan(got[:50, 1]).all() and not np.isnan(got[50, 1])


def test_lookback_return_is_defined_from_the_126th_session(sample_prices: pd.DataFrame) -> None:
    look = lookback_return(sample_prices.iloc[:200], 126)
    values = sample_prices.to_numpy()

    assert look.iloc[:126].isna().all().all()
    assert look.iloc[126, 0] == pytest.approx(values[126, 0] / values[0, 0] - 1.0, rel=1e-15)


def test_signals_at_a_date_ignore_every_later_price(sample_prices: pd.DataFrame) -> None:
    prices = sample_prices.iloc[-700:]
    cut = 500
    changed = prices.copy()
    changed.iloc[cut + 1 :] *= np.random.default_rng(3).uniform(
        0.5, 1.5, changed.iloc[cut + 1 :].shape
    )

    before = compute_signals(prices, StrategyConfig())
    after = compute_signals(changed, StrategyConfig())

    pd.testing.assert_frame_equal(
        before.raw_weight.iloc[: cut + 1], after.raw_weight.iloc[: cut + 1]
    )
    assert not before.raw_weight.iloc[cut + 1 :].equals(after.raw_weight.iloc[cut + 1 :])


def test_predicted_vol_equals_plain_covariance_recursion(sample_prices: pd.DataFrame) -> None:
    prices = sample_prices.iloc[-300:, :6]
    config = StrategyConfig()
    weights = pd.DataFrame(
        np.random.default_rng(5).normal(size=prices.shape),
        index=prices.index,
        columns=prices.columns,
    )

    predicted = predicted_vol(weights, prices, config)

    values = prices.to_numpy()
    returns = [values[t] / values[t - 1] - 1.0 for t in range(1, len(values))]
    expected = [0.0] * 20  # no covariance before the 20th return (rows 0–19)
    covariance = sum(np.outer(r, r) for r in returns[:20]) / 20
    w = weights.to_numpy()
    expected.append(math.sqrt(252 * w[20] @ covariance @ w[20]))
    for t in range(21, len(values)):
        covariance = 0.94 * covariance + 0.06 * np.outer(returns[t - 1], returns[t - 1])
        expected.append(math.sqrt(252 * w[t] @ covariance @ w[t]))
    np.testing.assert_allclose(predicted.to_numpy(), expected, rtol=1e-10, atol=0)
    last = ewma_covariance(prices, config).to_numpy()
    np.testing.assert_allclose(last, 252 * covariance, rtol=1e-10)


def test_covariance_diagonal_is_the_ewma_variance(sample_prices: pd.DataFrame) -> None:
    prices = sample_prices.iloc[-400:, :5]
    covariance = ewma_covariance(prices, StrategyConfig())

    vol = ewma_vol(prices).iloc[-1]

    np.testing.assert_allclose(np.sqrt(np.diag(covariance)), vol.to_numpy(), rtol=1e-12)
