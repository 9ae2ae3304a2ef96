"""Keys and scopes over every route: the routes are enumerated from the application, so a new
mutating endpoint without a scope (or answering without a key) fails here."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.routing import APIRoute, iter_route_contexts
from fastapi.testclient import TestClient
from sqlalchemy import Engine, text

from stocker.api.app import create_app
from stocker.api.auth import SCOPES, ScopeGuard, create_key, list_keys, revoke_key
from stocker.bootstrap import App

from .conftest import bearer

MUTATING = {"POST", "PUT", "PATCH", "DELETE"}
SIGNED_NOT_KEYED = {("POST", "/api/v1/broker/fills")}
"""The broker's webhook authenticates by HMAC signature (test_webhook.py), not by key."""


def _guards(dependant: Any) -> list[str]:
    found = []
    for sub in dependant.dependencies:
        if isinstance(sub.call, ScopeGuard):
            found.append(sub.call.scope)
        found += _guards(sub)
    return found


def api_routes(api: FastAPI) -> list[tuple[str, str, list[str]]]:
    """(method, path, scopes required) of every API operation."""
    routes = []
    for context in iter_route_contexts(api.routes):
        route = context.original_route
        if not isinstance(route, APIRoute) or not str(context.path).startswith("/api/v1"):
            continue
        for method in sorted(route.methods):
            routes.append((method, str(context.path), _guards(route.dependant)))
    return routes


def _concrete(path: str) -> str:
    return (
        path.replace("{run_id}", "1")
        .replace("{entry_id}", "1")
        .replace("{order_id}", "00000000-0000-0000-0000-000000000000")
        .replace("{job_id}", "x")
        .replace("{code}", "x")
        .replace("{name}", "x")
        .replace("{symbol}", "AAPL")
    )


def test_every_api_route_declares_exactly_one_scope_and_mutations_need_more_than_read(
    api_app: FastAPI,
) -> None:
    routes = api_routes(api_app)

    assert len(routes) > 50
    for method, path, scopes in routes:
        if (method, path) in SIGNED_NOT_KEYED:
            assert scopes == [], path
            continue
        assert len(scopes) == 1, f"{method} {path} has scopes {scopes}"
        if method in MUTATING and not path.startswith("/api/v1/screener/run"):
            assert scopes[0] != "read", f"{method} {path} mutates with the read scope"


def test_every_mutating_route_without_a_key_is_401_and_with_a_wrong_scope_is_403(
    api_app: FastAPI, client: TestClient, app: App
) -> None:
    others = {
        scope: create_key(
            app, f"all but {scope}", [s for s in SCOPES if s not in (scope, "admin")]
        )[0]
        for scope in SCOPES
    }
    checked = 0
    for method, path, scopes in api_routes(api_app):
        if method not in MUTATING or (method, path) in SIGNED_NOT_KEYED:
            continue
        url = _concrete(path)
        anonymous = client.request(method, url)
        wrong = client.request(method, url, headers=bearer(others[scopes[0]]))

        assert anonymous.status_code == 401, f"{method} {path}: {anonymous.text}"
        assert anonymous.headers["content-type"] == "application/problem+json"
        assert anonymous.headers["www-authenticate"] == "Bearer"
        assert wrong.status_code == 403, f"{method} {path}: {wrong.text}"
        assert scopes[0] in wrong.json()["detail"]
        checked += 1
    assert checked >= 17


def test_reads_without_a_key_are_401_unless_anonymous_reads_are_enabled(
    app: App, api_app: FastAPI, client: TestClient
) -> None:
    refused = client.get("/api/v1/instruments")
    app.settings.api_anonymous_reads = True
    allowed = client.get("/api/v1/instruments")
    still_refused = client.post("/api/v1/universes", json={"name": "x"})

    assert refused.status_code == 401
    assert allowed.status_code == 200
    assert still_refused.status_code == 401


def test_a_key_is_accepted_as_bearer_header_and_cookie_and_refused_once_revoked(
    app: App,
) -> None:
    app.settings.api_key_cache_seconds = 0
    api = create_app(app)
    client = TestClient(api)
    key, info = create_key(app, "reader", ["read"])

    answers = [
        client.get("/api/v1/instruments", headers={"Authorization": f"Bearer {key}"}),
        client.get("/api/v1/instruments", headers={"X-API-Key": key}),
        client.get("/api/v1/instruments", cookies={"stocker_key": key}),
    ]
    revoke_key(app, info.key_id)
    after = client.get("/api/v1/instruments", headers=bearer(key))

    assert [answer.status_code for answer in answers] == [200, 200, 200]
    assert after.status_code == 401
    assert [item.revoked_at is not None for item in list_keys(app)] == [True]


def test_a_wrong_secret_for_a_known_key_id_and_a_malformed_key_are_401(
    app: App, client: TestClient
) -> None:
    key, _ = create_key(app, "reader", ["read"])
    forged = key[:-4] + ("AAAA" if not key.endswith("AAAA") else "BBBB")

    for presented in (forged, "stk_nonsense", key + "x"):
        assert client.get("/api/v1/instruments", headers=bearer(presented)).status_code == 401


def test_keys_are_stored_only_as_hashes(app: App, engine: Engine) -> None:
    key, info = create_key(app, "reader", ["read", "research"])

    with engine.connect() as conn:
        stored = conn.execute(text("SELECT * FROM api_keys")).mappings().one()
    secret = key.rsplit("_", 1)[1]
    assert secret not in str(dict(stored)) and key not in str(dict(stored))
    assert stored["key_id"] == info.key_id and len(stored["key_hash"]) == 64
    assert list(stored["scopes"]) == ["read", "research"]


def test_an_admin_key_passes_every_scope(app: App, client: TestClient) -> None:
    admin, _ = create_key(app, "admin", ["admin"])

    answer = client.post(
        "/api/v1/universes", json={"name": "adm", "symbols": []}, headers=bearer(admin)
    )

    assert answer.status_code == 201, answer.text


def test_cors_is_off_by_default(client: TestClient) -> None:
    answer = client.options(
        "/api/v1/instruments",
        headers={"Origin": "https://evil.example", "Access-Control-Request-Method": "GET"},
    )

    assert "access-control-allow-origin" not in answer.headers
