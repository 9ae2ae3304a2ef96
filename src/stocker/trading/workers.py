"""Run the pipeline's stages as bus consumers (one group per stage) until asked to stop."""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Any

from stocker.core.errors import ConfigError
from stocker.trading.stages import GROUPS

if TYPE_CHECKING:
    from stocker.bus.handlers import HandlerRegistry
    from stocker.config import BusSettings
    from stocker.trading.days import UowFactory


def run_workers(
    uow_factory: UowFactory,
    redis_client: Any,
    bus_settings: BusSettings,
    registry: HandlerRegistry,
    stop: threading.Event,
    *,
    stage: str | None = None,
    name: str = "worker",
) -> list[str]:
    """One consumer thread per registered (stream, stage group); returns their names when
    ``stop`` is set and they have ended."""
    from stocker.bus.consumer import Consumer

    if stage is not None and stage not in GROUPS:
        raise ConfigError(f"unknown stage {stage!r}; expected one of {', '.join(GROUPS)}")
    consumers = [
        Consumer(
            uow_factory,
            redis_client,
            bus_settings,
            registration.stream,
            registration.group,
            f"{name}-{registration.group}-{registration.stream}",
            registration.handler,
            registration.batch,
        )
        for registration in registry.registrations()
        if stage is None or registration.group == stage
    ]
    threads = [
        threading.Thread(target=consumer.run, args=(stop,), name=consumer.name, daemon=True)
        for consumer in consumers
    ]
    for consumer in consumers:
        consumer.ensure_group()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return [consumer.name for consumer in consumers]
