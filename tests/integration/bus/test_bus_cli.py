"""`stocker bus relay|status|dead-letters` against the test's own database and streams."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import redis
from sqlalchemy import Engine
from typer.testing import CliRunner

from stocker.bus import streams
from stocker.cli import app
from stocker.config import Settings
from stocker.store.repositories.outbox import enqueue


@pytest.fixture
def cli_settings(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> Iterator[Settings]:
    """Point the commands' settings at this test's database, Redis and stream prefix."""
    assert settings.database_url and settings.redis_url
    monkeypatch.setenv("STOCKER_DATABASE_URL", settings.database_url)
    monkeypatch.setenv("STOCKER_REDIS_URL", settings.redis_url)
    monkeypatch.setenv("STOCKER_STREAM_PREFIX", settings.stream_prefix)
    monkeypatch.setenv("STOCKER_HOME", str(settings.home))
    yield settings


def test_bus_commands_when_events_are_pending_publish_report_and_list_dead_letters(
    cli_settings: Settings, engine: Engine, redis_client: redis.Redis, make_bar: Any
) -> None:
    runner = CliRunner()
    with engine.begin() as conn:
        enqueue(conn, make_bar("SPY"))
        enqueue(conn, make_bar("QQQ"))
    before = runner.invoke(app, ["bus", "status"])
    redis_client.xadd(
        streams.dead_letter_key(cli_settings, "market-bars"),
        {
            "data": "{not json",
            "error": "invalid market-bars message: not valid JSON",
            "deliveries": "1",
            "group": "ledger",
            "message_id": "1-1",
            "dead_at": "now",
        },
    )

    relayed = runner.invoke(app, ["bus", "relay", "--once"])
    after = runner.invoke(app, ["bus", "status"])
    letters = runner.invoke(app, ["bus", "dead-letters", "market-bars"])
    unknown = runner.invoke(app, ["bus", "dead-letters", "quotes"])

    assert relayed.exit_code == 0, relayed.output
    assert "published 2" in relayed.output
    assert redis_client.xlen(streams.stream_key(cli_settings, "market-bars")) == 2
    market_bars_row = next(line for line in after.output.splitlines() if "market-bars" in line)
    assert market_bars_row.split("│")[2].strip() == "2"  # length
    before_row = next(line for line in before.output.splitlines() if "market-bars" in line)
    assert before_row.split("│")[5].strip() == "2"  # unpublished outbox rows
    assert "not valid JSON" in letters.output and "ledger" in letters.output
    assert unknown.exit_code == 2 and "unknown stream 'quotes'" in unknown.output


def test_bus_status_when_redis_is_out_of_memory_says_why_the_relay_waits(
    cli_settings: Settings,
    private_redis: tuple[redis.Redis, str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    client, url = private_redis
    monkeypatch.setenv("STOCKER_REDIS_URL", url)
    client.config_set("maxmemory-policy", "noeviction")
    client.config_set("maxmemory", "1")

    result = CliRunner().invoke(app, ["bus", "status"])

    assert result.exit_code == 0, result.output
    assert "relay waiting: Redis is out of memory" in " ".join(result.output.split())


def test_bus_dead_letters_when_payload_is_huge_prints_it_cut_with_its_size(
    cli_settings: Settings, redis_client: redis.Redis
) -> None:
    huge = "{" + "x" * 5_000_000
    redis_client.xadd(
        streams.dead_letter_key(cli_settings, "market-bars"),
        {"data": huge, "error": "invalid market-bars message: not valid JSON", "group": "ledger"},
    )
    runner = CliRunner()

    cut = runner.invoke(app, ["bus", "dead-letters", "market-bars"])
    full = runner.invoke(app, ["bus", "dead-letters", "market-bars", "--max-chars", "0"])

    assert cut.exit_code == 0, cut.output
    assert len(cut.output) < 2_000
    assert "[5,000,001 bytes]" in cut.output and "not valid JSON" in cut.output
    assert huge in full.output
