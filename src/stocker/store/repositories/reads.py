"""Read models for the API and the web app: paginated listings with stable cursors."""

from __future__ import annotations

from sqlalchemy import Connection


class ReadRepository:
    """Read models for the API and the web app: paginated listings with stable cursors."""

    def __init__(self, conn: Connection) -> None:
        self._conn = conn
