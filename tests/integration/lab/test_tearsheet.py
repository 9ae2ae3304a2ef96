"""Reports and comparisons of stored runs: metrics, tearsheets (HTML without CDN, PNG), CLI."""

from __future__ import annotations

import importlib.util
import json
import re
from pathlib import Path
from types import ModuleType

import numpy as np
import pytest
from sqlalchemy import Engine
from typer.testing import CliRunner

from stocker.bootstrap import App
from stocker.cli import app as cli
from stocker.core.metrics import performance
from stocker.lab.backtests import run_backtest
from stocker.lab.compare import compare_runs, run_report
from stocker.store.uow import SqlUnitOfWork

pytestmark = pytest.mark.integration

KEYS = {
    "cagr",
    "volatility",
    "sharpe",
    "sortino",
    "max_drawdown",
    "max_drawdown_duration",
    "calmar",
    "turnover",
    "hit_rate",
    "beta",
    "alpha",
    "var_95",
    "cvar_95",
}


def _market() -> ModuleType:
    path = Path(__file__).with_name("backtest_market.py")
    spec = importlib.util.spec_from_file_location("backtest_market", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


MARKET = _market()


@pytest.fixture
def runs(uow: SqlUnitOfWork, engine: Engine) -> list[int]:
    MARKET.load_market(uow, engine)
    return [
        run_backtest(uow, MARKET.CODE, start=MARKET.START, end=MARKET.END, cost_bps=cost).id
        for cost in (0.0, 25.0)
    ]


def _no_remote_script(html: str) -> None:
    assert not re.search(r"<script[^>]*\bsrc\s*=\s*[\"']?(https?:)?//", html, re.IGNORECASE)


def test_report_has_every_metric_and_writes_both_tearsheets(
    uow: SqlUnitOfWork, runs: list[int], tmp_path: Path
) -> None:
    report = run_report(
        uow, runs[0], html=tmp_path / "r.html", png=tmp_path / "r.png", benchmark=MARKET.BENCHMARK
    )
    assert set(report.metrics) == KEYS
    nav = report.run.nav
    expected = performance(nav)
    for name, value in expected.items():
        assert report.metrics[name] == value
    assert report.metrics["turnover"] > 0 and np.isfinite(report.metrics["beta"])
    html = Path(report.html or "").read_text()
    assert "Plotly.newPlot" in html and "Monthly returns" in html
    _no_remote_script(html)
    assert Path(report.png or "").read_bytes()[:4] == b"\x89PNG"
    assert len(report.monthly_returns) >= 6


def test_costs_lower_the_nav_and_compare_puts_runs_side_by_side(
    uow: SqlUnitOfWork, runs: list[int], tmp_path: Path
) -> None:
    found = compare_runs(uow, runs, html=tmp_path / "c.html")
    assert list(found.metrics.columns) == runs
    assert found.metrics.loc["cagr", runs[0]] > found.metrics.loc["cagr", runs[1]]
    assert found.navs.shape[1] == 2 and (found.navs.iloc[0] == 1.0).all()
    html = Path(found.html or "").read_text()
    assert html.count('"type":"scatter"') >= 2 or html.count("scatter") >= 2
    _no_remote_script(html)


def test_cli_report_and_compare_print_json(app: App, runs: list[int], tmp_path: Path) -> None:
    runner = CliRunner()
    html = tmp_path / "sheet.html"
    result = runner.invoke(
        cli, ["backtest", "report", str(runs[0]), "--html", str(html), "--json"], obj=app
    )
    assert result.exit_code == 0, result.output
    document = json.loads(result.output)
    assert document["id"] == runs[0] and document["html"] == str(html) and html.exists()
    assert set(document["metrics"]) == KEYS - {"beta", "alpha"}
    result = runner.invoke(cli, ["backtest", "compare", *map(str, runs), "--json"], obj=app)
    assert result.exit_code == 0, result.output
    assert set(json.loads(result.output)["metrics"]) == {str(run) for run in runs}
    result = runner.invoke(cli, ["backtest", "report", "999999"], obj=app)
    assert result.exit_code != 0 and "no run 999999" in result.output
