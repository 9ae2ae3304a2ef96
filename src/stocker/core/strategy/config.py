"""The trend strategy's parameters: one frozen model whose defaults are the spec's numbers.

A strategy file is TOML. Its keys sit at the top level or under a ``[strategy]`` table; unknown
keys are refused so a misspelt parameter never silently falls back to its default. Reading the
file is the caller's job (the core touches no file system): pass its text to `from_toml`.
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator
from pydantic import ValidationError as PydanticValidationError

from stocker.core.errors import ConfigError


class StrategyConfig(BaseModel):
    """Every number of the trend strategy (issue 8, items 1–6), with the spec's defaults."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    lookback_days: int = Field(default=126, ge=1, description="sessions in the lookback return")
    ewma_decay: float = Field(default=0.94, gt=0.0, lt=1.0, description="λ of the EWMA variance")
    vol_seed_returns: int = Field(
        default=20, ge=1, description="returns averaged to seed the variance"
    )
    periods_per_year: int = Field(default=252, ge=1, description="sessions per year, to annualize")
    threshold: float = Field(
        default=0.0, ge=0.0, description="lookback return needed for a direction"
    )
    long_short: bool = Field(default=False, description="allow direction −1")
    target_vol_annual: float = Field(
        default=0.12, gt=0.0, description="portfolio volatility target"
    )
    gross_limit: float = Field(
        default=1.0, gt=0.0, description="Σ|exposure| allowed, fraction of NAV"
    )
    drawdown_halve: float = Field(default=0.10, gt=0.0, lt=1.0, description="k halved beyond this")
    drawdown_zero: float = Field(default=0.20, gt=0.0, le=1.0, description="k zero beyond this")
    drawdown_reentry: Literal["cooloff", "never"] = Field(
        default="cooloff",
        description="after a cut to zero: re-enter after a cool-off, or never (the spec's rule)",
    )
    drawdown_cooloff: int = Field(
        default=63,
        ge=1,
        description="sessions at zero before the high-water mark resets to the NAV (cooloff)",
    )
    asset_cap: float = Field(default=0.35, gt=0.0, description="|exposure| allowed per asset")
    min_trade_fraction: float = Field(
        default=0.005, ge=0.0, lt=1.0, description="smallest trade / NAV"
    )

    @model_validator(mode="after")
    def _drawdown_levels_ordered(self) -> StrategyConfig:
        if self.drawdown_halve >= self.drawdown_zero:
            raise ValueError(
                f"drawdown_halve ({self.drawdown_halve}) must be below drawdown_zero "
                f"({self.drawdown_zero})"
            )
        return self

    @classmethod
    def from_mapping(cls, values: Mapping[str, Any]) -> StrategyConfig:
        """Build from a parsed mapping (top-level keys or a ``strategy`` table)."""
        body = values.get("strategy", values) if len(values) == 1 else values
        if not isinstance(body, Mapping):
            raise ConfigError(f"strategy config must be a table of parameters; got {body!r}")
        try:
            return cls.model_validate(dict(body))
        except PydanticValidationError as error:
            problems = "; ".join(
                f"{'.'.join(str(part) for part in item['loc']) or 'config'}: {item['msg']}"
                f" (got {item.get('input')!r})"
                for item in error.errors()
            )
            raise ConfigError(f"invalid strategy config: {problems}") from error

    @classmethod
    def from_toml(cls, text: str) -> StrategyConfig:
        """Parse the text of a strategy file."""
        try:
            values = tomllib.loads(text)
        except tomllib.TOMLDecodeError as error:
            raise ConfigError(f"strategy file is not valid TOML: {error}") from error
        return cls.from_mapping(values)

    def to_toml(self) -> str:
        """The config as a strategy file, every parameter written out."""
        lines = ["[strategy]"]
        for name, value in self.model_dump().items():
            text = str(value).lower() if isinstance(value, bool) else repr(value)
            lines.append(f"{name} = {text}")
        return "\n".join(lines) + "\n"
