"""CSV downloads of the tables pages show (the same rows, every column)."""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from typing import Any

from fastapi.responses import Response

from stocker.web.site import cell


def csv_response(columns: Sequence[str], rows: Sequence[Sequence[Any]], filename: str) -> Response:
    """Rows as a `text/csv` attachment named `filename` (numbers written in full)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(columns)
    for row in rows:
        writer.writerow(["" if value is None else _plain(value) for value in row])
    safe = "".join(ch for ch in filename if ch.isalnum() or ch in "._-") or "table.csv"
    return Response(
        buffer.getvalue(),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{safe}"'},
    )


def _plain(value: Any) -> Any:
    if isinstance(value, float | int | str):
        return value
    if hasattr(value, "isoformat"):
        return cell(value)
    return str(value)


def table_csv(t: dict[str, Any], filename: str) -> Response:
    """A page table (`stocker.web.site.table`) as CSV."""
    return csv_response(t["columns"], t["rows"], filename)
