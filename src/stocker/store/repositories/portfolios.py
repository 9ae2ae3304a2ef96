"""Research portfolios, their constraints and their weights per rebalance date (SigmaQLab 11.6).

`portfolio_constraints` has a column for the bounds SigmaQLab names (min/max weight, turnover,
target volatility, max beta) and two JSON objects. What it has no column for is kept in
`factor_constraints_json` under the reserved key ``"_settings"`` (factor names never start with
an underscore): long-only or long-short, the gross limit, the per-asset turnover limit,
transaction costs, the expected-return settings (Black–Litterman views, their confidences and τ;
the factor-implied score spread), and a negative minimum weight, which the column's CHECK
(``min_weight >= 0``) cannot hold (the column then keeps 0 and ``_settings.min_weight`` the
real bound).

Weights of a (portfolio, date) are replaced as a whole: delete, then insert, in the caller's
transaction; the deferred trigger checks at commit that they sum to 1 within 1e-6 (rule 11.10.6).
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import pandas as pd
from sqlalchemy import Connection, Row, text

SETTINGS_KEY = "_settings"
"""The key of `factor_constraints_json` holding what the table has no column for."""


@dataclass(frozen=True)
class StoredConstraints:
    """One `portfolio_constraints` row, with the `_settings` extras unpacked.

    `min_weight` is the real lower bound (negative for long-short); `target_volatility` is
    annual; `sector_caps` maps sector → cap; `factor_bounds` maps factor → (low, high).
    """

    min_weight: float = 0.0
    max_weight: float = 1.0
    long_only: bool = True
    gross_limit: float | None = None
    sector_caps: Mapping[str, float] = field(default_factory=dict)
    factor_bounds: Mapping[str, tuple[float, float]] = field(default_factory=dict)
    max_beta: float | None = None
    target_volatility: float | None = None
    turnover_limit: float | None = None
    per_asset_turnover_limit: float | None = None
    transaction_cost_bps: float = 0.0
    views: Mapping[str, float] = field(default_factory=dict)
    """Black–Litterman absolute views: symbol → expected return, annual (e.g. 0.12)."""
    view_confidences: Mapping[str, float] = field(default_factory=dict)
    """Idzorek confidences in [0, 1] for some views (none: He–Litterman's Ω)."""
    tau: float = 0.05
    """Black–Litterman's τ (uncertainty of the equilibrium prior)."""
    score_spread: float = 0.05
    """factor_implied: the cross-sectional standard deviation of μ, annual."""

    def as_json(self) -> dict[str, Any]:
        """A JSON-ready dict of every field."""
        return {
            "min_weight": self.min_weight,
            "max_weight": self.max_weight,
            "long_only": self.long_only,
            "gross_limit": self.gross_limit,
            "sector_caps": dict(self.sector_caps),
            "factor_bounds": {name: list(bounds) for name, bounds in self.factor_bounds.items()},
            "max_beta": self.max_beta,
            "target_volatility": self.target_volatility,
            "turnover_limit": self.turnover_limit,
            "per_asset_turnover_limit": self.per_asset_turnover_limit,
            "transaction_cost_bps": self.transaction_cost_bps,
            "views": dict(self.views),
            "view_confidences": dict(self.view_confidences),
            "tau": self.tau,
            "score_spread": self.score_spread,
        }


@dataclass(frozen=True)
class Portfolio:
    """One `portfolios` row, with its group's name (None when the group was deleted)."""

    id: int
    code: str
    name: str
    description: str | None
    group_id: int | None
    group: str | None
    optimizer_type: str | None
    expected_return_mode: str | None
    initial_capital: float | None
    created_at: dt.datetime | None
    updated_at: dt.datetime | None


_PORTFOLIO_SQL = text(
    "SELECT p.id, p.code, p.name, p.description, p.group_id, g.name AS group_name, "
    "p.optimizer_type, p.expected_return_mode, p.initial_capital::float8 AS initial_capital, "
    "p.created_at, p.updated_at FROM portfolios p "
    "LEFT JOIN instrument_universe g ON g.id = p.group_id AND g.is_deleted IS NOT TRUE "
    "WHERE p.code = :code"
)
_CONSTRAINTS_SQL = text(
    "SELECT min_weight, max_weight, turnover_limit, target_volatility, max_beta, "
    "sector_caps_json, factor_constraints_json FROM portfolio_constraints "
    "WHERE portfolio_id = :id"
)
_UPSERT_CONSTRAINTS_SQL = text(
    "INSERT INTO portfolio_constraints (portfolio_id, min_weight, max_weight, turnover_limit, "
    "target_volatility, max_beta, sector_caps_json, factor_constraints_json) VALUES (:id, "
    ":min_weight, :max_weight, :turnover_limit, :target_volatility, :max_beta, "
    "CAST(:sector_caps AS jsonb), CAST(:factors AS jsonb)) ON CONFLICT (portfolio_id) DO UPDATE "
    "SET min_weight = EXCLUDED.min_weight, max_weight = EXCLUDED.max_weight, "
    "turnover_limit = EXCLUDED.turnover_limit, target_volatility = EXCLUDED.target_volatility, "
    "max_beta = EXCLUDED.max_beta, sector_caps_json = EXCLUDED.sector_caps_json, "
    "factor_constraints_json = EXCLUDED.factor_constraints_json, updated_at = NOW()"
)
_INSERT_WEIGHTS_SQL = text(
    "INSERT INTO portfolio_weights (portfolio_id, date, symbol, weight) "
    "SELECT :id, :day, w.symbol, w.weight "
    "FROM unnest(CAST(:symbols AS text[]), CAST(:weights AS float8[])) AS w(symbol, weight)"
)
_WEIGHTS_ON_SQL = text(
    "SELECT symbol, weight FROM portfolio_weights WHERE portfolio_id = :id AND date = :day "
    "ORDER BY symbol"
)
_LATEST_DATE_SQL = text(
    "SELECT max(date) FROM portfolio_weights WHERE portfolio_id = :id "
    "AND (CAST(:before AS date) IS NULL OR date < :before)"
)


def _portfolio(row: Row[Any]) -> Portfolio:
    return Portfolio(
        id=int(row.id),
        code=row.code,
        name=row.name,
        description=row.description,
        group_id=None if row.group_id is None else int(row.group_id),
        group=row.group_name,
        optimizer_type=row.optimizer_type,
        expected_return_mode=row.expected_return_mode,
        initial_capital=None if row.initial_capital is None else float(row.initial_capital),
        created_at=row.created_at,
        updated_at=row.updated_at,
    )


def _optional(value: Any) -> float | None:
    return None if value is None else float(value)


class PortfolioRepository:
    """portfolios, portfolio_constraints and portfolio_weights."""

    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    # --- portfolios ------------------------------------------------------------------------------

    def named(self, code: str, *, for_update: bool = False) -> Portfolio | None:
        """The portfolio with this code, if any (its row locked with `for_update`, so two
        rebalances of one portfolio run one after the other)."""
        statement = _PORTFOLIO_SQL
        if for_update:
            statement = text(f"{_PORTFOLIO_SQL.text} FOR UPDATE OF p")
        row = self._conn.execute(statement, {"code": code}).one_or_none()
        return None if row is None else _portfolio(row)

    def codes(self) -> list[str]:
        """Every portfolio code, sorted."""
        return list(self._conn.execute(text("SELECT code FROM portfolios ORDER BY code")).scalars())

    def insert(
        self,
        code: str,
        *,
        name: str,
        description: str | None,
        group_id: int,
        optimizer_type: str,
        expected_return_mode: str,
        initial_capital: float | None,
    ) -> int:
        """A new portfolio row; returns its id (a duplicate code raises IntegrityError)."""
        return int(
            self._conn.execute(
                text(
                    "INSERT INTO portfolios (code, name, description, group_id, optimizer_type, "
                    "expected_return_mode, initial_capital) VALUES (:code, :name, :description, "
                    ":group_id, :optimizer_type, :mode, :capital) RETURNING id"
                ),
                {
                    "code": code,
                    "name": name,
                    "description": description,
                    "group_id": group_id,
                    "optimizer_type": optimizer_type,
                    "mode": expected_return_mode,
                    "capital": initial_capital,
                },
            ).scalar_one()
        )

    # --- constraints -----------------------------------------------------------------------------

    def save_constraints(self, portfolio_id: int, constraints: StoredConstraints) -> None:
        """Write the portfolio's one constraints row (insert or replace)."""
        settings: dict[str, Any] = {
            "long_only": constraints.long_only,
            "gross_limit": constraints.gross_limit,
            "per_asset_turnover_limit": constraints.per_asset_turnover_limit,
            "transaction_cost_bps": constraints.transaction_cost_bps,
            "views": {str(k): float(v) for k, v in constraints.views.items()},
            "view_confidences": {str(k): float(v) for k, v in constraints.view_confidences.items()},
            "tau": constraints.tau,
            "score_spread": constraints.score_spread,
        }
        column_min = constraints.min_weight
        if column_min < 0:
            settings["min_weight"] = column_min
            column_min = 0.0
        factors: dict[str, Any] = {
            name: [float(low), float(high)]
            for name, (low, high) in constraints.factor_bounds.items()
        }
        factors[SETTINGS_KEY] = settings
        self._conn.execute(
            _UPSERT_CONSTRAINTS_SQL,
            {
                "id": portfolio_id,
                "min_weight": column_min,
                "max_weight": constraints.max_weight,
                "turnover_limit": constraints.turnover_limit,
                "target_volatility": constraints.target_volatility,
                "max_beta": constraints.max_beta,
                "sector_caps": json.dumps(
                    {k: float(v) for k, v in constraints.sector_caps.items()}
                ),
                "factors": json.dumps(factors),
            },
        )

    def constraints(self, portfolio_id: int) -> StoredConstraints | None:
        """The portfolio's constraints row, if it has one."""
        row = self._conn.execute(_CONSTRAINTS_SQL, {"id": portfolio_id}).one_or_none()
        if row is None:
            return None
        factors = dict(row.factor_constraints_json or {})
        settings = dict(factors.pop(SETTINGS_KEY, None) or {})
        return StoredConstraints(
            min_weight=float(settings.get("min_weight", row.min_weight)),
            max_weight=float(row.max_weight),
            long_only=bool(settings.get("long_only", True)),
            gross_limit=_optional(settings.get("gross_limit")),
            sector_caps={str(k): float(v) for k, v in (row.sector_caps_json or {}).items()},
            factor_bounds={
                str(name): (float(bounds[0]), float(bounds[1])) for name, bounds in factors.items()
            },
            max_beta=_optional(row.max_beta),
            target_volatility=_optional(row.target_volatility),
            turnover_limit=_optional(row.turnover_limit),
            per_asset_turnover_limit=_optional(settings.get("per_asset_turnover_limit")),
            transaction_cost_bps=float(settings.get("transaction_cost_bps") or 0.0),
            views={str(k): float(v) for k, v in (settings.get("views") or {}).items()},
            view_confidences={
                str(k): float(v) for k, v in (settings.get("view_confidences") or {}).items()
            },
            tau=float(settings.get("tau", 0.05)),
            score_spread=float(settings.get("score_spread", 0.05)),
        )

    # --- weights ---------------------------------------------------------------------------------

    def replace_weights(self, portfolio_id: int, day: dt.date, weights: pd.Series) -> int:
        """Make `weights` (symbol → weight) the whole of the portfolio's weights on `day`;
        returns how many rows were there before. Checked to sum to 1 at commit."""
        deleted = self._conn.execute(
            text("DELETE FROM portfolio_weights WHERE portfolio_id = :id AND date = :day"),
            {"id": portfolio_id, "day": day},
        ).rowcount
        if len(weights):
            self._conn.execute(
                _INSERT_WEIGHTS_SQL,
                {
                    "id": portfolio_id,
                    "day": day,
                    "symbols": [str(symbol) for symbol in weights.index],
                    "weights": [float(value) for value in weights.to_numpy()],
                },
            )
        return int(deleted)

    def delete_weights_after(self, portfolio_id: int, day: dt.date) -> list[dt.date]:
        """Delete every rebalance dated after `day`; returns their dates, oldest first (a later
        rebalance measured against weights that no longer precede it is not kept)."""
        rows = self._conn.execute(
            text(
                "DELETE FROM portfolio_weights WHERE portfolio_id = :id AND date > :day "
                "RETURNING date"
            ),
            {"id": portfolio_id, "day": day},
        )
        return sorted(set(rows.scalars()))

    def weights_on(self, portfolio_id: int, day: dt.date) -> pd.Series:
        """The stored weights of `day` (symbol → weight, by symbol); empty when none."""
        rows = self._conn.execute(_WEIGHTS_ON_SQL, {"id": portfolio_id, "day": day}).all()
        return pd.Series(
            [float(row.weight) for row in rows],
            index=pd.Index([row.symbol for row in rows], name="symbol"),
            name="weight",
            dtype="float64",
        )

    def latest_date(self, portfolio_id: int, *, before: dt.date | None = None) -> dt.date | None:
        """The latest rebalance date with weights (strictly before `before` when given)."""
        value = self._conn.execute(
            _LATEST_DATE_SQL, {"id": portfolio_id, "before": before}
        ).scalar_one_or_none()
        return value

    def latest_weights(
        self, portfolio_id: int, *, before: dt.date | None = None
    ) -> tuple[dt.date, pd.Series] | None:
        """The latest stored weights (strictly before `before` when given) and their date."""
        day = self.latest_date(portfolio_id, before=before)
        return None if day is None else (day, self.weights_on(portfolio_id, day))

    def rebalance_dates(self, portfolio_id: int) -> list[dt.date]:
        """Every date with stored weights, oldest first."""
        rows = self._conn.execute(
            text(
                "SELECT DISTINCT date FROM portfolio_weights WHERE portfolio_id = :id ORDER BY date"
            ),
            {"id": portfolio_id},
        )
        return list(rows.scalars())
