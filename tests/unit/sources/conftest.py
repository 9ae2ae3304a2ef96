"""Fixtures for the source adapters' tests: a loopback vendor server per test."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

# The suite runs with --import-mode=importlib, which puts no test directory on sys.path; the
# tests here share `vendor_loopback` (server, replies, payload fixtures), so expose this one.
sys.path.insert(0, str(Path(__file__).resolve().parent))


@pytest.fixture
def loopback() -> Iterator[Any]:
    """A started loopback vendor server (`vendor_loopback.LoopbackServer`), stopped after."""
    from vendor_loopback import LoopbackServer

    server = LoopbackServer()
    server.start()
    yield server
    server.stop()
