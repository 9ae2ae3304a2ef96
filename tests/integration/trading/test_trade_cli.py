"""`stocker trade replay|run-day|explain` on a real database with the sample loaded."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

from typer.testing import CliRunner

from stocker.bootstrap import App
from stocker.cli import app as cli
from stocker.data.sample import load_sample


def _invoke(application: App, *args: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, list(args), obj=application, env={"COLUMNS": "200"})
    return result.exit_code, result.output


def test_replay_run_day_and_explain(app: App, tmp_path: Path) -> None:
    load_sample(app.uow())
    strategy = tmp_path / "trend.toml"
    strategy.write_text(
        '[portfolio]\nid = "cli"\nsymbols = ["AAPL", "KO", "MSFT", "XOM"]\n'
        "[strategy]\nlookback_days = 20\nvol_seed_returns = 10\n"
    )
    code, output = _invoke(
        app, "trade", "replay", "--from", "1990-01-01", "--to", "1990-02-15",
        "--strategy", str(strategy), "--json",
    )  # fmt: skip
    assert code == 0, output
    days = json.loads(output)
    assert days[-1]["date"] == "1990-02-15" and "cli" in days[-1]["states"]

    code, again = _invoke(
        app, "trade", "run-day", "--date", "1990-02-15", "--strategy", str(strategy), "--json"
    )
    assert code == 0, again
    assert json.loads(again)["states"] == days[-1]["states"]

    with app.uow() as uow:
        orders = uow.trading.orders_between("cli", dt.date(1990, 1, 1), dt.date(1990, 3, 1))
    assert orders
    code, text = _invoke(app, "trade", "explain", str(orders[0].order_id))
    assert code == 0, text
    assert "target #" in text and "signal #" in text and "why this size" in text
    code, as_json = _invoke(app, "trade", "explain", str(orders[0].order_id), "--json")
    assert json.loads(as_json)["order"]["symbol"] == orders[0].symbol

    code, missing = _invoke(app, "trade", "explain", "00000000-0000-0000-0000-000000000000")
    assert code != 0 and "no order" in missing
