"""Backtests over HTTP: 202 with the run id while it runs in the background, then its status,
timeseries, holdings, trades, exposures, metrics, tearsheet and a comparison."""

from __future__ import annotations

import time
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from stocker.store.uow import SqlUnitOfWork

from .conftest import bearer
from .market_data import backtest_market

BODY = {
    "portfolio": backtest_market.CODE,
    "start": backtest_market.START.isoformat(),
    "end": backtest_market.END.isoformat(),
    "rebalance": "monthly",
}


@pytest.fixture
def market(uow: SqlUnitOfWork, engine: Engine) -> None:
    backtest_market.load_market(uow, engine)


def _finished(client: TestClient, job_id: str, key: str) -> dict[str, Any]:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        job = client.get(f"/api/v1/backtests/jobs/{job_id}", headers=bearer(key)).json()
        if job["status"] in ("COMPLETED", "FAILED"):
            return job
        time.sleep(0.2)
    raise AssertionError(f"job {job_id} did not finish")


def _start(client: TestClient, keys: dict[str, str], **changes: Any) -> dict[str, Any]:
    answer = client.post(
        "/api/v1/backtests", json={**BODY, **changes}, headers=bearer(keys["research"])
    )
    assert answer.status_code == 202, answer.text
    started = answer.json()
    assert answer.headers["location"].startswith("/api/v1/backtests/")
    finished = _finished(client, started["job_id"], keys["read"])
    assert finished["status"] == "COMPLETED", finished
    assert started["run_id"] in (None, finished["run_id"])
    return finished


@pytest.mark.slow
def test_a_backtest_started_over_http_runs_and_serves_every_output(
    market: None, client: TestClient, keys: dict[str, str]
) -> None:
    run_id = _start(client, keys)["run_id"]
    other = _start(client, keys, cost_bps=25)["run_id"]
    read = bearer(keys["read"])
    base = f"/api/v1/backtests/{run_id}"

    status = client.get(base, headers=read).json()
    series = client.get(f"{base}/timeseries", params={"limit": 1000}, headers=read).json()
    holdings = client.get(f"{base}/holdings", headers=read).json()["items"]
    trades = client.get(f"{base}/trades", headers=read).json()["items"]
    sectors = client.get(f"{base}/exposures/sectors", headers=read).json()["items"]
    client.get(f"{base}/exposures/factors", headers=read).raise_for_status()
    metrics = client.get(f"{base}/metrics", headers=read).json()
    tearsheet = client.get(f"{base}/tearsheet", headers=read)
    compared = client.get(
        "/api/v1/backtests/compare", params={"ids": [run_id, other]}, headers=read
    )
    runs = client.get("/api/v1/backtests", headers=read).json()["items"]

    assert status["status"] == "COMPLETED" and status["portfolio"] == backtest_market.CODE
    assert series["next_cursor"] is None and len(series["items"]) > 100
    assert series["items"][0]["date"] == backtest_market.START.isoformat()
    assert holdings and trades and sectors
    assert {"sharpe", "max_drawdown"} <= set(metrics["metrics"])
    assert tearsheet.status_code == 200 and tearsheet.headers["content-type"].startswith(
        "text/html"
    )
    assert "plotly" in tearsheet.text.lower()
    assert compared.status_code == 200, compared.text
    assert set(compared.json()["metrics"]) == {str(run_id), str(other)}
    assert [run["id"] for run in runs] == [run_id, other]


def test_a_backtest_of_an_unknown_portfolio_is_refused_at_once_naming_it(
    client: TestClient, keys: dict[str, str]
) -> None:
    answer = client.post(
        "/api/v1/backtests", json={**BODY, "portfolio": "nope"}, headers=bearer(keys["research"])
    )

    assert answer.status_code == 400, answer.text
    assert "nope" in answer.json()["detail"]


def test_a_backtest_ending_before_it_starts_is_422(
    client: TestClient, keys: dict[str, str]
) -> None:
    answer = client.post(
        "/api/v1/backtests",
        json={**BODY, "start": "2024-06-01", "end": "2024-01-01"},
        headers=bearer(keys["research"]),
    )

    assert answer.status_code == 422 and "before start" in answer.json()["detail"]


def test_outputs_of_an_unknown_run_are_404(client: TestClient, keys: dict[str, str]) -> None:
    for path in (
        "/api/v1/backtests/999",
        "/api/v1/backtests/999/timeseries",
        "/api/v1/backtests/jobs/x",
    ):
        answer = client.get(path, headers=bearer(keys["read"]))

        assert answer.status_code == 404, path


def test_metrics_of_a_run_not_completed_are_a_400_saying_so(
    client: TestClient, keys: dict[str, str]
) -> None:
    answer = client.get("/api/v1/backtests/999/metrics", headers=bearer(keys["read"]))

    assert answer.status_code == 400 and "999" in answer.json()["detail"]
