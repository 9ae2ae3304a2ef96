"""The strategy file: spec defaults, TOML round trip, unknown keys refused."""

from __future__ import annotations

import pytest

from stocker.core.errors import ConfigError
from stocker.core.strategy.config import StrategyConfig


def test_defaults_are_the_spec_numbers() -> None:
    config = StrategyConfig()

    assert (config.lookback_days, config.ewma_decay, config.vol_seed_returns) == (126, 0.94, 20)
    assert (config.threshold, config.long_short, config.target_vol_annual) == (0.0, False, 0.12)
    assert (config.gross_limit, config.drawdown_halve, config.drawdown_zero) == (1.0, 0.10, 0.20)
    assert (config.asset_cap, config.min_trade_fraction) == (0.35, 0.005)


def test_toml_round_trip_and_partial_file_keeps_other_defaults() -> None:
    config = StrategyConfig.from_toml("[strategy]\nasset_cap = 0.25\nlong_short = true\n")

    assert config.asset_cap == 0.25 and config.long_short and config.lookback_days == 126
    assert StrategyConfig.from_toml(config.to_toml()) == config
    assert StrategyConfig.from_toml("lookback_days = 60\n").lookback_days == 60


@pytest.mark.parametrize(
    ("text", "named"),
    [
        ("[strategy]\nasset_capp = 0.2\n", "asset_capp"),
        ("ewma_decay = 1.5\n", "ewma_decay"),
        ("drawdown_halve = 0.3\ndrawdown_zero = 0.2\n", "drawdown_halve"),
        ("lookback_days = \n", "TOML"),
    ],
)
def test_bad_file_raises_config_error_naming_the_problem(text: str, named: str) -> None:
    with pytest.raises(ConfigError, match=named):
        StrategyConfig.from_toml(text)


def test_config_is_frozen() -> None:
    with pytest.raises(ValueError, match="frozen"):
        StrategyConfig().asset_cap = 0.5
