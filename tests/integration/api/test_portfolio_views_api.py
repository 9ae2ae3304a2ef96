"""Black–Litterman portfolios over HTTP: `POST /portfolios` takes views, their confidences, τ
and the factor-implied spread in its constraints, stores them as the CLI does, refuses what the
CLI refuses with the same message, and documents them in the OpenAPI schema with an example."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine
from typer.testing import CliRunner

from stocker.bootstrap import App
from stocker.cli import app as cli
from stocker.store.uow import SqlUnitOfWork

from .conftest import bearer
from .market_data import backtest_market

DAY = backtest_market.END.isoformat()
CAPS = {"AAA": 900.0, "BBB": 500.0, "CCC": 300.0, "DDD": 200.0}


@pytest.fixture
def market(uow: SqlUnitOfWork, engine: Engine) -> None:
    backtest_market.load_market(uow, engine)
    backtest_market.store_market_caps(engine, backtest_market.DATES[-30].date(), CAPS)


def _body(code: str, mode: str, **constraints: Any) -> dict[str, Any]:
    return {
        "code": code,
        "group": "four",
        "method": "max_sharpe",
        "expected_returns": mode,
        "constraints": {"max_weight": 0.6, **constraints},
    }


def test_a_black_litterman_portfolio_is_created_stored_and_optimized_over_http(
    market: None, client: TestClient, keys: dict[str, str]
) -> None:
    write, read = bearer(keys["research"]), bearer(keys["read"])
    views = {"DDD": 0.30, "AAA": -0.05}
    body = _body("bl", "black_litterman", views=views, view_confidences={"DDD": 0.9, "AAA": 0.4})
    body["constraints"]["tau"] = 0.1

    made = client.post("/api/v1/portfolios", json=body, headers=write)
    stored = client.get("/api/v1/portfolios/bl/constraints", headers=read).json()
    optimized = client.post("/api/v1/portfolios/bl/optimize", json={"date": DAY}, headers=write)
    plain = client.post(
        "/api/v1/portfolios/bl/optimize",
        json={"date": DAY, "expected_returns": "historical"},
        headers=write,
    )

    assert made.status_code == 201, made.text
    assert made.json()["expected_return_mode"] == "black_litterman"
    assert made.json()["constraints"]["views"] == views
    assert stored["views"] == views and stored["view_confidences"] == {"DDD": 0.9, "AAA": 0.4}
    assert stored["tau"] == 0.1 and stored["score_spread"] == 0.05
    assert optimized.status_code == 200, optimized.text
    report = optimized.json()
    assert any("Black–Litterman with 2 view(s)" in note for note in report["notes"])
    assert plain.status_code == 200, plain.text
    assert _weight(report, "DDD") > _weight(plain.json(), "DDD") + 1e-3  # the view moved it


def _weight(report: dict[str, Any], symbol: str) -> float:
    return next(float(row["weight"]) for row in report["weights"] if row["symbol"] == symbol)


def _cli_error(app: App, arguments: list[str]) -> str:
    result = CliRunner().invoke(cli, arguments, obj=app, env={"COLUMNS": "200"})
    assert result.exit_code != 0, result.output
    return result.output


@pytest.mark.parametrize(
    ("mode", "constraints", "cli_options", "field"),
    [
        ("historical", {"views": {"AAA": 0.1}}, ["--view", "AAA=0.1"], "views"),
        ("black_litterman", {}, [], "views"),
        (
            "black_litterman",
            {"views": {"AAA": 0.1}, "view_confidences": {"BBB": 0.5}},
            ["--view", "AAA=0.1", "--view-confidence", "BBB=0.5"],
            "view_confidences",
        ),
        ("black_litterman", {"views": {"ZZZ": 0.1}}, ["--view", "ZZZ=0.1"], "views"),
    ],
)
def test_what_the_cli_refuses_is_400_with_the_cli_s_message(
    market: None,
    client: TestClient,
    keys: dict[str, str],
    app: App,
    mode: str,
    constraints: dict[str, Any],
    cli_options: list[str],
    field: str,
) -> None:
    answer = client.post(
        "/api/v1/portfolios", json=_body("x", mode, **constraints), headers=bearer(keys["research"])
    )
    options = ["--group", "four", "--method", "max_sharpe", "--max-weight", "0.6"]
    printed = _cli_error(
        app, ["portfolio", "create", "x", *options, "--expected-returns", mode, *cli_options]
    )

    assert answer.status_code == 400, answer.text
    assert answer.json()["field"] == field
    detail = answer.json()["detail"]
    assert " ".join(detail.split())[:60] in " ".join(printed.split())  # the same refusal
    listed = client.get("/api/v1/portfolios", headers=bearer(keys["read"])).json()["items"]
    assert [row["code"] for row in listed] == ["analytics"]  # nothing stored


@pytest.mark.parametrize(
    ("constraints", "field"),
    [
        ({"views": {"AAA": 0.1}, "tau": 0}, "tau"),
        ({"views": {"AAA": 0.1}, "view_confidences": {"AAA": 1.5}}, "view_confidences"),
        ({"views": {"A A": 0.1}}, "views"),
        ({"views": {"AAA": 0.1}, "score_spread": -0.1}, "score_spread"),
    ],
)
def test_out_of_range_settings_are_422_naming_the_field(
    market: None, client: TestClient, keys: dict[str, str], constraints: dict[str, Any], field: str
) -> None:
    answer = client.post(
        "/api/v1/portfolios",
        json=_body("x", "black_litterman", **constraints),
        headers=bearer(keys["research"]),
    )

    assert answer.status_code == 422, answer.text
    assert field in answer.json()["field"]


def test_the_openapi_schema_documents_the_views_with_an_example(client: TestClient) -> None:
    schema = client.get("/openapi.json").json()["components"]["schemas"]
    constraints = (
        schema["Constraints-Input"] if "Constraints-Input" in schema else schema["Constraints"]
    )
    example = schema["NewPortfolio"]["examples"][0]

    assert {"views", "view_confidences", "tau", "score_spread"} <= set(constraints["properties"])
    assert constraints["properties"]["tau"]["exclusiveMinimum"] == 0
    assert example["expected_returns"] == "black_litterman"
    assert example["constraints"]["views"] == {"AAPL": 0.12, "MSFT": 0.08}
