"""The risk model on real PostgreSQL: betas against the sample's S&P 500 equal least squares on
the stored prices, an unknown benchmark is refused, the equal-weight proxy on the synthetic
market; and the CLI commands end to end."""

from __future__ import annotations

import json
from datetime import date

import numpy as np
import pandas as pd
import pytest
from sqlalchemy import Engine, text
from typer.testing import CliRunner

from stocker.bootstrap import App
from stocker.cli import app as cli
from stocker.core.errors import DataError
from stocker.data.sample import load_sample
from stocker.data.synthetic import load_synthetic_market
from stocker.lab.risk import compute_risk, read_risk
from stocker.store.uow import SqlUnitOfWork

pytestmark = pytest.mark.integration

DAY = date(2020, 6, 30)


def _returns_to(engine: Engine, symbol: str, day: date, sessions: int) -> pd.Series:
    with engine.connect() as conn:
        frame = pd.read_sql(
            text(
                "SELECT date, adj_close::float8 AS price FROM prices_daily "
                "WHERE symbol = :symbol AND date <= :day ORDER BY date DESC LIMIT :n"
            ),
            conn,
            params={"symbol": symbol, "day": day, "n": sessions + 1},
        )
    prices = frame.set_index("date")["price"].sort_index()
    return (prices / prices.shift(1) - 1).iloc[1:]


def test_risk_on_the_sample_has_beta_equal_to_least_squares_on_stored_prices(
    uow: SqlUnitOfWork, engine: Engine
) -> None:
    load_sample(uow)

    report = compute_risk(uow, day=DAY)

    stored = read_risk(uow, DAY).set_index("symbol")
    assert len(stored) == report.inserted == 25 and "SP500" not in stored.index
    bench = _returns_to(engine, "SP500", DAY, 252)
    for symbol in ("AAPL", "XOM", "MTUM"):
        stock = _returns_to(engine, symbol, DAY, 252)
        x, y = bench.reindex(stock.index).to_numpy(), stock.to_numpy()
        design = np.column_stack([np.ones(len(x)), x])
        slope = np.linalg.lstsq(design, y, rcond=None)[0][1]
        assert stored.loc[symbol, "beta"] == pytest.approx(slope, rel=1e-9)
        assert stored.loc[symbol, "volatility"] == pytest.approx(np.std(y, ddof=1) * np.sqrt(252))
    assert stored.notna().all().all()
    assert report.reasons.empty


def test_risk_with_an_unknown_benchmark_is_refused_and_writes_nothing(
    uow: SqlUnitOfWork, engine: Engine
) -> None:
    load_sample(uow)

    with pytest.raises(DataError, match="'NOPE' is not a known instrument"):
        compute_risk(uow, day=DAY, benchmark="NOPE")

    with engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM risk_model")).scalar_one() == 0


def test_risk_on_the_synthetic_market_against_the_equal_weight_proxy(uow: SqlUnitOfWork) -> None:
    load_synthetic_market(uow, symbols=30, years=2, seed=11)
    day = date(2001, 6, 29)

    report = compute_risk(uow, day=day, benchmark=None)

    stored = read_risk(uow, day).set_index("symbol")
    assert len(stored) == 30 and stored.notna().all().all()
    assert (stored["volatility"] > 0).all()
    # Betas on the cross-section's own mean average about one.
    assert stored["beta"].mean() == pytest.approx(1.0, abs=0.05)
    assert report.nulls == dict.fromkeys(("volatility", "beta", "tail_beta", "skew", "kurtosis"), 0)


def test_cli_computes_factors_and_risk_and_prints_json(app: App, engine: Engine) -> None:
    load_synthetic_market(app.uow(), symbols=12, years=2, seed=4)
    runner = CliRunner()

    factors = runner.invoke(
        cli, ["factors", "compute", "--date", "2001-06-29", "--json", "--weight", "value=2"],
        obj=app,
    )  # fmt: skip
    risk = runner.invoke(
        cli, ["risk", "compute", "--from", "2001-06-25", "--to", "2001-06-29",
              "--benchmark", "equal-weight"],
        obj=app,
    )  # fmt: skip
    bad = runner.invoke(
        cli, ["factors", "compute", "--date", "2001-06-29", "--weight", "x"], obj=app
    )
    neither = runner.invoke(cli, ["risk", "compute"], obj=app)

    assert factors.exit_code == 0, factors.output
    body = json.loads(factors.output)
    assert (body["table"], body["symbols"], body["inserted"]) == ("factor_exposures", 12, 12)
    assert risk.exit_code == 0, risk.output
    assert "risk_model 2001-06-25 … 2001-06-29" in risk.output
    assert bad.exit_code != 0 and "FACTOR=NUMBER" in bad.output
    assert neither.exit_code != 0 and "expected --date D" in neither.output
    with engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM risk_model")).scalar_one() == 5 * 12
