"""`stocker api-key create|list|revoke` and `stocker serve --check`; CORS by setting."""

from __future__ import annotations

import json

from fastapi.testclient import TestClient
from typer.testing import CliRunner

from stocker.api.app import create_app
from stocker.bootstrap import App
from stocker.cli import app as cli

from .conftest import bearer


def _invoke(app: App, *args: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, list(args), obj=app, env={"COLUMNS": "200"})
    return result.exit_code, result.output


def test_api_key_commands_issue_a_working_key_list_it_without_secret_and_revoke_it(
    app: App,
) -> None:
    app.settings.api_key_cache_seconds = 0
    client = TestClient(create_app(app))

    code, created = _invoke(app, "api-key", "create", "ci", "--scope", "read", "--json")
    made = json.loads(created)
    works = client.get("/api/v1/instruments", headers=bearer(made["key"]))
    code_list, listed = _invoke(app, "api-key", "list", "--json")
    code_revoke, revoked = _invoke(app, "api-key", "revoke", made["key_id"])
    refused = client.get("/api/v1/instruments", headers=bearer(made["key"]))
    code_again, again = _invoke(app, "api-key", "revoke", made["key_id"])

    assert code == 0 and made["scopes"] == ["read"]
    assert works.status_code == 200
    assert code_list == 0 and made["key"] not in listed
    assert json.loads(listed)[0]["key_id"] == made["key_id"]
    assert code_revoke == 0 and "revoked" in revoked
    assert refused.status_code == 401
    assert code_again == 2 and "no live key" in again


def test_api_key_with_an_unknown_scope_is_refused_naming_it(app: App) -> None:
    code, output = _invoke(app, "api-key", "create", "ci", "--scope", "root")

    assert code == 2 and "root" in output and "scopes" in output


def test_serve_check_builds_the_application_on_a_migrated_database(app: App) -> None:
    code, output = _invoke(app, "serve", "--check")

    assert code == 0, output
    assert "API paths" in output


def test_cors_allows_only_the_configured_origins(app: App) -> None:
    app.settings.api_cors_origins = "https://desk.example"
    client = TestClient(create_app(app))
    preflight = {"Access-Control-Request-Method": "GET"}

    allowed = client.options(
        "/api/v1/instruments", headers={"Origin": "https://desk.example", **preflight}
    )
    other = client.options(
        "/api/v1/instruments", headers={"Origin": "https://evil.example", **preflight}
    )

    assert allowed.headers["access-control-allow-origin"] == "https://desk.example"
    assert "access-control-allow-origin" not in other.headers


def test_the_schema_documents_problems_security_and_examples(client: TestClient) -> None:
    schema = client.get("/openapi.json").json()

    operation = schema["paths"]["/api/v1/universes"]["post"]
    assert "application/problem+json" in operation["responses"]["422"]["content"]
    assert {"401", "403"} <= set(operation["responses"])
    assert operation["security"]
    assert schema["components"]["schemas"]["Instrument"]["properties"]["symbol"]["examples"]
    missing = [
        f"{method} {path}"
        for path, item in schema["paths"].items()
        for method, each in item.items()
        if not each.get("summary")
    ]
    assert missing == []
