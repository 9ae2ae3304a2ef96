"""Portfolios over HTTP: both spellings of an expected-return mode store one name, and an
earlier date than stored rebalances is refused (400 naming them) unless replace_later deletes
them."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from stocker.store.uow import SqlUnitOfWork

from .conftest import bearer
from .market_data import backtest_market

DAY = backtest_market.END.isoformat()
EARLIER = backtest_market.DATES[-60].date().isoformat()


@pytest.fixture
def market(uow: SqlUnitOfWork, engine: Engine) -> None:
    backtest_market.load_market(uow, engine)


@pytest.mark.parametrize(("given", "stored"), [("historical_mean", "historical"), ("ewma", "ewma")])
def test_create_and_optimize_accept_both_spellings_of_a_mode(
    market: None, client: TestClient, keys: dict[str, str], given: str, stored: str
) -> None:
    write, read = bearer(keys["research"]), bearer(keys["read"])
    body = {"code": "m", "group": "four", "method": "max_sharpe", "expected_returns": given}

    made = client.post("/api/v1/portfolios", json=body, headers=write)
    optimized = client.post(
        "/api/v1/portfolios/m/optimize",
        json={"date": DAY, "expected_returns": "ewma_mean"},
        headers=write,
    )
    shown = client.get("/api/v1/portfolios/m", headers=read)

    assert made.status_code == 201, made.text
    assert made.json()["expected_return_mode"] == stored
    assert optimized.status_code == 200, optimized.text
    assert optimized.json()["expected_return_mode"] == "ewma"
    assert shown.json()["expected_return_mode"] == stored


def test_an_earlier_date_with_a_turnover_limit_is_400_unless_replace_later(
    market: None, client: TestClient, keys: dict[str, str]
) -> None:
    write, read = bearer(keys["research"]), bearer(keys["read"])
    body = {
        "code": "slow",
        "group": "four",
        "method": "min_variance",
        "constraints": {"max_weight": 0.6, "turnover_limit": 0.1},
    }
    assert client.post("/api/v1/portfolios", json=body, headers=write).status_code == 201
    later = client.post("/api/v1/portfolios/slow/optimize", json={"date": DAY}, headers=write)
    assert later.status_code == 200, later.text

    refused = client.post("/api/v1/portfolios/slow/optimize", json={"date": EARLIER}, headers=write)
    replaced = client.post(
        "/api/v1/portfolios/slow/optimize",
        json={"date": EARLIER, "replace_later": True},
        headers=write,
    )
    shown = client.get("/api/v1/portfolios/slow", headers=read).json()

    assert refused.status_code == 400, refused.text
    assert f"rebalance(s) after {EARLIER} are stored ({DAY})" in refused.json()["detail"]
    assert replaced.status_code == 200, replaced.text
    assert replaced.json()["deleted_later"] == [DAY]
    assert shown["rebalance_dates"] == [EARLIER]
