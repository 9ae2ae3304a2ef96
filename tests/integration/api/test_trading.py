"""Trading over HTTP: a session run by the API, the pipeline's tables as pages, `explain`, the
ledger; the broker's signed fill webhook (a wrong signature refused, a replay changing nothing);
quarantine decisions."""

from __future__ import annotations

import datetime as dt
import json
import uuid
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, text

from stocker.api.routes.webhook import SIGNATURE, sign
from stocker.bootstrap import App
from stocker.data.sample import load_sample
from stocker.trading.days import replay_from_files

from .conftest import WEBHOOK_SECRET, bearer

ORDER = uuid.UUID("6f1c2a8e-3b7d-5e4f-9a10-2b3c4d5e6f70")


@pytest.fixture
def traded(app: App, tmp_path: Path) -> None:
    load_sample(app.uow())
    strategy = tmp_path / "trend.toml"
    strategy.write_text(
        '[portfolio]\nid = "web"\nsymbols = ["AAPL", "KO", "MSFT", "XOM"]\n'
        "[strategy]\nlookback_days = 20\nvol_seed_returns = 10\n"
    )
    replay_from_files(app.uow, [strategy], dt.date(1990, 1, 1), dt.date(1990, 2, 14), app.broker)
    app.settings.api_strategies = strategy


@pytest.mark.slow
def test_a_session_run_over_http_and_every_trading_page(
    traded: None, client: TestClient, keys: dict[str, str]
) -> None:
    read = bearer(keys["read"])

    ran = client.post(
        "/api/v1/trading/run-day", json={"date": "1990-02-15"}, headers=bearer(keys["trade"])
    )
    pages = {
        name: client.get(f"/api/v1/{name}", params={"limit": 1000}, headers=read)
        for name in (
            "trading/signals",
            "trading/targets",
            "trading/orders",
            "trading/fills",
            "trading/holdings",
            "trading/state",
            "ledger/journal",
        )
    }
    order = pages["trading/orders"].json()["items"][0]
    explained = client.get(f"/api/v1/trading/orders/{order['order_id']}/explain", headers=read)
    verified = client.get("/api/v1/ledger/verify", headers=read)

    assert ran.status_code == 200, ran.text
    assert ran.json()["date"] == "1990-02-15" and "web" in ran.json()["states"]
    for name, page in pages.items():
        assert page.status_code == 200, f"{name}: {page.text}"
        assert page.json()["items"], name
    states = pages["trading/state"].json()["items"]
    assert states[-1]["date"] >= "1990-02-15" and states[-1]["portfolio"] == "web"
    assert pages["ledger/journal"].json()["items"][0]["postings"]
    assert explained.status_code == 200 and explained.json()["order"]["symbol"] == order["symbol"]
    assert verified.status_code == 200 and verified.json()["ok"] is True


def test_explain_of_an_unknown_or_malformed_order_is_4xx(
    client: TestClient, keys: dict[str, str]
) -> None:
    unknown = client.get(f"/api/v1/trading/orders/{ORDER}/explain", headers=bearer(keys["read"]))
    malformed = client.get("/api/v1/trading/orders/nope/explain", headers=bearer(keys["read"]))

    assert unknown.status_code == 400 and str(ORDER) in unknown.json()["detail"]
    assert malformed.status_code == 400 and "UUID" in malformed.json()["detail"]


@pytest.fixture
def pending_order(engine: Engine) -> uuid.UUID:
    with engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO orders (order_id, portfolio_id, date, symbol, side, qty, type, "
                "status) VALUES (:o, 'live', '2024-06-28', 'AAPL', 'BUY', 30, 'MOO', 'SHIPPED')"
            ),
            {"o": ORDER},
        )
    return ORDER


def _delivery(fill_id: str, qty: str) -> bytes:
    notice = {"fill_id": fill_id, "order_id": str(ORDER), "qty": qty, "price": "212.40",
              "commission": "0.10", "timestamp": "2024-06-28T13:30:00Z"}  # fmt: skip
    return json.dumps({"fills": [notice]}).encode()


def _post(client: TestClient, body: bytes, signature: str | None) -> tuple[int, dict]:
    headers = {"Content-Type": "application/json"}
    if signature is not None:
        headers[SIGNATURE] = signature
    answer = client.post("/api/v1/broker/fills", content=body, headers=headers)
    return answer.status_code, answer.json()


def _snapshot(engine: Engine) -> list[object]:
    with engine.connect() as conn:
        return [
            conn.execute(text(query)).all()
            for query in (
                "SELECT fill_id, qty, price FROM fills ORDER BY id",
                "SELECT status, detail FROM order_events ORDER BY id",
                "SELECT count(*) FROM outbox",
                "SELECT status, updated_at FROM orders",
            )
        ]


def test_webhook_refuses_a_missing_or_wrong_signature_and_writes_nothing(
    pending_order: uuid.UUID, client: TestClient, engine: Engine
) -> None:
    body = _delivery("b-1", "30")
    before = _snapshot(engine)

    missing = _post(client, body, None)
    wrong = _post(client, body, sign("another secret", body))
    tampered = _post(client, _delivery("b-1", "3000"), sign(WEBHOOK_SECRET, body))

    assert [missing[0], wrong[0], tampered[0]] == [401, 401, 401]
    assert SIGNATURE in wrong[1]["detail"]
    assert _snapshot(engine) == before


def test_webhook_records_fills_once_and_a_replayed_delivery_changes_nothing(
    pending_order: uuid.UUID, client: TestClient, engine: Engine
) -> None:
    first, second = _delivery("b-1", "10"), _delivery("b-2", "20")

    partial = _post(client, first, sign(WEBHOOK_SECRET, first))
    with engine.connect() as conn:
        status_after_part = conn.execute(text("SELECT status FROM orders")).scalar()
    rest = _post(client, second, sign(WEBHOOK_SECRET, second))
    after = _snapshot(engine)
    replays = [_post(client, body, sign(WEBHOOK_SECRET, body)) for body in (first, second, first)]

    assert partial == (200, {"received": 1, "recorded": 1, "already_recorded": 0,
                             "orders": [str(ORDER)]})  # fmt: skip
    assert status_after_part == "SHIPPED"
    assert rest[1]["recorded"] == 1
    fills, events, outbox, orders = after
    assert [row[0] for row in fills] == ["b-1", "b-2"]
    assert [row[0] for row in events] == ["PARTIALLY_FILLED", "FILLED"]
    assert outbox == [(2,)] and orders[0][0] == "FILLED"
    assert [replay[1]["already_recorded"] for replay in replays] == [1, 1, 1]
    assert [replay[1]["recorded"] for replay in replays] == [0, 0, 0]
    assert _snapshot(engine) == after


def test_webhook_for_an_unknown_order_or_a_bad_body_is_refused_whole(
    client: TestClient, engine: Engine
) -> None:
    body = _delivery("b-1", "10")
    malformed = b'{"fills": [{"fill_id": "x"}]}'

    unknown = _post(client, body, sign(WEBHOOK_SECRET, body))
    invalid = _post(client, malformed, sign(WEBHOOK_SECRET, malformed))

    assert unknown[0] == 400 and unknown[1]["field"] == "order_id"
    assert invalid[0] == 422 and invalid[1]["errors"][0]["field"].startswith("body.fills")
    with engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM fills")).scalar() == 0


def test_quarantined_rows_are_listed_released_with_a_correction_and_discarded(
    app: App, client: TestClient, keys: dict[str, str], tmp_path: Path
) -> None:
    from stocker.data.ingest import FetchRequest, fetch_and_ingest

    bars = tmp_path / "bars.csv"
    bars.write_text(
        "symbol,date,open,high,low,close,volume\n"
        "AAA,2024-01-02,10,9,8,9.5,100\n"
        "AAA,2024-01-03,10,11,9,10.5,100\n"
        "BBB,2024-01-02,10,9,8,9.5,100\n"
    )
    fetch_and_ingest(
        app.uow(), app.source("csv", path=bars), FetchRequest(symbols=()), today=dt.date(2024, 1, 5)
    )
    read, admin = bearer(keys["read"]), bearer(keys["admin"])

    listed = client.get("/api/v1/quarantine", params={"status": "QUARANTINED"}, headers=read)
    rows = listed.json()["items"]
    one = client.get(f"/api/v1/quarantine/{rows[0]['id']}", headers=read)
    released = client.post(
        "/api/v1/quarantine/release",
        json={"ids": [rows[0]["id"]], "corrections": {"high": "10.5"}, "note": "vendor typo"},
        headers=admin,
    )
    discarded = client.post(
        "/api/v1/quarantine/discard", json={"ids": [rows[1]["id"]], "note": "dup"}, headers=admin
    )
    left = client.get("/api/v1/quarantine", params={"status": "QUARANTINED"}, headers=read)

    assert [row["symbol"] for row in rows] == ["AAA", "BBB"], listed.text
    assert rows[0]["reasons"] and one.json()["id"] == rows[0]["id"]
    assert released.status_code == 200, released.text
    assert released.json()["outcomes"] == [{"id": rows[0]["id"], "released": True, "reasons": []}]
    assert discarded.json() == {"discarded": 1}
    assert left.json()["items"] == []


def test_halt_and_resume_a_portfolio_and_list_its_breaks(
    client: TestClient, keys: dict[str, str], engine: Engine
) -> None:
    trade, read = bearer(keys["trade"]), bearer(keys["read"])
    with engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO reconciliation_breaks (portfolio_id, kind, key, symbol, ours, broker, "
                "reason) VALUES ('live', 'position', 'position:AAPL', 'AAPL', '{\"qty\": \"25\"}', "
                "'{\"qty\": \"20\"}', 'position AAPL: ours 25, broker 20')"
            )
        )

    halted = client.post(
        "/api/v1/trading/portfolios/live/halt", json={"reason": "check AAPL"}, headers=trade
    )
    halts = client.get("/api/v1/trading/halts", headers=read).json()["items"]
    breaks = client.get("/api/v1/trading/breaks", params={"open": True}, headers=read).json()
    resumed = client.post("/api/v1/trading/portfolios/live/resume", headers=trade)
    after = client.get("/api/v1/trading/halts", headers=read).json()["items"]

    assert halted.status_code == 200 and halted.json()["halted"] is True
    assert [(row["portfolio"], row["reason"]) for row in halts] == [("live", "check AAPL")]
    assert [row["symbol"] for row in breaks["items"]] == ["AAPL"]
    assert resumed.json() == {"portfolio": "live", "was_halted": True, "open_breaks": 1}
    assert after == []
