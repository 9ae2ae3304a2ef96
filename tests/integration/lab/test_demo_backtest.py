"""The demo's backtest on the real sample: a stored monthly run and its tearsheet under home."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from stocker.bootstrap import App
from stocker.data.sample import load_sample
from stocker.lab.backtests import read_holdings, read_run
from stocker.lab.demo_backtest import DEMO_MAX_WEIGHT, backtest_factor_portfolio

pytestmark = pytest.mark.slow


def test_demo_backtest_when_the_sample_is_loaded_stores_the_run_and_writes_its_tearsheet(
    app: App, tmp_path: Path
) -> None:
    load_sample(app.uow())
    home = tmp_path / "home"

    demo = backtest_factor_portfolio(app, home)

    run = read_run(app.uow(), demo.run_id)
    assert run.status == "COMPLETED" and run.run.portfolio == demo.portfolio
    assert run.run.rebalance_frequency == "MONTHLY" and 110 <= demo.rebalances <= 125
    assert (demo.end - demo.start).days >= 3640
    assert demo.html.parent == home / "reports" and demo.png.parent == home / "reports"
    html = demo.html.read_text(encoding="utf-8")
    assert "plotly" in html.lower()
    assert not re.search(r"<script[^>]+src=[\"']?https?:", html)  # plotly.js inline, no CDN
    assert demo.png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert set(demo.metrics) >= {"cagr", "volatility", "sharpe", "max_drawdown", "turnover"}
    assert -1.0 < demo.metrics["max_drawdown"] < 0.0 and demo.metrics["volatility"] > 0.0
    assert float(run.nav.iloc[-1]) > 0
    last = read_holdings(app.uow(), demo.run_id, day=demo.end)
    assert last["weight"].max() <= DEMO_MAX_WEIGHT + 0.05  # the cap, drifted for a month at most
    assert list((home / "cache" / "panels").glob("*.arrow"))  # prices kept for the next run

    again = backtest_factor_portfolio(app, home)  # reruns keep the group and portfolio

    assert again.run_id != demo.run_id
    assert again.metrics == pytest.approx(demo.metrics, rel=1e-6)
