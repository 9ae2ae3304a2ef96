"""Cached covariance matrices and HRP trees, keyed by universe hash."""

from __future__ import annotations

from sqlalchemy import Connection


class CovarianceRepository:
    """covariance_matrices and hrp_trees."""

    def __init__(self, conn: Connection) -> None:
        self._conn = conn
