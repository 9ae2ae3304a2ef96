"""Sweeps: every configuration of a grid runs (on a 2-worker LocalCluster or in process) and is
stored with its parameters."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path
from types import ModuleType

import pytest
from sqlalchemy import Engine
from typer.testing import CliRunner

from stocker.bootstrap import App
from stocker.cli import app as cli
from stocker.cli.backtest_report import AppUnitsOfWork
from stocker.config import Settings
from stocker.core.errors import DataError
from stocker.lab.backtests import list_runs, read_run
from stocker.lab.sweep import configurations, parse_grid, run_sweep
from stocker.store.uow import SqlUnitOfWork

pytestmark = pytest.mark.integration


def _market() -> ModuleType:
    path = Path(__file__).with_name("backtest_market.py")
    spec = importlib.util.spec_from_file_location("backtest_market", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


MARKET = _market()


def test_grid_parses_to_typed_values_and_refuses_unknown_names() -> None:
    grid = parse_grid(["cost_bps=0,10", "rebalance=monthly,quarterly", "cost-bps=10,20"])
    assert grid == {"cost_bps": [0.0, 10.0, 20.0], "rebalance": ["monthly", "quarterly"]}
    assert len(configurations(grid)) == 6
    assert configurations(grid)[1] == {"cost_bps": 0.0, "rebalance": "quarterly"}
    with pytest.raises(DataError, match="unknown parameter 'leverage'"):
        parse_grid(["leverage=1,2"])
    with pytest.raises(DataError, match="cost_bps=ten"):
        parse_grid(["cost_bps=ten"])


def test_sweep_on_a_local_cluster_stores_every_configuration(
    uow: SqlUnitOfWork, engine: Engine, settings: Settings
) -> None:
    MARKET.load_market(uow, engine)
    grid = {"cost_bps": [0.0, 20.0], "rebalance": ["monthly", "quarterly"]}
    done: list[tuple[int, int]] = []
    sweep = run_sweep(
        AppUnitsOfWork(settings),
        MARKET.CODE,
        start=MARKET.START,
        end=MARKET.END,
        grid=grid,
        workers=2,
        progress=lambda n, total: done.append((n, total)),
    )
    assert [r.status for r in sweep.results] == ["COMPLETED"] * 4, sweep.results
    assert done[-1] == (4, 4) and len(done) == 4
    stored = {run.id for run in list_runs(uow, portfolio_code=MARKET.CODE)}
    assert {r.run_id for r in sweep.results} == stored and len(stored) == 4
    for result in sweep.results:
        run = read_run(uow, result.run_id or 0)
        assert run.run.config["cost_bps"] == result.parameters["cost_bps"]
        assert run.run.config["rebalance"] == result.parameters["rebalance"]
        assert result.metrics["sharpe"] == run.metrics()["sharpe"]
    in_process = run_sweep(
        AppUnitsOfWork(settings),
        MARKET.CODE,
        start=MARKET.START,
        end=MARKET.END,
        grid=grid,
        workers=0,
    )
    for parallel, serial in zip(sweep.results, in_process.results, strict=True):
        assert parallel.parameters == serial.parameters and parallel.metrics == serial.metrics


def test_cli_sweep_when_a_configuration_fails_reports_it_and_exits_non_zero(
    uow: SqlUnitOfWork, engine: Engine, app: App
) -> None:
    MARKET.load_market(uow, engine)
    arguments = ["backtest", "sweep", MARKET.CODE, "--start", str(MARKET.START)]
    arguments += ["--end", str(MARKET.END), "--workers", "0", "--json"]
    result = CliRunner().invoke(
        cli, [*arguments, "--grid", "cost_bps=5", "--grid", "execution=close,sideways"], obj=app
    )
    assert result.exit_code == 1, result.output
    document = json.loads(result.output)
    assert [run["status"] for run in document["runs"]] == ["COMPLETED", "FAILED"]
    assert "sideways" in document["runs"][1]["error"]
    result = CliRunner().invoke(cli, [*arguments[:-1], "--grid", "cost_bps=1"], obj=app)
    assert result.exit_code == 0, result.output
    assert "1 runs in" in result.output
    result = CliRunner().invoke(
        cli, ["backtest", "sweep", "nope", *arguments[3:-1], "--grid", "cost_bps=1"], obj=app
    )
    assert result.exit_code != 0 and "'nope' does not exist" in result.output


def test_sweep_on_an_existing_scheduler_uses_its_workers(
    uow: SqlUnitOfWork, engine: Engine, settings: Settings
) -> None:
    from dask.distributed import LocalCluster

    MARKET.load_market(uow, engine)
    with LocalCluster(n_workers=1, processes=False, dashboard_address=None) as cluster:
        sweep = run_sweep(
            AppUnitsOfWork(settings),
            MARKET.CODE,
            start=MARKET.START,
            end=MARKET.END,
            grid={"cost_bps": [0.0, 10.0]},
            scheduler=cluster.scheduler_address,
        )
    assert sweep.scheduler == cluster.scheduler_address
    assert [r.status for r in sweep.results] == ["COMPLETED", "COMPLETED"]
    assert len(list_runs(uow, portfolio_code=MARKET.CODE)) == 2
