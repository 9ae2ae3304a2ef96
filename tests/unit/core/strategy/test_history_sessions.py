"""How much history the live engine reads: the lookback or the forgotten EWMA seed, whichever
is longer, recomputed here from the stated rule (λⁿ below 1e-24, seeded on both sides)."""

from __future__ import annotations

import math

import pytest

from stocker.core.covariance import annualize_volatility
from stocker.core.strategy.config import StrategyConfig
from stocker.core.strategy.signals import history_sessions


def test_default_config_reads_the_forgotten_window_with_its_seed() -> None:
    config = StrategyConfig()
    # λ = 0.94: ⌈log(1e-24) / log(0.94)⌉ = ⌈893.1⌉ = 894 sessions, plus the seeds on both sides
    assert math.ceil(math.log(1e-24) / math.log(0.94)) == 894
    assert history_sessions(config) == 894 + 2 * config.vol_seed_returns == 934


@pytest.mark.parametrize(
    ("decay", "seed", "lookback"), [(0.5, 1, 10), (0.9, 20, 60), (0.99, 5, 126), (0.5, 2, 200)]
)
def test_history_is_the_longer_of_lookback_and_seeded_window(
    decay: float, seed: int, lookback: int
) -> None:
    config = StrategyConfig(ewma_decay=decay, vol_seed_returns=seed, lookback_days=lookback)
    n = 0
    while decay**n >= 1e-24:
        n += 1
    assert history_sessions(config) == max(lookback + 1, seed + n + seed)


def test_annualize_volatility_floors_negative_variance_at_zero() -> None:
    assert annualize_volatility(0.0004, 252) == pytest.approx(0.02 * math.sqrt(252))
    assert annualize_volatility(0.01, 12) == pytest.approx(0.1 * math.sqrt(12))
    assert annualize_volatility(-1e-12, 252) == 0.0
    assert annualize_volatility(0.0, 252) == 0.0
