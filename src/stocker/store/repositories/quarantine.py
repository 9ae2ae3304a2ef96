"""Refused input rows and the outcome of each ingested batch."""

from __future__ import annotations

from sqlalchemy import Connection


class QuarantineRepository:
    """ingest_quarantine and ingest_batches."""

    def __init__(self, conn: Connection) -> None:
        self._conn = conn
