"""The drawdown rule with re-entry (`drawdown_rule`): properties on random NAV paths, and the
trend backtest re-entering on the real sample where the spec's rule stays in cash for good."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from skfolio.datasets import load_sp500_dataset

from stocker.core.backtest.trend import trend_backtest
from stocker.core.errors import ConfigError
from stocker.core.strategy.config import StrategyConfig
from stocker.core.strategy.portfolio import (
    drawdown_from_nav,
    drawdown_multiplier,
    drawdown_rule,
    portfolio_targets,
)


@st.composite
def nav_paths(draw: st.DrawFn) -> np.ndarray:
    """A positive NAV path with flat stretches (a portfolio in cash) and deep falls."""
    steps = draw(
        arrays(
            np.float64,
            st.integers(1, 300),
            elements=st.sampled_from([0.0, 0.0, 0.01, -0.01, 0.05, -0.08, -0.3, 0.2]),
        )
    )
    return 1e6 * np.cumprod(1.0 + steps)


def _longest_run(flags: np.ndarray) -> int:
    longest = current = 0
    for flag in flags:
        current = current + 1 if flag else 0
        longest = max(longest, current)
    return longest


@given(nav=nav_paths(), cooloff=st.integers(1, 30))
@settings(max_examples=200, deadline=None)
def test_cooloff_rule_holds_on_every_date(nav: np.ndarray, cooloff: int) -> None:
    config = StrategyConfig(drawdown_cooloff=cooloff)
    drawdown, multiplier = drawdown_rule(nav, config, initial=1e6)

    assert ((drawdown >= 0.0) & (drawdown < 1.0)).all()
    # The multiplier is the spec's function of the drawdown the rule measures...
    np.testing.assert_array_equal(multiplier, drawdown_multiplier(drawdown, config))
    # ...never more than `cooloff` decisions in a row at zero...
    assert _longest_run(multiplier == 0.0) <= cooloff
    # ...measured from a mark never above the plain high-water mark, and equal to the plain
    # drawdown until the first reset.
    plain = drawdown_from_nav(nav, initial=1e6)
    assert (drawdown <= plain + 1e-15).all()
    # A reset: the day after a cut, drawdown 0 though the NAV is below its plain mark.
    resets = 1 + np.flatnonzero((multiplier[:-1] == 0.0) & (drawdown[1:] == 0.0) & (plain[1:] > 0))
    until = resets[0] if resets.size else len(nav)
    np.testing.assert_array_equal(drawdown[:until], plain[:until])
    # A reset comes exactly after `cooloff` decisions at zero.
    for reset in resets:
        assert reset >= cooloff and (multiplier[reset - cooloff : reset] == 0.0).all()


@given(nav=nav_paths())
@settings(max_examples=100, deadline=None)
def test_never_is_the_spec_rule_and_never_comes_back(nav: np.ndarray) -> None:
    config = StrategyConfig(drawdown_reentry="never")
    drawdown, multiplier = drawdown_rule(nav, config, initial=1e6)

    np.testing.assert_array_equal(drawdown, drawdown_from_nav(nav, initial=1e6))
    zero = np.flatnonzero(multiplier == 0.0)
    if zero.size:  # in cash the NAV stays flat: once cut, cut for good
        flat = np.r_[nav[: zero[0] + 1], np.full(40, nav[zero[0]])]
        _, after = drawdown_rule(flat, config, initial=1e6)
        assert (after[zero[0] :] == 0.0).all()


@given(
    nav=nav_paths(),
    signs=arrays(np.float64, (300, 4), elements=st.sampled_from([-1.0, 0.0, 1.0])),
    vols=arrays(np.float64, 300, elements=st.floats(0.01, 2.0)),
)
@settings(max_examples=100, deadline=None)
def test_targets_under_the_rule_respect_cap_gross_and_cut(
    nav: np.ndarray, signs: np.ndarray, vols: np.ndarray
) -> None:
    config = StrategyConfig(drawdown_cooloff=5, asset_cap=0.3)
    n_dates = len(nav)
    raw = signs[:n_dates]
    gross = np.abs(raw).sum(axis=1, keepdims=True)
    raw = np.divide(raw, gross, out=np.zeros_like(raw), where=gross > 0)
    index = pd.bdate_range("2020-01-01", periods=n_dates)
    weights = pd.DataFrame(raw, index=index, columns=list("ABCD"))
    drawdown, multiplier = drawdown_rule(nav, config)

    targets = portfolio_targets(weights, pd.Series(vols[:n_dates], index=index), drawdown, config)

    exposure = targets.exposure.to_numpy()
    assert (np.abs(exposure) <= config.asset_cap + 1e-12).all()
    assert (np.abs(exposure).sum(axis=1) <= config.gross_limit + 1e-12).all()
    assert (exposure[multiplier == 0.0] == 0.0).all()
    np.testing.assert_array_equal(targets.drawdown_multiplier, multiplier)


def test_reentry_parameters_are_checked() -> None:
    with pytest.raises(ConfigError, match="drawdown_reentry"):
        StrategyConfig.from_mapping({"drawdown_reentry": "sometimes"})
    with pytest.raises(ConfigError, match="drawdown_cooloff"):
        StrategyConfig.from_mapping({"drawdown_cooloff": 0})
    assert StrategyConfig.from_toml(StrategyConfig().to_toml()) == StrategyConfig()


def test_trend_backtest_reenters_after_the_cooloff_where_the_spec_rule_stays_in_cash() -> None:
    # 1999-2004 of the real sample: the defaults cut to zero in January 2003.
    prices = load_sp500_dataset().astype(float).loc["1999-01-01":"2004-12-31"]
    reentry = trend_backtest(prices, StrategyConfig())
    spec = trend_backtest(prices, StrategyConfig(drawdown_reentry="never"))

    cut = spec.targets.drawdown_multiplier.to_numpy()
    first = int(np.flatnonzero(cut == 0.0)[0])
    assert (cut[first:] == 0.0).all()
    assert (spec.targets.exposure.iloc[first:].to_numpy() == 0.0).all()

    multiplier = reentry.targets.drawdown_multiplier.to_numpy()
    assert (multiplier[first : first + 63] == 0.0).all()
    assert multiplier[first + 63] > 0.0  # the 64th decision: the mark reset, back in
    assert np.abs(reentry.targets.exposure.iloc[first + 63 :].to_numpy()).sum(axis=1).max() > 0
    assert reentry.result.nav.iloc[-1] != spec.result.nav.iloc[-1]
