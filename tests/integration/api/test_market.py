"""Market-data reads: filters, cursor pagination that neither skips nor repeats, 404s."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from stocker.store.uow import SqlUnitOfWork

from .conftest import bearer
from .market_data import backtest_market


@pytest.fixture
def market(uow: SqlUnitOfWork, engine: Engine) -> None:
    backtest_market.load_market(uow, engine)


def _all_pages(client: TestClient, path: str, key: str, **params: Any) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    cursor = None
    while True:
        query = {**params, **({"cursor": cursor} if cursor else {})}
        answer = client.get(path, params=query, headers=bearer(key))
        assert answer.status_code == 200, answer.text
        page = answer.json()
        rows += page["items"]
        cursor = page["next_cursor"]
        if cursor is None:
            return rows


def test_prices_when_paged_by_cursor_return_every_row_once_in_key_order(
    market: None, client: TestClient, keys: dict[str, str]
) -> None:
    rows = _all_pages(client, "/api/v1/prices", keys["read"], limit=137, symbol="AAA")

    assert len(rows) == len(backtest_market.DATES)
    dates = [row["date"] for row in rows]
    assert dates == sorted(dates) and len(set(dates)) == len(dates)


def test_prices_of_an_instrument_when_filtered_by_dates_keep_the_range(
    market: None, client: TestClient, keys: dict[str, str]
) -> None:
    answer = client.get(
        "/api/v1/instruments/BBB/prices",
        params={"start": "2023-02-01", "end": "2023-02-28"},
        headers=bearer(keys["read"]),
    )

    assert answer.status_code == 200, answer.text
    rows = answer.json()["items"]
    assert len(rows) == 20
    assert {row["symbol"] for row in rows} == {"BBB"}
    assert rows[0]["date"] == "2023-02-01" and rows[-1]["date"] == "2023-02-28"


def test_instruments_when_filtered_by_sector_list_only_that_sector(
    market: None, client: TestClient, keys: dict[str, str]
) -> None:
    answer = client.get(
        "/api/v1/instruments", params={"sector": "Technology"}, headers=bearer(keys["read"])
    )

    assert [row["symbol"] for row in answer.json()["items"]] == ["AAA", "BBB"]


def test_an_unknown_instrument_is_a_404_problem(
    market: None, client: TestClient, keys: dict[str, str]
) -> None:
    for path in ("/api/v1/instruments/ZZZ", "/api/v1/instruments/ZZZ/prices"):
        answer = client.get(path, headers=bearer(keys["read"]))

        assert answer.status_code == 404
        assert answer.headers["content-type"] == "application/problem+json"
        assert "ZZZ" in answer.json()["detail"]


def test_a_cursor_of_another_listing_or_garbage_is_a_400_naming_the_cursor(
    market: None, client: TestClient, keys: dict[str, str]
) -> None:
    first = client.get("/api/v1/prices", params={"limit": 2}, headers=bearer(keys["read"]))
    cursor = first.json()["next_cursor"]

    for path, bad in (("/api/v1/instruments", cursor), ("/api/v1/prices", "not-a-cursor")):
        answer = client.get(path, params={"cursor": bad}, headers=bearer(keys["read"]))

        assert answer.status_code == 400, answer.text
        assert answer.json()["field"] == "cursor"


def test_a_limit_out_of_range_is_a_422_naming_the_field(
    client: TestClient, keys: dict[str, str]
) -> None:
    answer = client.get("/api/v1/prices", params={"limit": 0}, headers=bearer(keys["read"]))

    body = answer.json()
    assert (
        answer.status_code == 422 and answer.headers["content-type"] == "application/problem+json"
    )
    assert body["errors"][0]["field"] == "query.limit"
    assert "greater than or equal to 1" in body["errors"][0]["reason"]


@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/corporate-actions",
        "/api/v1/metrics",
        "/api/v1/trading-universe",
        "/api/v1/breadth",
        "/api/v1/sentiment",
    ],
)
def test_other_market_listings_answer_a_page(
    path: str, market: None, client: TestClient, keys: dict[str, str]
) -> None:
    answer = client.get(path, headers=bearer(keys["read"]))

    assert answer.status_code == 200, answer.text
    assert answer.json() == {"items": [], "next_cursor": None}
