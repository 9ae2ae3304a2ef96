"""What a new user's hostile or careless requests get: problem+json naming the field and the
reason with the right 4xx — for routing errors (unknown path, wrong method, OPTIONS), HEAD,
malformed JSON, dates in another format, a range that ends before it starts, characters no
ticker has, and a resource the path names that does not exist."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from .conftest import bearer

pytestmark = pytest.mark.integration
PROBLEM = "application/problem+json"


def _problem(answer: Any, status: int, field: str | None) -> dict[str, Any]:
    assert answer.status_code == status, answer.text
    assert answer.headers["content-type"] == PROBLEM, answer.headers
    body = answer.json()
    assert body["status"] == status and body["field"] == field, body
    assert "Traceback" not in answer.text
    return dict(body)


def test_routing_errors_are_problems_with_the_allowed_methods(
    client: TestClient, keys: dict[str, str]
) -> None:
    read = bearer(keys["read"])

    unknown = _problem(client.get("/api/v1/nothing", headers=read), 404, "path")
    wrong = client.delete("/api/v1/instruments", headers=read)
    options = client.options("/api/v1/instruments", headers={"Origin": "http://elsewhere.test"})

    assert unknown["detail"] == "path: /api/v1/nothing is not an endpoint of this API"
    body = _problem(wrong, 405, "method")
    assert body["detail"] == "method: DELETE is not allowed here; allowed: GET"
    assert body["title"] == "Method Not Allowed"
    assert wrong.headers["allow"] == "GET"
    _problem(options, 405, "method")
    assert "access-control-allow-origin" not in options.headers  # CORS is off by default


def test_head_answers_like_get_without_a_body_and_needs_the_same_key(
    client: TestClient, keys: dict[str, str]
) -> None:
    read = bearer(keys["read"])

    got = client.get("/api/v1/instruments", headers=read)
    head = client.head("/api/v1/instruments", headers=read)
    refused = client.head("/api/v1/instruments")

    assert head.status_code == got.status_code == 200
    assert head.content == b"" and head.headers["content-type"] == got.headers["content-type"]
    assert refused.status_code == 401 and refused.content == b""


def test_malformed_json_names_the_body_and_where_it_breaks(
    client: TestClient, keys: dict[str, str]
) -> None:
    answer = client.post(
        "/api/v1/screener/run",
        content=b'{"expression": ',
        headers=bearer(keys["read"]) | {"Content-Type": "application/json"},
    )

    body = _problem(answer, 422, "body")
    assert body["detail"].startswith("body: malformed JSON at character 15"), body


def test_a_date_in_another_format_says_which_format_is_expected(
    client: TestClient, keys: dict[str, str]
) -> None:
    answer = client.get(
        "/api/v1/prices", params={"start": "03/04/2022"}, headers=bearer(keys["read"])
    )

    body = _problem(answer, 422, "query.start")
    assert "expected YYYY-MM-DD" in body["detail"] and "'03/04/2022'" in body["detail"]


def test_a_range_ending_before_it_starts_is_refused_naming_its_end(
    client: TestClient, keys: dict[str, str]
) -> None:
    prices = client.get(
        "/api/v1/prices",
        params={"start": "2022-06-01", "end": "2022-01-01"},
        headers=bearer(keys["read"]),
    )
    backtest = client.post(
        "/api/v1/backtests",
        json={"portfolio": "p", "start": "2022-06-01", "end": "2022-01-01"},
        headers=bearer(keys["research"]),
    )

    body = _problem(prices, 422, "query.end")
    assert body["detail"] == "query.end: 2022-01-01 is before start 2022-06-01"
    body = _problem(backtest, 422, "body.end")
    assert body["detail"] == "body.end: 2022-01-01 is before start 2022-06-01"


@pytest.mark.parametrize("symbol", ["AA\u200bPL", "ÄPPLE", "AAPL;--", "AAPL\u00a0"])
def test_a_symbol_filter_with_characters_no_ticker_has_is_refused(
    client: TestClient, keys: dict[str, str], symbol: str
) -> None:
    answer = client.get("/api/v1/prices", params={"symbol": symbol}, headers=bearer(keys["read"]))

    body = _problem(answer, 422, "query.symbol")
    assert repr(symbol) in body["detail"], body


def test_a_resource_the_path_names_that_does_not_exist_is_404_naming_it(
    client: TestClient, keys: dict[str, str]
) -> None:
    read = bearer(keys["read"])

    portfolio = _problem(client.get("/api/v1/portfolios/nope", headers=read), 404, "portfolio")
    instrument = _problem(client.get("/api/v1/instruments/NOPE", headers=read), 404, "symbol")
    run = _problem(client.get("/api/v1/backtests/999999", headers=read), 404, "run_id")
    order = _problem(
        client.get("/api/v1/trading/orders/not-a-uuid/explain", headers=read), 400, "order_id"
    )

    assert portfolio["detail"].startswith("portfolio: 'nope' does not exist")
    assert instrument["detail"] == "symbol 'NOPE': not found"
    assert run["detail"] == "run_id 999999: not found"
    assert "not a UUID" in order["detail"]


def test_a_body_naming_an_unknown_group_is_refused_naming_it(
    client: TestClient, keys: dict[str, str]
) -> None:
    answer = client.post(
        "/api/v1/portfolios",
        json={"code": "p1", "group": "nogroup", "method": "min_variance"},
        headers=bearer(keys["research"]),
    )

    body = _problem(answer, 400, "universe")
    assert "'nogroup' does not exist" in body["detail"]


@pytest.mark.parametrize(
    ("method", "path", "payload", "field"),
    [
        ("GET", "/api/v1/ledger/verify?portfolio=%E2%80%8B", None, "query.portfolio"),
        ("GET", "/api/v1/universes/%00", None, "path.name"),
        ("POST", "/api/v1/universes", {"name": "gr\u200boup", "symbols": ["AAPL"]}, "body.name"),
        (
            "POST",
            "/api/v1/portfolios",
            {"code": "p\u0000", "group": "g", "method": "min_variance"},
            "body.code",
        ),
    ],
)
def test_names_with_invisible_characters_are_refused_naming_the_field(
    client: TestClient,
    keys: dict[str, str],
    method: str,
    path: str,
    payload: dict[str, Any] | None,
    field: str,
) -> None:
    answer = client.request(method, path, json=payload, headers=bearer(keys["all"]))

    body = _problem(answer, 422, field)
    assert "which cannot be seen" in body["detail"], body
