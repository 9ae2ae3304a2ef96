"""`stocker backtest trend` on the stored sample: realized volatility next to the target, the
drawdown rule's cut and re-entry, a strategy file's parameters, and clear errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from stocker.bootstrap import App
from stocker.cli import app as cli
from stocker.data.sample import load_sample


def _invoke(application: App, *args: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, list(args), obj=application, env={"COLUMNS": "200"})
    return result.exit_code, result.output


@pytest.mark.slow
def test_backtest_trend_reports_vol_against_target_and_the_reentry(
    app: App, tmp_path: Path
) -> None:
    load_sample(app.uow())
    window = ["--from", "1999-01-04", "--to", "2004-12-31"]

    code, output = _invoke(app, "backtest", "trend", *window, "--json")

    assert code == 0, output
    report = json.loads(output)
    assert report["target_vol"] == 0.12 and 0.03 < report["realized_vol"] < 0.2
    assert len(report["symbols"]) == 20 and report["start"] == "1999-01-04"
    assert {"cagr", "sharpe", "max_drawdown", "final_nav"} <= set(report)
    assert report["cut_to_zero"] == ["2003-01-24"] and report["reentered"]
    assert report["drawdown_reentry"] == "cooloff" and report["drawdown_cooloff"] == 63

    # The spec's rule, from a strategy file: once cut for good, in cash to the end (a bounce of
    # the NAV while the last positions are still held can lift an earlier cut).
    strategy = tmp_path / "spec.toml"
    strategy.write_text(
        '[portfolio]\nid = "spec"\nsymbols = ["AAPL", "KO", "MSFT", "XOM", "JNJ", "PG"]\n'
        '[strategy]\ndrawdown_reentry = "never"\ntarget_vol_annual = 0.10\n'
    )
    code, output = _invoke(app, "backtest", "trend", *window, "--strategy", str(strategy), "--json")
    assert code == 0, output
    spec = json.loads(output)
    assert spec["target_vol"] == 0.10 and len(spec["symbols"]) == 6
    assert spec["drawdown_reentry"] == "never" and spec["cut_to_zero"]
    assert not spec["reentered"] or spec["reentered"][-1] < spec["cut_to_zero"][-1]

    code, text = _invoke(app, "backtest", "trend", *window)
    assert code == 0, text
    assert "realized volatility" in text and "target volatility" in text and "12.00%" in text


def test_backtest_trend_refuses_bad_input_clearly(app: App, tmp_path: Path) -> None:
    code, output = _invoke(app, "backtest", "trend", "--json")
    assert code == 2 and "no stored prices" in output and "load-sample" in output

    code, output = _invoke(app, "backtest", "trend", "--from", "2020-13-01")
    assert code == 2 and "--from" in output

    code, output = _invoke(app, "backtest", "trend", "--from", "2021-01-04", "--to", "2020-01-02")
    assert code == 2 and "before" in output

    bad = tmp_path / "bad.toml"
    bad.write_text('[portfolio]\nid = "x"\nsymbols = ["AAPL"]\n[strategy]\ndrawdown_cooloff = 0\n')
    code, output = _invoke(app, "backtest", "trend", "--strategy", str(bad))
    assert code == 2 and "drawdown_cooloff" in output and "Traceback" not in output
