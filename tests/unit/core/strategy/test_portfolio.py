"""The portfolio engine's rules hold on every date, for random inputs (hypothesis)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from stocker.core.strategy.config import StrategyConfig
from stocker.core.strategy.portfolio import drawdown_from_nav, portfolio_targets


@st.composite
def portfolios(draw: st.DrawFn) -> tuple[pd.DataFrame, pd.Series, np.ndarray, StrategyConfig]:
    n_dates = draw(st.integers(1, 12))
    n_symbols = draw(st.integers(1, 15))
    magnitude = draw(arrays(np.float64, (n_dates, n_symbols), elements=st.floats(0.0, 10.0)))
    signs = draw(arrays(np.float64, (n_dates, n_symbols), elements=st.sampled_from([-1.0, 0, 1])))
    raw = magnitude * signs
    gross = np.abs(raw).sum(axis=1, keepdims=True)
    raw = np.divide(raw, gross, out=np.zeros_like(raw), where=gross > 0)
    vol = draw(arrays(np.float64, n_dates, elements=st.one_of(st.just(0.0), st.floats(1e-6, 2.0))))
    drawdown = draw(arrays(np.float64, n_dates, elements=st.floats(0.0, 0.99)))
    halve = draw(st.floats(0.01, 0.5))
    config = StrategyConfig(
        target_vol_annual=draw(st.floats(0.01, 1.0)),
        gross_limit=draw(st.floats(0.1, 3.0)),
        asset_cap=draw(st.floats(0.01, 1.0)),
        drawdown_halve=halve,
        drawdown_zero=draw(st.floats(halve + 0.01, 0.99)),
    )
    index = pd.date_range("2020-01-01", periods=n_dates, freq="B")
    columns = [f"S{i}" for i in range(n_symbols)]
    return (
        pd.DataFrame(raw, index=index, columns=columns),
        pd.Series(vol, index=index),
        drawdown,
        config,
    )


@settings(max_examples=300, deadline=None)
@given(portfolios())
def test_targets_on_every_date_respect_cap_gross_limit_and_drawdown_rules(
    case: tuple[pd.DataFrame, pd.Series, np.ndarray, StrategyConfig],
) -> None:
    raw, vol, drawdown, config = case

    targets = portfolio_targets(raw, vol, drawdown, config)

    exposure = targets.exposure.to_numpy()
    tolerance = 1e-12
    assert (np.abs(exposure) <= config.asset_cap + tolerance).all()
    assert (np.abs(exposure).sum(axis=1) <= config.gross_limit * (1 + tolerance)).all()
    assert (np.sign(exposure) * np.sign(raw.to_numpy()) >= 0).all()
    for row in range(len(raw)):
        # k = min(target / predicted, limit / gross); a zero predicted vol leaves the gross bound.
        gross = float(np.abs(raw.to_numpy()[row]).sum())
        bounds = [config.target_vol_annual / vol.iloc[row]] if vol.iloc[row] > 0 else []
        bounds += [config.gross_limit / gross] if gross > 0 else []
        bounds = [bound for bound in bounds if np.isfinite(bound)]
        k_before = min(bounds) if bounds else 0.0
        expected_multiplier = (
            0.0
            if drawdown[row] > config.drawdown_zero
            else 0.5
            if drawdown[row] > config.drawdown_halve
            else 1.0
        )
        unclipped = expected_multiplier * k_before * raw.to_numpy()[row]
        np.testing.assert_allclose(
            exposure[row], np.clip(unclipped, -config.asset_cap, config.asset_cap), atol=1e-15
        )
        if drawdown[row] > config.drawdown_zero:
            assert (exposure[row] == 0).all()
        capped = targets.is_capped.to_numpy()[row]
        # At the cap itself either answer is right: rounding decides.
        assert capped[np.abs(unclipped) > config.asset_cap * (1 + tolerance)].all()
        assert not capped[np.abs(unclipped) < config.asset_cap * (1 - tolerance)].any()
        reasons = targets.reasons(raw.index[row])
        cap_text = f"Capped at {config.asset_cap:.0%}"
        for position, symbol in enumerate(raw.columns):
            assert (cap_text in reasons[symbol]) == bool(capped[position])
            if expected_multiplier == 0.0 and raw.iloc[row, position] != 0:
                assert "Cut to zero" in reasons[symbol]
            if expected_multiplier == 0.5 and raw.iloc[row, position] != 0:
                assert "Halved" in reasons[symbol]


def test_default_cap_reason_reads_capped_at_35_percent() -> None:
    index = pd.date_range("2021-01-04", periods=1)
    raw = pd.DataFrame([[0.9, 0.1]], index=index, columns=["A", "B"])

    targets = portfolio_targets(raw, pd.Series([0.05], index=index), np.zeros(1), StrategyConfig())

    assert targets.exposure.iloc[0].tolist() == pytest.approx([0.35, 0.1])
    assert targets.reasons(index[0])["A"].endswith("Capped at 35%")
    assert "Capped" not in targets.reasons(index[0])["B"]
    assert "gross limit" in targets.reasons(index[0])["A"]


def test_drawdown_is_measured_from_the_high_water_mark() -> None:
    nav = np.array([100.0, 110.0, 99.0, 87.0, 120.0])

    drawdown = drawdown_from_nav(nav, initial=100.0)

    np.testing.assert_allclose(drawdown, [0.0, 0.0, 0.1, 1 - 87 / 110, 0.0])
