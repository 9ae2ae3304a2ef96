"""Cached covariance matrices and HRP trees, keyed by as-of date, universe hash and method.

`universe_hash` is the sha256 hex of the comma-joined symbols in stored order, exactly what the
tables' CHECK (`ck_*_universe_hash`) recomputes, so a row can never carry a hash of other symbols.
The key's last part is a free-form method string (`covariance_matrices.method`,
`hrp_trees.linkage`) chosen by the use case; see `stocker.lab.covariance`.

A matrix is stored as `numpy.savez_compressed` bytes holding `matrix` (float64, rows and columns in
the order of `symbols`) and `meta` (a JSON string the use case fills: estimator, window, PSD
report), so a cache hit returns bit-for-bit the matrix that was computed.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from sqlalchemy import Connection, text

from stocker.core.errors import DataError

METHOD_LENGTH = 50
"""`covariance_matrices.method` is VARCHAR(50)."""
LINKAGE_LENGTH = 20
"""`hrp_trees.linkage` is VARCHAR(20)."""


def universe_hash(symbols: Sequence[str]) -> str:
    """sha256 hex of the comma-joined symbols, as the tables' CHECK computes it."""
    return hashlib.sha256(",".join(symbols).encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class StoredCovariance:
    """One `covariance_matrices` row, the blob decoded."""

    id: int
    as_of_date: dt.date
    universe_hash: str
    symbols: tuple[str, ...]
    method: str
    matrix: np.ndarray
    meta: dict[str, Any]
    created_at: dt.datetime


@dataclass(frozen=True)
class StoredTree:
    """One `hrp_trees` row; `tree_json` is the text the use case stored."""

    id: int
    as_of_date: dt.date
    universe_hash: str
    symbols: tuple[str, ...]
    linkage: str
    tree_json: str
    created_at: dt.datetime


def encode_matrix(matrix: np.ndarray, meta: Mapping[str, Any]) -> bytes:
    """Compressed npz bytes of the matrix and its JSON metadata (no pickle)."""
    buffer = io.BytesIO()
    np.savez_compressed(
        buffer,
        matrix=np.ascontiguousarray(matrix, dtype=np.float64),
        meta=np.array(json.dumps(dict(meta), default=str)),
    )
    return buffer.getvalue()


def decode_matrix(blob: bytes) -> tuple[np.ndarray, dict[str, Any]]:
    """The matrix and metadata of `encode_matrix` bytes."""
    with np.load(io.BytesIO(blob), allow_pickle=False) as data:
        matrix = np.array(data["matrix"], dtype=np.float64)
        meta = json.loads(str(data["meta"]))
    return matrix, meta


def _checked_key(symbols: Sequence[str], method: str, column: str, length: int) -> None:
    if not symbols:
        raise DataError("symbols: expected at least one symbol, got none")
    if not method or len(method) > length:
        raise DataError(f"{column}: got {method!r}, expected 1 to {length} characters")


class CovarianceRepository:
    """covariance_matrices and hrp_trees."""

    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    # --- covariance_matrices ----------------------------------------------------------------------

    def matrix(
        self, as_of_date: dt.date, symbols: Sequence[str], method: str
    ) -> StoredCovariance | None:
        """The stored matrix for (as_of_date, hash of `symbols`, method), or None.

        The row found has the same hash; the caller still compares its symbols (rule 11.10.3:
        different lists can join to the same string, e.g. ``["A,B"]`` and ``["A", "B"]``).
        """
        row = self._conn.execute(
            text(
                "SELECT id, as_of_date, universe_hash, symbols, method, matrix_blob, created_at "
                "FROM covariance_matrices "
                "WHERE as_of_date = :day AND universe_hash = :hash AND method = :method"
            ),
            {"day": as_of_date, "hash": universe_hash(symbols), "method": method},
        ).one_or_none()
        if row is None:
            return None
        matrix, meta = decode_matrix(bytes(row.matrix_blob))
        return StoredCovariance(
            id=row.id,
            as_of_date=row.as_of_date,
            universe_hash=row.universe_hash,
            symbols=tuple(row.symbols),
            method=row.method,
            matrix=matrix,
            meta=meta,
            created_at=row.created_at,
        )

    def save_matrix(
        self,
        as_of_date: dt.date,
        symbols: Sequence[str],
        method: str,
        matrix: np.ndarray,
        meta: Mapping[str, Any],
    ) -> StoredCovariance:
        """Store (or replace) the matrix of (as_of_date, symbols, method) and return the row."""
        _checked_key(symbols, method, "method", METHOD_LENGTH)
        values = np.asarray(matrix, dtype=np.float64)
        if values.shape != (len(symbols), len(symbols)):
            raise DataError(
                f"matrix: shape {values.shape} does not match {len(symbols)} symbols "
                "(rule 11.10.3: a matrix corresponds exactly to its universe)"
            )
        row = self._conn.execute(
            text(
                "INSERT INTO covariance_matrices "
                "(as_of_date, universe_hash, symbols, method, matrix_blob) "
                "VALUES (:day, :hash, :symbols, :method, :blob) "
                "ON CONFLICT (as_of_date, universe_hash, method) DO UPDATE SET "
                "symbols = EXCLUDED.symbols, matrix_blob = EXCLUDED.matrix_blob, "
                "created_at = NOW() "
                "RETURNING id, universe_hash, created_at"
            ),
            {
                "day": as_of_date,
                "hash": universe_hash(symbols),
                "symbols": list(symbols),
                "method": method,
                "blob": encode_matrix(values, meta),
            },
        ).one()
        return StoredCovariance(
            id=row.id,
            as_of_date=as_of_date,
            universe_hash=row.universe_hash,
            symbols=tuple(symbols),
            method=method,
            matrix=values,
            meta=dict(meta),
            created_at=row.created_at,
        )

    def matrices(self, as_of_date: dt.date | None = None) -> list[dict[str, Any]]:
        """What is cached (without the blobs): id, as_of_date, method, symbol count, bytes."""
        rows = self._conn.execute(
            text(
                "SELECT id, as_of_date, universe_hash, method, cardinality(symbols) AS symbols, "
                "octet_length(matrix_blob) AS bytes, created_at FROM covariance_matrices "
                "WHERE CAST(:day AS DATE) IS NULL OR as_of_date = :day "
                "ORDER BY as_of_date, method, id"
            ),
            {"day": as_of_date},
        )
        return [dict(row._mapping) for row in rows]

    # --- hrp_trees --------------------------------------------------------------------------------

    def tree(self, as_of_date: dt.date, symbols: Sequence[str], linkage: str) -> StoredTree | None:
        """The stored tree for (as_of_date, hash of `symbols`, linkage), or None."""
        row = self._conn.execute(
            text(
                "SELECT id, as_of_date, universe_hash, symbols, linkage, tree_json::text AS tree, "
                "created_at FROM hrp_trees "
                "WHERE as_of_date = :day AND universe_hash = :hash AND linkage = :linkage"
            ),
            {"day": as_of_date, "hash": universe_hash(symbols), "linkage": linkage},
        ).one_or_none()
        if row is None:
            return None
        return StoredTree(
            id=row.id,
            as_of_date=row.as_of_date,
            universe_hash=row.universe_hash,
            symbols=tuple(row.symbols),
            linkage=row.linkage,
            tree_json=row.tree,
            created_at=row.created_at,
        )

    def save_tree(
        self, as_of_date: dt.date, symbols: Sequence[str], linkage: str, tree_json: str
    ) -> StoredTree:
        """Store (or replace) the tree of (as_of_date, symbols, linkage) and return the row."""
        _checked_key(symbols, linkage, "linkage", LINKAGE_LENGTH)
        row = self._conn.execute(
            text(
                "INSERT INTO hrp_trees (as_of_date, universe_hash, symbols, linkage, tree_json) "
                "VALUES (:day, :hash, :symbols, :linkage, CAST(:tree AS JSONB)) "
                "ON CONFLICT (as_of_date, universe_hash, linkage) DO UPDATE SET "
                "symbols = EXCLUDED.symbols, tree_json = EXCLUDED.tree_json, created_at = NOW() "
                "RETURNING id, universe_hash, created_at"
            ),
            {
                "day": as_of_date,
                "hash": universe_hash(symbols),
                "symbols": list(symbols),
                "linkage": linkage,
                "tree": tree_json,
            },
        ).one()
        return StoredTree(
            id=row.id,
            as_of_date=as_of_date,
            universe_hash=row.universe_hash,
            symbols=tuple(symbols),
            linkage=linkage,
            tree_json=tree_json,
            created_at=row.created_at,
        )
