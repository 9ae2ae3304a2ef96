"""The API over a real database: an application, a client, and a key per scope."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from pydantic import SecretStr

from stocker.api.app import create_app
from stocker.api.auth import SCOPES, create_key
from stocker.bootstrap import App

WEBHOOK_SECRET = "test-webhook-secret"


@pytest.fixture
def api_app(app: App) -> FastAPI:
    app.settings.api_webhook_secret = SecretStr(WEBHOOK_SECRET)
    return create_app(app)


@pytest.fixture
def client(api_app: FastAPI) -> Iterator[TestClient]:
    with TestClient(api_app, raise_server_exceptions=False) as test_client:
        yield test_client


@pytest.fixture
def keys(app: App) -> dict[str, str]:
    """A key per scope, and `all` (read, research and trade, not admin)."""
    made = {scope: create_key(app, f"test {scope}", [scope])[0] for scope in SCOPES}
    made["all"] = create_key(app, "test all", ["read", "research", "trade"])[0]
    return made


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}
