"""Covariance matrices and HRP trees as of a date, computed once and then read from the cache.

The cache key. `covariance_matrices` is UNIQUE on (as_of_date, universe_hash, method) and its
CHECK requires ``universe_hash = sha256(",".join(symbols))``, the hash of the symbol list alone.
So a request is keyed by:

- ``symbols``: the requested symbols, de-duplicated and sorted (rows and columns in that order);
- ``universe_hash``: sha256 of those sorted symbols (what the CHECK recomputes);
- ``method``: the estimator and the window, ``"<estimator>/<window_days>d"``, e.g.
  ``"ledoit_wolf/252d"`` — so (sorted symbols, estimator, window, as-of) is the whole key.

Point in time: a miss reads adjusted closes dated on or before `day` only and uses the last
`window_days` daily simple returns; every symbol needs all of them (a gap is an error naming the
symbols, never a silently smaller universe). The matrix is checked positive semi-definite; one
that is not is repaired (eigenvalues clipped at zero, `stocker.core.covariance.repair_psd`), and
the result's `psd` report says so, both on the computing call and on every cache hit after it.

Rule 11.10.3: a stored matrix must correspond exactly to the requested universe. A row found by
the key whose symbols (or matrix shape) differ from the request is refused with a `DataError`
and is not recomputed over.

HRP trees (`hrp_trees`, UNIQUE on (as_of_date, universe_hash, linkage), linkage VARCHAR(20)) are
keyed by ``"<linkage method>:<digest>"``, the digest (10 hex) covering the convention, optimal
ordering and the covariance method the correlations came from; the JSON keeps all of them.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any, Protocol, Self

import numpy as np
import pandas as pd

from stocker.core.covariance import (
    OAS,
    EWMACovariance,
    LedoitWolf,
    PsdReport,
    SampleCovariance,
    check_psd,
    correlation_from_covariance,
    repair_psd,
)
from stocker.core.errors import DataError
from stocker.core.optimize.hrp import Convention, Tree, build_tree
from stocker.core.returns import simple_returns
from stocker.lab.factors import research_symbols

if TYPE_CHECKING:
    from stocker.store.repositories.covariances import StoredCovariance, StoredTree
    from stocker.store.uow import SqlUnitOfWork


class CovarianceEstimator(Protocol):
    """The scikit-learn shape of `stocker.core.covariance`: `fit` returns self, `covariance_`."""

    covariance_: Any

    def fit(self, returns: pd.DataFrame) -> Self: ...


EstimatorFactory = Callable[[], CovarianceEstimator]

ESTIMATORS: Mapping[str, EstimatorFactory] = {
    "sample": SampleCovariance,
    "ledoit_wolf": LedoitWolf,
    "ledoit_wolf_constant_correlation": lambda: LedoitWolf(target="constant_correlation"),
    "oas": OAS,
    "ewma": EWMACovariance,
}
"""Estimator names: "ledoit_wolf" shrinks to scikit-learn's scaled identity, the
"_constant_correlation" variant to Ledoit-Wolf 2004's target; "ewma" is RiskMetrics' 0.94."""

DEFAULT_ESTIMATOR = "ledoit_wolf"
DEFAULT_WINDOW_DAYS = 252


@dataclass(frozen=True)
class CovarianceResult:
    """A matrix as of a date, whether it came from the cache, and what its PSD check found."""

    id: int
    as_of_date: dt.date
    symbols: tuple[str, ...]
    estimator: str
    window_days: int
    method: str
    universe_hash: str
    matrix: pd.DataFrame
    cached: bool
    psd: PsdReport
    shrinkage: float | None
    first_date: dt.date | None
    last_date: dt.date | None
    created_at: dt.datetime

    def as_json(self, *, with_matrix: bool = False) -> dict[str, Any]:
        """A JSON-ready summary; the matrix itself only when asked (it is n² numbers)."""
        volatility = np.sqrt(np.clip(np.diag(self.matrix.to_numpy()), 0.0, None) * 252.0)
        summary: dict[str, Any] = {
            "id": self.id,
            "as_of_date": self.as_of_date.isoformat(),
            "symbols": list(self.symbols),
            "estimator": self.estimator,
            "window_days": self.window_days,
            "method": self.method,
            "universe_hash": self.universe_hash,
            "cached": self.cached,
            "returns_from": None if self.first_date is None else self.first_date.isoformat(),
            "returns_to": None if self.last_date is None else self.last_date.isoformat(),
            "shrinkage": self.shrinkage,
            "psd": _psd_json(self.psd),
            "volatility_annual": dict(zip(self.symbols, volatility.round(6).tolist(), strict=True)),
            "created_at": self.created_at.isoformat(),
        }
        if with_matrix:
            summary["matrix"] = self.matrix.to_numpy().tolist()
        return summary


@dataclass(frozen=True)
class TreeResult:
    """An HRP clustering as of a date, and whether it came from the cache."""

    id: int
    as_of_date: dt.date
    symbols: tuple[str, ...]
    linkage: str
    covariance_method: str
    universe_hash: str
    tree: Tree
    cached: bool
    created_at: dt.datetime


def covariance_method(estimator: str, window_days: int, estimators: Mapping[str, Any]) -> str:
    """The `method` part of the key: ``"<estimator>/<window_days>d"`` (validated)."""
    if estimator not in estimators:
        raise DataError(f"estimator: got {estimator!r}, expected one of {', '.join(estimators)}")
    if window_days < 2:
        raise DataError(f"window_days: got {window_days}, expected at least 2 daily returns")
    return f"{estimator}/{window_days}d"


def covariance(
    uow: SqlUnitOfWork,
    *,
    day: dt.date,
    symbols: Sequence[str] | None = None,
    universe: str | None = None,
    estimator: str = DEFAULT_ESTIMATOR,
    window_days: int = DEFAULT_WINDOW_DAYS,
    refresh: bool = False,
    estimators: Mapping[str, EstimatorFactory] = ESTIMATORS,
) -> CovarianceResult:
    """The covariance of `symbols` (or a universe's members, or every active instrument) on `day`.

    Returns the stored matrix when this (symbols, estimator, window, day) was computed before;
    otherwise (or with `refresh`) computes it from returns up to `day` and stores it.
    `estimators` maps names to estimator factories (tests pass counting ones).
    """
    with uow:
        wanted = _requested(uow, symbols, universe)
        result = covariance_in(
            uow,
            day=day,
            symbols=wanted,
            estimator=estimator,
            window_days=window_days,
            refresh=refresh,
            estimators=estimators,
        )
        uow.commit()
    return result


def hrp_tree(
    uow: SqlUnitOfWork,
    *,
    day: dt.date,
    symbols: Sequence[str] | None = None,
    universe: str | None = None,
    estimator: str = DEFAULT_ESTIMATOR,
    window_days: int = DEFAULT_WINDOW_DAYS,
    linkage_method: str = "single",
    convention: Convention = "lopez_de_prado",
    optimal_ordering: bool = False,
    refresh: bool = False,
    estimators: Mapping[str, EstimatorFactory] = ESTIMATORS,
) -> TreeResult:
    """The HRP clustering of the symbols on `day`, from the (cached) covariance's correlations.

    A stored tree is reused; otherwise the covariance is read from the cache or computed (as
    `covariance`), the tree built by `stocker.core.optimize.hrp.build_tree` and stored.
    """
    with uow:
        wanted = _requested(uow, symbols, universe)
        result = hrp_tree_in(
            uow,
            day=day,
            symbols=wanted,
            estimator=estimator,
            window_days=window_days,
            linkage_method=linkage_method,
            convention=convention,
            optimal_ordering=optimal_ordering,
            refresh=refresh,
            estimators=estimators,
        )
        uow.commit()
    return result


def covariance_in(
    uow: SqlUnitOfWork,
    *,
    day: dt.date,
    symbols: Sequence[str],
    estimator: str = DEFAULT_ESTIMATOR,
    window_days: int = DEFAULT_WINDOW_DAYS,
    refresh: bool = False,
    estimators: Mapping[str, EstimatorFactory] = ESTIMATORS,
) -> CovarianceResult:
    """`covariance` inside a unit of work the caller opened (and commits), for use cases such as
    portfolio construction that read the cache within their own transaction."""
    wanted = tuple(sorted(set(symbols)))
    method = covariance_method(estimator, window_days, estimators)
    if not refresh:
        stored = uow.covariances.matrix(day, wanted, method)
        if stored is not None:
            return _result(stored, wanted, cached=True)
    returns = _window_returns(uow, day, wanted, window_days)
    model = estimators[estimator]().fit(returns)
    matrix, psd = repair_psd(np.asarray(model.covariance_, dtype=np.float64))
    shrinkage = getattr(model, "shrinkage_", None)
    meta = {
        "estimator": estimator,
        "window_days": window_days,
        "first_date": returns.index[0].date().isoformat(),
        "last_date": returns.index[-1].date().isoformat(),
        "shrinkage": None if shrinkage is None else float(shrinkage),
        "psd": asdict(psd),
    }
    saved = uow.covariances.save_matrix(day, wanted, method, np.asarray(matrix), meta)
    return _result(saved, wanted, cached=False)


def hrp_tree_in(
    uow: SqlUnitOfWork,
    *,
    day: dt.date,
    symbols: Sequence[str],
    estimator: str = DEFAULT_ESTIMATOR,
    window_days: int = DEFAULT_WINDOW_DAYS,
    linkage_method: str = "single",
    convention: Convention = "lopez_de_prado",
    optimal_ordering: bool = False,
    refresh: bool = False,
    estimators: Mapping[str, EstimatorFactory] = ESTIMATORS,
) -> TreeResult:
    """`hrp_tree` inside a unit of work the caller opened (and commits)."""
    wanted = tuple(sorted(set(symbols)))
    method = covariance_method(estimator, window_days, estimators)
    spec = {"convention": convention, "optimal_ordering": optimal_ordering, "covariance": method}
    digest = hashlib.sha256(json.dumps(spec, sort_keys=True).encode()).hexdigest()[:10]
    linkage = f"{linkage_method}:{digest}"
    stored = None if refresh else uow.covariances.tree(day, wanted, linkage)
    if stored is not None:
        return _tree_result(stored, wanted, cached=True)
    matrix = covariance_in(
        uow,
        day=day,
        symbols=wanted,
        estimator=estimator,
        window_days=window_days,
        refresh=refresh,
        estimators=estimators,
    )
    tree = build_tree(
        correlation_from_covariance(matrix.matrix.to_numpy()),
        list(wanted),
        convention=convention,
        linkage_method=linkage_method,
        optimal_ordering=optimal_ordering,
    )
    document = json.loads(tree.to_json()) | {"covariance_method": method}
    saved = uow.covariances.save_tree(day, wanted, linkage, json.dumps(document))
    return _tree_result(saved, wanted, cached=False)


def _requested(
    uow: SqlUnitOfWork, symbols: Sequence[str] | None, universe: str | None
) -> tuple[str, ...]:
    """The request's symbols, de-duplicated and sorted (the key's order)."""
    if symbols is not None and universe is not None:
        raise DataError("symbols: got both symbols and a universe; expected one of them")
    if symbols is None:
        return tuple(research_symbols(uow, universe))
    wanted = tuple(sorted({symbol.strip() for symbol in symbols if symbol.strip()}))
    if not wanted:
        raise DataError("symbols: expected at least one symbol, got none")
    return wanted


def _window_returns(
    uow: SqlUnitOfWork, day: dt.date, wanted: tuple[str, ...], window_days: int
) -> pd.DataFrame:
    """The last `window_days` daily returns dated on or before `day`, complete for every symbol."""
    unknown = uow.instruments.unknown(list(wanted))
    if unknown:
        raise DataError(f"symbols: {_some(unknown)} not in instrument_info")
    start = uow.derived.lookback_start(day, window_days + 1) or day
    prices = uow.derived.panel("adj_close", symbols=list(wanted), start=start, end=day)
    returns = simple_returns(prices).iloc[1:].iloc[-window_days:]
    if len(returns) < window_days:
        raise DataError(
            f"window_days: {len(returns)} daily returns on or before {day}, "
            f"expected {window_days}; choose a later date or a shorter window"
        )
    gaps = returns.isna().sum()
    gaps = gaps[gaps > 0]
    if not gaps.empty:
        named = [f"{symbol} ({count})" for symbol, count in gaps.items()]
        raise DataError(
            f"symbols: {_some(named)} lack returns in the {window_days} sessions "
            f"{returns.index[0].date()} … {returns.index[-1].date()}; the matrix must cover "
            "exactly the requested universe (rule 11.10.3), so drop them or shorten the window"
        )
    return returns


def _result(stored: StoredCovariance, wanted: tuple[str, ...], *, cached: bool) -> CovarianceResult:
    """A result from a stored row, refused unless it is exactly the requested universe."""
    size = len(wanted)
    if stored.symbols != wanted or stored.matrix.shape != (size, size):
        raise DataError(
            f"covariance_matrices row {stored.id} ({stored.as_of_date}, {stored.method}) "
            f"is for {len(stored.symbols)} symbols {_some(list(stored.symbols))} with a "
            f"{stored.matrix.shape} matrix, requested {size} symbols {_some(list(wanted))}: "
            "a stored matrix must correspond exactly to its universe (rule 11.10.3)"
        )
    meta = stored.meta
    estimator, _, window = stored.method.partition("/")
    return CovarianceResult(
        id=stored.id,
        as_of_date=stored.as_of_date,
        symbols=stored.symbols,
        estimator=estimator,
        window_days=int(window.removesuffix("d")),
        method=stored.method,
        universe_hash=stored.universe_hash,
        matrix=pd.DataFrame(stored.matrix, index=list(wanted), columns=list(wanted)),
        cached=cached,
        psd=PsdReport(**meta["psd"]) if "psd" in meta else check_psd(stored.matrix),
        shrinkage=meta.get("shrinkage"),
        first_date=_iso_date(meta.get("first_date")),
        last_date=_iso_date(meta.get("last_date")),
        created_at=stored.created_at,
    )


def _tree_result(stored: StoredTree, wanted: tuple[str, ...], *, cached: bool) -> TreeResult:
    """A tree from a stored row, refused unless its labels are exactly the requested symbols."""
    tree = Tree.from_json(stored.tree_json)
    if stored.symbols != wanted or tree.labels != wanted:
        raise DataError(
            f"hrp_trees row {stored.id} ({stored.as_of_date}, {stored.linkage}) is for "
            f"{_some(list(tree.labels))}, requested {_some(list(wanted))}: a stored tree must "
            "correspond exactly to its universe (rule 11.10.3)"
        )
    return TreeResult(
        id=stored.id,
        as_of_date=stored.as_of_date,
        symbols=stored.symbols,
        linkage=stored.linkage,
        covariance_method=json.loads(stored.tree_json)["covariance_method"],
        universe_hash=stored.universe_hash,
        tree=tree,
        cached=cached,
        created_at=stored.created_at,
    )


def _iso_date(text: str | None) -> dt.date | None:
    """A date the metadata holds, or None when a row was written without it."""
    return None if text is None else dt.date.fromisoformat(text)


def _psd_json(report: PsdReport) -> dict[str, Any]:
    """The PSD report with NaN (\"not computed\") as None, for strict JSON."""
    return {
        key: None if isinstance(value, float) and not np.isfinite(value) else value
        for key, value in asdict(report).items()
    }


def _some(items: Sequence[str], limit: int = 10) -> str:
    """At most `limit` names, then how many more."""
    shown = ", ".join(items[:limit])
    return shown if len(items) <= limit else f"{shown} … and {len(items) - limit} more"
