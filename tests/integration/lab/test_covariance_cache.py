"""The covariance and HRP cache on real PostgreSQL: a repeated request reads the stored matrix
(a counting estimator proves nothing is refitted), a stored matrix of other symbols is refused,
a non-PSD estimate is repaired and reported, the future does not change a date's matrix, and
HRP trees are stored and reused; and `stocker risk covariance` end to end."""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import date
from typing import Any, Self

import numpy as np
import pandas as pd
import pytest
from sklearn.covariance import LedoitWolf as SkLedoitWolf
from sqlalchemy import Engine, text
from typer.testing import CliRunner

from stocker.bootstrap import App
from stocker.cli import app as cli
from stocker.core.covariance import SampleCovariance, correlation_from_covariance
from stocker.core.errors import DataError
from stocker.core.optimize.hrp import build_tree
from stocker.data.sample import load_sample
from stocker.data.universes import create_universe
from stocker.lab.covariance import ESTIMATORS, EstimatorFactory, covariance, hrp_tree
from stocker.store.repositories.covariances import encode_matrix, universe_hash
from stocker.store.uow import SqlUnitOfWork

pytestmark = pytest.mark.integration

DAY = date(2020, 6, 30)
SYMBOLS = ["XOM", "AAPL", "MSFT", "JPM", "KO", "PG", "UNH", "CVX"]
WINDOW = 252


class Counting:
    """Estimator factories that count fits, so a test can prove a cache hit computed nothing."""

    def __init__(self, factories: Mapping[str, EstimatorFactory] = ESTIMATORS) -> None:
        self.fits = 0
        self._factories = factories

    def registry(self) -> dict[str, EstimatorFactory]:
        return {name: self._counted(factory) for name, factory in self._factories.items()}

    def _counted(self, factory: EstimatorFactory) -> EstimatorFactory:
        counter = self

        class Counted:
            def __init__(self) -> None:
                self._inner = factory()

            def fit(self, returns: pd.DataFrame) -> Self:
                counter.fits += 1
                self._inner.fit(returns)
                self.covariance_ = self._inner.covariance_
                self.shrinkage_ = getattr(self._inner, "shrinkage_", None)
                return self

        return Counted


class NotPsd:
    """A sample covariance with its smallest eigenvalue pushed below zero."""

    covariance_: Any

    def fit(self, returns: pd.DataFrame) -> Self:
        sample = np.asarray(SampleCovariance().fit(returns).covariance_)
        values, vectors = np.linalg.eigh(sample)
        values[0] = -0.5 * values[-1]
        self.covariance_ = (vectors * values) @ vectors.T
        return self


def _stored_returns(engine: Engine, symbols: list[str], day: date, sessions: int) -> pd.DataFrame:
    """The last `sessions` returns to `day`, read independently of the panel code."""
    with engine.connect() as conn:
        frame = pd.read_sql(
            text(
                "SELECT symbol, date, adj_close::float8 AS price FROM prices_daily "
                "WHERE symbol = ANY(:symbols) AND date <= :day"
            ),
            conn,
            params={"symbols": symbols, "day": day},
        )
    prices = frame.pivot(index="date", columns="symbol", values="price").sort_index()
    return (prices / prices.shift(1) - 1).iloc[-sessions:][sorted(symbols)]


def _rows(engine: Engine) -> int:
    with engine.connect() as conn:
        return int(conn.execute(text("SELECT count(*) FROM covariance_matrices")).scalar_one())


def test_covariance_when_requested_again_returns_the_stored_matrix_without_refitting(
    uow: SqlUnitOfWork, engine: Engine
) -> None:
    load_sample(uow)
    counting = Counting()

    first = covariance(uow, day=DAY, symbols=SYMBOLS, estimators=counting.registry())
    second = covariance(
        uow, day=DAY, symbols=list(reversed(SYMBOLS)), estimators=counting.registry()
    )

    assert counting.fits == 1
    assert (first.cached, second.cached) == (False, True)
    assert first.id == second.id and first.created_at == second.created_at
    assert second.symbols == tuple(sorted(SYMBOLS)) == tuple(second.matrix.columns)
    assert np.array_equal(first.matrix.to_numpy(), second.matrix.to_numpy())
    assert first.universe_hash == universe_hash(sorted(SYMBOLS))
    assert second.method == "ledoit_wolf/252d" and second.psd.reason == first.psd.reason
    assert second.psd.is_psd and not second.psd.repaired
    assert second.shrinkage == first.shrinkage is not None
    returns = _stored_returns(engine, SYMBOLS, DAY, WINDOW)
    oracle = SkLedoitWolf().fit(returns.to_numpy())
    np.testing.assert_allclose(second.matrix.to_numpy(), oracle.covariance_, rtol=1e-10)
    assert second.shrinkage == pytest.approx(oracle.shrinkage_, rel=1e-10)
    assert (second.first_date, second.last_date) == (returns.index[0], returns.index[-1])
    assert _rows(engine) == 1


def test_covariance_with_another_estimator_window_or_date_is_a_new_entry(
    uow: SqlUnitOfWork, engine: Engine
) -> None:
    load_sample(uow)
    counting = Counting()
    registry = counting.registry()

    base = covariance(uow, day=DAY, symbols=SYMBOLS, estimators=registry)
    oas = covariance(uow, day=DAY, symbols=SYMBOLS, estimator="oas", estimators=registry)
    short = covariance(uow, day=DAY, symbols=SYMBOLS, window_days=63, estimators=registry)
    earlier = covariance(uow, day=date(2020, 6, 29), symbols=SYMBOLS, estimators=registry)
    fewer = covariance(uow, day=DAY, symbols=SYMBOLS[:-1], estimators=registry)

    assert counting.fits == 5 and _rows(engine) == 5
    assert len({base.id, oas.id, short.id, earlier.id, fewer.id}) == 5
    assert not any(item.cached for item in (base, oas, short, earlier, fewer))


def test_covariance_refuses_a_stored_matrix_whose_symbols_differ_from_the_request(
    uow: SqlUnitOfWork,
) -> None:
    load_sample(uow)
    counting = Counting()
    # One symbol named "AAPL,MSFT" joins to the same string, hence the same hash, as AAPL and MSFT.
    with uow:
        uow.covariances.save_matrix(
            DAY,
            ["AAPL,MSFT"],
            "ledoit_wolf/252d",
            np.eye(1),
            {"estimator": "ledoit_wolf"},
        )
        uow.commit()

    with pytest.raises(DataError, match=r"requested 2 symbols AAPL, MSFT.*rule 11\.10\.3"):
        covariance(uow, day=DAY, symbols=["MSFT", "AAPL"], estimators=counting.registry())

    assert counting.fits == 0


def test_covariance_refuses_a_stored_matrix_of_another_size(
    uow: SqlUnitOfWork, engine: Engine
) -> None:
    load_sample(uow)
    stored = covariance(uow, day=DAY, symbols=SYMBOLS)
    with engine.begin() as conn:
        conn.execute(
            text("UPDATE covariance_matrices SET matrix_blob = :blob WHERE id = :id"),
            {"blob": encode_matrix(np.eye(3), {}), "id": stored.id},
        )

    with pytest.raises(DataError, match=r"\(3, 3\) matrix, requested 8 symbols.*rule 11\.10\.3"):
        covariance(uow, day=DAY, symbols=SYMBOLS)


def test_covariance_when_the_estimate_is_not_psd_repairs_it_and_reports_it(
    uow: SqlUnitOfWork,
) -> None:
    load_sample(uow)
    registry = dict(ESTIMATORS) | {"sample": NotPsd}

    computed = covariance(uow, day=DAY, symbols=SYMBOLS, estimator="sample", estimators=registry)
    again = covariance(uow, day=DAY, symbols=SYMBOLS, estimator="sample", estimators=registry)

    for result in (computed, again):
        assert result.psd.repaired and not result.psd.is_psd
        assert result.psd.n_negative == 1 and result.psd.min_eigenvalue < 0
        assert (
            "not positive semi-definite" in result.psd.reason and "clipped 1" in result.psd.reason
        )
    assert again.cached
    eigenvalues = np.linalg.eigvalsh(again.matrix.to_numpy())
    assert eigenvalues[0] >= -1e-12 * eigenvalues[-1]


def test_covariance_when_prices_after_the_date_change_recomputes_the_same_matrix(
    uow: SqlUnitOfWork, engine: Engine
) -> None:
    load_sample(uow)
    before = covariance(uow, day=DAY, symbols=SYMBOLS)
    with engine.begin() as conn:
        changed = conn.execute(
            text(
                "UPDATE prices_daily SET adj_close = adj_close * (1.5 + (id % 7) / 10.0) "
                "WHERE date > :day AND symbol = ANY(:symbols)"
            ),
            {"day": DAY, "symbols": SYMBOLS},
        ).rowcount
    assert changed > 0

    after = covariance(uow, day=DAY, symbols=SYMBOLS, refresh=True)
    later = covariance(uow, day=date(2020, 12, 31), symbols=SYMBOLS)

    assert not after.cached and after.id == before.id
    assert np.array_equal(after.matrix.to_numpy(), before.matrix.to_numpy())
    assert not np.allclose(later.matrix.to_numpy(), before.matrix.to_numpy())


def test_covariance_of_a_universe_uses_its_members_and_names_symbols_with_gaps(
    uow: SqlUnitOfWork,
) -> None:
    load_sample(uow)
    create_universe(uow, "energy", symbols=["XOM", "CVX", "RRC"])

    result = covariance(uow, day=DAY, universe="energy")
    assert result.symbols == ("CVX", "RRC", "XOM")

    with pytest.raises(DataError, match=r"MTUM \(\d+\), QUAL \(\d+\) lack returns"):
        covariance(uow, day=date(2014, 6, 30), symbols=["AAPL", "MTUM", "QUAL"])
    with pytest.raises(DataError, match="expected one of"):
        covariance(uow, day=DAY, symbols=SYMBOLS, estimator="magic")
    with pytest.raises(DataError, match="not in instrument_info"):
        covariance(uow, day=DAY, symbols=["AAPL", "NOPE"])


def test_hrp_tree_is_stored_and_reused_from_the_cached_covariance(uow: SqlUnitOfWork) -> None:
    load_sample(uow)
    counting = Counting()
    registry = counting.registry()
    matrix = covariance(uow, day=DAY, symbols=SYMBOLS, estimators=registry)

    first = hrp_tree(uow, day=DAY, symbols=SYMBOLS, estimators=registry)
    second = hrp_tree(uow, day=DAY, symbols=SYMBOLS, estimators=registry)
    ward = hrp_tree(uow, day=DAY, symbols=SYMBOLS, linkage_method="ward", estimators=registry)

    assert counting.fits == 1
    assert (first.cached, second.cached, ward.cached) == (False, True, False)
    assert first.id == second.id != ward.id and first.tree == second.tree
    assert first.covariance_method == "ledoit_wolf/252d" and first.linkage.startswith("single:")
    expected = build_tree(correlation_from_covariance(matrix.matrix.to_numpy()), sorted(SYMBOLS))
    assert second.tree == expected
    assert sorted(second.tree.ordered_labels) == sorted(SYMBOLS)
    assert ward.tree.linkage_method == "ward"


def test_risk_covariance_cli_reports_computed_then_cache_hit(uow: SqlUnitOfWork, app: App) -> None:
    load_sample(uow)
    runner = CliRunner()
    args = ["risk", "covariance", "--date", "2020-06-30", "--symbols", "AAPL,MSFT,XOM", "--json"]

    first = runner.invoke(cli, args, obj=app)
    second = runner.invoke(cli, [*args, "--estimator", "ledoit_wolf"], obj=app)
    table = runner.invoke(cli, args[:-1], obj=app)
    bad = runner.invoke(cli, [*args, "--estimator", "magic"], obj=app)

    assert first.exit_code == 0, first.output
    assert json.loads(first.output)["cached"] is False
    assert json.loads(second.output)["cached"] is True
    assert json.loads(second.output)["symbols"] == ["AAPL", "MSFT", "XOM"]
    assert table.exit_code == 0 and "cache hit" in table.output
    assert bad.exit_code == 2 and "estimator: got 'magic'" in bad.output
