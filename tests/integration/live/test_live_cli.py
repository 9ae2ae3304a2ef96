"""The live-trading commands against the stand-in (STOCKER_BROKER=alpaca on its URLs)."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from live_helpers import PORTFOLIO, add_order, control
from pydantic import SecretStr
from typer.testing import CliRunner

from stocker.bootstrap import App, build
from stocker.brokers.alpaca_standin import StandIn
from stocker.cli import app as cli
from stocker.config import Settings

pytestmark = pytest.mark.integration


@pytest.fixture
def live_app(settings: Settings, stand_in: StandIn) -> Iterator[App]:
    application = build(
        settings.model_copy(
            update={
                "broker": "alpaca",
                "alpaca_api_key": SecretStr("k"),
                "alpaca_secret_key": SecretStr("s"),
                "alpaca_trading_url": stand_in.url,
                "alpaca_stream_url": stand_in.stream_url,
            }
        )
    )
    yield application
    application.broker.close()  # type: ignore[attr-defined]
    application.close()


def _invoke(application: App, *args: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, list(args), obj=application, env={"COLUMNS": "200"})
    return result.exit_code, result.output


def test_send_reconcile_breaks_halt_and_resume(live_app: App, stand_in: StandIn) -> None:
    add_order(live_app, "AAPL", "BUY", 10)
    code, out = _invoke(live_app, "trade", "send", "--wait", "0.3", "--json")
    assert code == 0, out
    assert json.loads(out)["submitted"] == 1
    control(stand_in, "/_standin/positions", {"symbol": "IBM", "qty": "5", "avg": "100"})
    code, out = _invoke(live_app, "trade", "reconcile", PORTFOLIO, "--json")
    assert code == 0, out
    assert json.loads(out)["halted"] is True
    code, out = _invoke(live_app, "trade", "breaks", "list", "--json")
    breaks = json.loads(out)
    assert [b["kind"] for b in breaks] == ["POSITION"] and breaks[0]["symbol"] == "IBM"
    code, out = _invoke(
        live_app, "trade", "breaks", "resolve", str(breaks[0]["id"]), "--side", "broker", "--json"
    )
    assert code == 0, out
    assert json.loads(out)["correcting_entry_id"]
    code, out = _invoke(live_app, "ledger", "verify", "--portfolio", PORTFOLIO, "--json")
    assert code == 0, out

    add_order(live_app, "MSFT", "SELL", 3)
    code, out = _invoke(live_app, "trade", "halt", PORTFOLIO, "--json")
    assert code == 0 and json.loads(out)["canceled"], out  # AAPL's open order
    code, out = _invoke(live_app, "trade", "send", "--wait", "0", "--json")
    assert json.loads(out) | {} and json.loads(out)["halted"] == 1
    code, out = _invoke(live_app, "trade", "resume", PORTFOLIO)
    assert code == 0 and "resumed" in out


def test_a_live_command_without_a_live_broker_says_what_to_set(app: App) -> None:
    code, out = _invoke(app, "trade", "reconcile", PORTFOLIO)
    assert code == 2 and "STOCKER_BROKER=alpaca" in out
