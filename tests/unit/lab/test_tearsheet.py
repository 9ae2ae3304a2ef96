"""Tearsheet figures: the series they plot, HTML with plotly.js inline (no CDN) and a PNG."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd

from stocker.lab.tearsheet import (
    TearsheetData,
    drawdown,
    frames,
    monthly_table,
    rolling_volatility,
    turnover,
    write_html,
    write_png,
)


def _data() -> TearsheetData:
    dates = pd.bdate_range("2022-01-03", periods=300)
    rng = np.random.default_rng(7)
    nav = pd.Series(1_000_000 * np.cumprod(1 + rng.normal(0.0004, 0.01, len(dates))), dates)
    bench = pd.Series(100 * np.cumprod(1 + rng.normal(0.0003, 0.009, len(dates))), dates)
    weights = pd.DataFrame(
        rng.dirichlet(np.ones(12), len(dates)), index=dates, columns=[f"S{i}" for i in range(12)]
    )
    sectors = pd.DataFrame({"Tech": 0.6, "Energy": 0.4}, index=dates)
    trades = pd.DataFrame(
        {"rebalance_date": [dates[0], dates[0], dates[100]], "trade_value": [600.0, -200.0, 1000.0]}
    )
    return TearsheetData(nav, bench, weights, sectors, trades, title="Test run")


def test_series_follow_their_definitions():
    nav = pd.Series([100.0, 110.0, 99.0, 121.0], pd.bdate_range("2024-01-30", periods=4))
    assert drawdown(nav).tolist() == [0.0, 0.0, 99.0 / 110.0 - 1.0, 0.0]
    returns = nav.pct_change()
    expected = returns.iloc[1:3].std(ddof=1) * np.sqrt(252)
    assert rolling_volatility(nav, window=2).iloc[2] == expected
    table = monthly_table(nav)
    assert list(table.columns) == list(range(1, 13)) and list(table.index) == [2024]
    assert table.loc[2024, 1] == 110.0 / 100.0 - 1.0
    assert table.loc[2024, 2] == 121.0 / 110.0 - 1.0
    assert np.isnan(table.loc[2024, 3])


def test_turnover_from_trades_is_half_the_traded_value_over_nav():
    data = _data()
    result = turnover(data)
    assert result.iloc[0] == 0.5 * 800.0 / data.nav.iloc[0]
    assert result.iloc[1] == 0.5 * 1000.0 / data.nav.iloc[100]


def test_frames_rebase_and_group_weights():
    panels = frames(_data())
    assert panels.nav.iloc[0] == 1.0 and panels.benchmark is not None
    assert panels.benchmark.iloc[0] == 1.0
    assert panels.weights is not None and panels.weights.shape[1] == 11  # 10 named + other
    np.testing.assert_allclose(panels.weights.sum(axis=1), 1.0)


def test_html_is_self_contained(tmp_path: Path):
    path = write_html(_data(), tmp_path / "sheet.html")
    html = path.read_text()
    assert "Plotly.newPlot" in html and len(html) > 1_000_000  # plotly.js inline
    assert not re.search(r"<script[^>]+src=[\"']?https?:", html)
    for title in ("Drawdown", "Monthly returns", "Sector exposure", "Turnover"):
        assert title in html


def test_png_is_written(tmp_path: Path):
    path = write_png(_data(), tmp_path / "sheet.png")
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and path.stat().st_size > 10_000
