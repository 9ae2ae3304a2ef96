"""The composition root: the one place where Settings become a running application.

`build(settings)` returns an `App` that hands out the database engine, the Redis client, units of
work, vendor sources by name (with their credentials from the settings), the clock and the
registry of bus message handlers. Nothing is started until it is first asked for, so building an
App is free and `stocker --help` never touches a database. Shells (CLI commands, workers) receive
an App; tests build their own from their own settings and swap the clock or a source here, never
by patching a module. Heavy imports (SQLAlchemy, redis, vendor SDKs) happen inside the methods.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING, Any

from stocker.config import Credentials, Settings
from stocker.core.clock import Clock, SystemClock

if TYPE_CHECKING:
    import redis
    from sqlalchemy import Engine

    from stocker.bus.handlers import HandlerRegistry
    from stocker.bus.operations import BusOperations
    from stocker.sources.base import LiveBarFeed, Source
    from stocker.store.embedded import EmbeddedServices
    from stocker.store.migrate import Schema
    from stocker.store.uow import SqlUnitOfWork
    from stocker.trading.brokers.base import Broker


@dataclass
class App:
    """Stocker's adapters, built lazily from one `Settings` (see the module docstring)."""

    settings: Settings
    clock: Clock = field(default_factory=SystemClock)

    @cached_property
    def database_url(self) -> str:
        """The PostgreSQL URL in use (starting the embedded server when none is configured)."""
        from stocker.store.db import database_url

        return database_url(self.settings)

    @property
    def redacted_database_url(self) -> str:
        """The database URL with any password hidden, for output and logs."""
        from stocker.store.db import redacted

        return redacted(self.database_url)

    @cached_property
    def engine(self) -> Engine:
        from stocker.store.db import make_engine

        return make_engine(self.database_url)

    @cached_property
    def redis_url(self) -> str:
        from stocker.store.embedded import ensure_redis

        return self.settings.redis_url or ensure_redis(self.settings.home)

    @cached_property
    def redis(self) -> redis.Redis:
        import redis as redis_module

        return redis_module.Redis.from_url(self.redis_url, health_check_interval=30)

    def uow(self) -> SqlUnitOfWork:
        """A new unit of work (one transaction) on this application's database."""
        from stocker.store.uow import SqlUnitOfWork

        return SqlUnitOfWork(self.engine)

    def credentials(self, vendor: str) -> Credentials | None:
        """The key pair configured for `vendor` (``alpaca`` or ``kite``), if any."""
        pairs = {
            "alpaca": (self.settings.alpaca_api_key, self.settings.alpaca_secret_key),
            "kite": (self.settings.kite_api_key, self.settings.kite_access_token),
        }
        key, secret = pairs.get(vendor, (None, None))
        if key is None or secret is None:
            return None
        return Credentials(key.get_secret_value(), secret.get_secret_value())

    def source(self, name: str, **options: Any) -> Source:
        """The market-data source registered as `name`, with its credentials and `options`."""
        from stocker.sources import registry

        return registry.get_source(name, credentials=self.credentials, **options)

    def live_feed(self, name: str = "alpaca", **options: Any) -> LiveBarFeed:
        """A live bar feed (today only Alpaca's stream), with its credentials."""
        from stocker.sources import registry

        return registry.get_live_feed(name, credentials=self.credentials, **options)

    @cached_property
    def broker(self) -> Broker:
        """The broker orders go to: the paper broker (fills at the session's open), or Alpaca
        when STOCKER_BROKER=alpaca (orders then go out through `stocker.trading.live_broker`)."""
        if self.settings.broker == "alpaca":
            from stocker.brokers.alpaca import alpaca_broker

            return alpaca_broker(self.credentials("alpaca"), self.settings)
        from stocker.trading.brokers.paper import PaperBroker

        return PaperBroker()

    @cached_property
    def handlers(self) -> HandlerRegistry:
        """The bus message handlers, by message type (each runs as `handler(message, uow)`)."""
        from stocker.bus.handlers import HandlerRegistry

        return HandlerRegistry()

    def bus(self) -> BusOperations:
        """The relay, stream status and dead letters of this application's bus."""
        from stocker.bus.operations import BusOperations

        return BusOperations(self.uow, self.redis, self.settings.bus())

    def schema(self) -> Schema:
        """Migrations of this application's database (`stocker db ...`)."""
        from stocker.store.migrate import Schema

        return Schema(self.engine)

    def embedded_services(self) -> EmbeddedServices:
        """The embedded PostgreSQL and Redis under `settings.home` (`stocker services ...`)."""
        from stocker.store.embedded import EmbeddedServices

        return EmbeddedServices(self.settings.home)

    def describe_failure(self, exc: BaseException) -> str | None:
        """One actionable line for an infrastructure failure (database down or not migrated,
        Redis down), or None when `exc` is not one; shells print it instead of a traceback."""
        import sys

        if "sqlalchemy" in sys.modules:
            from stocker.store.db import redacted
            from stocker.store.failures import describe_database_failure

            configured = self.__dict__.get("database_url") or self.settings.database_url
            url = redacted(configured) if configured else "the embedded server"
            found = describe_database_failure(exc, url)
            if found:
                return found
        if "redis" in sys.modules:
            import redis as redis_module

            if isinstance(exc, redis_module.ConnectionError | redis_module.TimeoutError):
                url = self.__dict__.get("redis_url") or self.settings.redis_url or "embedded"
                return (
                    f"cannot reach Redis at {_hide_password(url)}: {exc}; start it, or unset "
                    "STOCKER_REDIS_URL to use the embedded one"
                )
        return None

    def close(self) -> None:
        """Release connections (the embedded servers keep running for the next command)."""
        if "engine" in self.__dict__:
            self.engine.dispose()
        if "redis" in self.__dict__:
            self.redis.close()


def build(settings: Settings | None = None, *, clock: Clock | None = None) -> App:
    """The application for `settings` (default: read from the environment)."""
    return App(settings=settings or Settings(), clock=clock or SystemClock())


def _hide_password(url: str) -> str:
    scheme, separator, rest = url.partition("://")
    if not separator or "@" not in rest:
        return url
    credentials, _, host = rest.rpartition("@")
    user = credentials.split(":", 1)[0]
    return f"{scheme}://{user}:***@{host}" if ":" in credentials else url
