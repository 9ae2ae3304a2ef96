"""Universes and groups, the screener (injection included), portfolios, optimization, factors,
risk and the covariance cache over HTTP, on the lab's small synthetic market."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, text

from stocker.store.uow import SqlUnitOfWork

from .conftest import bearer
from .market_data import backtest_market

DAY = backtest_market.END.isoformat()
MOMENTUM = {"AAA": 1.5, "BBB": -0.3, "CCC": 0.7, "DDD": 0.1}


@pytest.fixture
def market(uow: SqlUnitOfWork, engine: Engine) -> None:
    backtest_market.load_market(uow, engine)
    with engine.begin() as conn:
        for symbol, momentum in MOMENTUM.items():
            conn.execute(
                text(
                    "INSERT INTO factor_exposures (symbol, as_of_date, momentum, composite_score) "
                    "VALUES (:s, :d, :m, :m)"
                ),
                {"s": symbol, "d": backtest_market.END, "m": momentum},
            )


def test_universe_lifecycle_create_add_remove_rename_delete(
    market: None, client: TestClient, keys: dict[str, str]
) -> None:
    write, read = bearer(keys["research"]), bearer(keys["read"])

    made = client.post(
        "/api/v1/universes",
        json={"name": "pair", "symbols": ["CCC", "AAA"], "ranked": True},
        headers=write,
    )
    added = client.post("/api/v1/universes/pair/members", json={"symbols": ["BBB"]}, headers=write)
    removed = client.delete("/api/v1/universes/pair/members/CCC", headers=write)
    members = client.get("/api/v1/universes/pair/members", headers=read).json()["items"]
    renamed = client.patch("/api/v1/universes/pair", json={"new_name": "duo"}, headers=write)
    deleted = client.delete("/api/v1/universes/duo", headers=write)
    gone = client.get("/api/v1/universes/duo", headers=read)

    assert made.status_code == 201 and made.json()["members"] == 2
    assert added.json()["added"] == 1 and removed.json()["removed"] == 1
    assert [(m["symbol"], m["position"]) for m in members] == [("AAA", 2), ("BBB", None)]
    assert renamed.json()["name"] == "duo"
    assert deleted.status_code == 204 and gone.status_code == 404


def test_universe_with_an_unknown_symbol_is_refused_naming_it_and_nothing_is_written(
    market: None, client: TestClient, keys: dict[str, str]
) -> None:
    answer = client.post(
        "/api/v1/universes",
        json={"name": "bad", "symbols": ["AAA", "NOPE"]},
        headers=bearer(keys["research"]),
    )
    after = client.get("/api/v1/universes/bad", headers=bearer(keys["read"]))

    assert answer.status_code == 400 and "NOPE" in answer.json()["detail"]
    assert after.status_code == 404


def test_screen_run_ranks_and_save_group_stores_the_ranked_members(
    market: None, client: TestClient, keys: dict[str, str]
) -> None:
    body = {"expression": "momentum > 0 order by momentum desc", "date": DAY}

    ran = client.post("/api/v1/screener/run", json=body, headers=bearer(keys["read"]))
    saved = client.post(
        "/api/v1/screener/groups",
        json={**body, "group": "winners"},
        headers=bearer(keys["research"]),
    )
    members = client.get("/api/v1/groups/winners/members", headers=bearer(keys["read"]))

    assert ran.status_code == 200, ran.text
    assert [row["symbol"] for row in ran.json()["rows"]] == ["AAA", "CCC", "DDD"]
    assert saved.status_code == 201 and saved.json()["group"] == "winners"
    assert [m["symbol"] for m in members.json()["items"]] == ["AAA", "CCC", "DDD"]


@pytest.mark.parametrize(
    "expression",
    [
        "momentum > 0; drop table instrument_info",
        "momentum > 0 or 1=1 --",
        "symbol = 'x' union select key_hash from api_keys",
        "pg_sleep(1) > 0",
        "momentum > 0 order by (select 1)",
        "sector = 'a'' or ''1''=''1'",
        "\x00",
        "name = $$x$$",
    ],
)
def test_screener_injection_attempts_are_4xx_and_leave_the_tables_alone(
    expression: str, market: None, client: TestClient, keys: dict[str, str], engine: Engine
) -> None:
    for path, extra in (("/api/v1/screener/run", {}), ("/api/v1/screener/groups", {"group": "g"})):
        answer = client.post(
            path, json={"expression": expression, "date": DAY, **extra}, headers=bearer(keys["all"])
        )

        assert 400 <= answer.status_code < 500, answer.text
        assert answer.headers["content-type"] == "application/problem+json"
    with engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM instrument_info")).scalar() == 5
        assert conn.execute(text("SELECT count(*) FROM instrument_universe")).scalar() == 1


def test_screener_fields_name_the_catalogue(client: TestClient, keys: dict[str, str]) -> None:
    fields = client.get("/api/v1/screener/fields", headers=bearer(keys["read"])).json()

    assert {"pe", "momentum", "sector"} <= {field["name"] for field in fields}


def test_portfolio_create_optimize_and_read_weights_and_constraints(
    market: None, client: TestClient, keys: dict[str, str]
) -> None:
    write, read = bearer(keys["research"]), bearer(keys["read"])
    constraints = {"max_weight": 0.5, "sector_caps": {"Technology": 0.4}}

    made = client.post(
        "/api/v1/portfolios",
        json={
            "code": "capped",
            "group": "four",
            "method": "min_variance",
            "constraints": constraints,
        },
        headers=write,
    )
    optimized = client.post("/api/v1/portfolios/capped/optimize", json={"date": DAY}, headers=write)
    weights = client.get("/api/v1/portfolios/capped/weights", headers=read).json()["items"]
    stored = client.get("/api/v1/portfolios/capped/constraints", headers=read).json()
    listed = client.get("/api/v1/portfolios", headers=read).json()["items"]

    assert made.status_code == 201, made.text
    assert optimized.status_code == 200, optimized.text
    assert sum(row["weight"] for row in weights) == pytest.approx(1.0)
    tech = sum(row["weight"] for row in weights if row["symbol"] in ("AAA", "BBB"))
    assert tech <= 0.4 + 1e-6
    assert stored["sector_caps"] == {"Technology": 0.4} and stored["max_weight"] == 0.5
    assert [row["code"] for row in listed] == ["analytics", "capped"]


def test_portfolio_with_an_unknown_method_is_400_naming_the_method(
    market: None, client: TestClient, keys: dict[str, str]
) -> None:
    answer = client.post(
        "/api/v1/portfolios",
        json={"code": "x", "group": "four", "method": "astrology"},
        headers=bearer(keys["research"]),
    )

    assert answer.status_code == 400 and answer.json()["field"] == "method"


def test_covariance_carries_an_etag_of_its_universe_hash_and_answers_304_when_held(
    market: None, client: TestClient, keys: dict[str, str]
) -> None:
    params = {"date": DAY, "universe": "four", "window_days": 60}

    first = client.get("/api/v1/covariance", params=params, headers=bearer(keys["read"]))
    again = client.get(
        "/api/v1/covariance",
        params=params,
        headers={**bearer(keys["read"]), "If-None-Match": first.headers["etag"]},
    )
    listed = client.get("/api/v1/covariances", headers=bearer(keys["read"])).json()["items"]

    body = first.json()
    assert first.status_code == 200, first.text
    assert first.headers["etag"].startswith(f'"{body["universe_hash"]}:')
    assert "max-age" in first.headers["cache-control"]
    assert len(body["matrix"]) == 4 and body["symbols"] == ["AAA", "BBB", "CCC", "DDD"]
    assert again.status_code == 304 and again.content == b""
    assert [row["universe_hash"] for row in listed] == [body["universe_hash"]]


def test_hrp_tree_of_a_universe_orders_every_member(
    market: None, client: TestClient, keys: dict[str, str]
) -> None:
    answer = client.get(
        "/api/v1/hrp-tree",
        params={"date": DAY, "symbols": "AAA,BBB,CCC,DDD", "window_days": 60},
        headers=bearer(keys["read"]),
    )
    listed = client.get("/api/v1/hrp-trees", headers=bearer(keys["read"])).json()["items"]

    assert answer.status_code == 200, answer.text
    assert sorted(answer.json()["ordered_symbols"]) == ["AAA", "BBB", "CCC", "DDD"]
    assert "etag" in answer.headers and len(listed) == 1


def test_risk_compute_stores_rows_the_risk_listing_returns(
    market: None, client: TestClient, keys: dict[str, str]
) -> None:
    computed = client.post(
        "/api/v1/risk/compute",
        json={"date": DAY, "universe": "four", "benchmark": backtest_market.BENCHMARK},
        headers=bearer(keys["research"]),
    )
    rows = client.get("/api/v1/risk", params={"date": DAY}, headers=bearer(keys["read"]))
    factors = client.get("/api/v1/factors", params={"date": DAY}, headers=bearer(keys["read"]))

    assert computed.status_code == 200, computed.text
    assert {row["symbol"] for row in rows.json()["items"]} == set(MOMENTUM)
    assert [row["momentum"] for row in factors.json()["items"]] == list(MOMENTUM.values())


def test_a_compute_without_a_date_or_range_is_422_naming_the_reason(
    client: TestClient, keys: dict[str, str]
) -> None:
    answer = client.post("/api/v1/factors/compute", json={}, headers=bearer(keys["research"]))

    assert answer.status_code == 422 and "start and end" in answer.json()["detail"]
