"""The handler registry: message type and consumer group → one handler."""

from __future__ import annotations

from typing import Any

import pytest

from stocker.bus.handlers import HandlerRegistry
from stocker.core.errors import ConfigError
from stocker.core.messages import MarketBar, OrderFilled


def _noop(message: Any, uow: Any) -> None:
    return None


def test_registry_when_handler_is_registered_finds_it_by_type_and_group() -> None:
    registry = HandlerRegistry()
    registry.register(MarketBar, "signals", _noop)

    assert registry.lookup(MarketBar, "signals") is _noop
    (registration,) = registry.registrations()
    assert (registration.message_type, registration.group) == (MarketBar, "signals")
    assert registration.stream == "market-bars"


def test_registry_when_nothing_is_registered_names_what_is() -> None:
    registry = HandlerRegistry()
    registry.register(MarketBar, "signals", _noop)

    with pytest.raises(ConfigError, match="no handler for OrderFilled in group 'ledger'"):
        registry.lookup(OrderFilled, "ledger")


def test_registry_when_registered_twice_or_not_a_message_refuses() -> None:
    registry = HandlerRegistry()
    registry.register(MarketBar, "signals", _noop)

    with pytest.raises(ConfigError, match="already has a handler"):
        registry.register(MarketBar, "signals", _noop)
    with pytest.raises(ConfigError, match="not a bus message"):
        registry.register(dict, "signals", _noop)  # type: ignore[type-var]
