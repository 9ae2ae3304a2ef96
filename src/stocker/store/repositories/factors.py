"""Factor exposures and the per-symbol risk model, per as-of date."""

from __future__ import annotations

from sqlalchemy import Connection


class FactorRepository:
    """factor_exposures and risk_model."""

    def __init__(self, conn: Connection) -> None:
        self._conn = conn
