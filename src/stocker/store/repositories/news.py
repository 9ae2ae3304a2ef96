"""News articles, their scores per scorer version, and sentiment aggregation reads."""

from __future__ import annotations

from sqlalchemy import Connection


class NewsRepository:
    """News articles, their scores per scorer version, and sentiment aggregation reads."""

    def __init__(self, conn: Connection) -> None:
        self._conn = conn
