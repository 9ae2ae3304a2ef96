"""`stocker ledger verify|rebuild|journal` on a real database."""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal

from sqlalchemy import text
from typer.testing import CliRunner

from stocker.bootstrap import App
from stocker.cli import app as cli
from stocker.trading.ledger import mark_to_market, post_contribution

DAY = dt.date(2024, 1, 2)


def _invoke(application: App, *args: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, list(args), obj=application, env={"COLUMNS": "200"})
    return result.exit_code, result.output


def test_verify_rebuild_and_journal(app: App) -> None:
    post_contribution(app.uow(), "main", DAY, Decimal(1000))
    mark_to_market(app.uow(), "main", DAY, {})

    code, output = _invoke(app, "ledger", "verify", "--json")
    assert code == 0, output
    assert json.loads(output)["ok"] is True

    with app.engine.begin() as conn:
        conn.execute(text("UPDATE portfolio_state SET cash = cash - 1"))
    code, output = _invoke(app, "ledger", "verify", "--portfolio", "main")
    assert code == 1
    assert "broken: main [NAV = cash + Σ qty×close]" in output

    code, output = _invoke(app, "ledger", "rebuild", "main", "--json")
    assert code == 0, output
    assert [d["field"] for d in json.loads(output)["differences"]] == ["cash"]
    code, output = _invoke(app, "ledger", "verify")
    assert code == 0 and "every ledger invariant holds" in output

    code, output = _invoke(app, "ledger", "journal", "main", "--limit", "1")
    assert code == 0, output
    assert "equity:contributions" in output and "DEPOSIT" in output
