"""The re-run check of an ingest looks its payload up in `ix_ingest_quarantine_payload` instead of
reading every quarantined row of the table (against real PostgreSQL, ~200,000 kept rows)."""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import Connection, Engine, TextClause, text

from stocker.store.quarantine import _KEPT_QUERIES, _kept_before

PAYLOADS, PER_PAYLOAD = 40, 5_000  # 200,000 kept rows, as a table after many ingests
CHUNK = 2_000


def _raw_row(payload: int, line: int) -> dict[str, Any]:
    return {"symbol": f"S{payload}", "close": "39x", "line": line}


def _fill(conn: Connection) -> None:
    """Rows on lines 2, 52, 102, … of 40 payloads `h0`…`h39`, one of them unnumbered each."""
    conn.execute(
        text(
            """
            INSERT INTO ingest_quarantine (batch_id, target_table, source, source_hash,
                                           row_number, symbol, raw_row, reasons)
            SELECT gen_random_uuid(), 'prices_daily', 'csv', 'h' || p,
                   CASE WHEN n = 0 THEN NULL ELSE 2 + n * 50 END, 'S' || p,
                   jsonb_build_object('symbol', 'S' || p, 'close', '39x', 'line', 2 + n * 50),
                   ARRAY['unparseable']
            FROM generate_series(0, :payloads - 1) AS p, generate_series(0, :per - 1) AS n
            """
        ),
        {"payloads": PAYLOADS, "per": PER_PAYLOAD},
    )
    conn.execute(text("ANALYZE ingest_quarantine"))


def _plan(conn: Connection, statement: TextClause, parameters: dict[str, Any]) -> str:
    rows = conn.execute(text(f"EXPLAIN (COSTS OFF) {statement.text}"), parameters)
    return "\n".join(row[0] for row in rows)


def test_the_rerun_check_when_200k_rows_are_kept_reads_only_its_payload_through_the_index(
    engine: Engine,
) -> None:
    # a chunk of 2,000 rejects on every 25th line of payload h7: every other one kept before
    numbers = [2 + 60_000 + step * 25 for step in range(CHUNK)]
    texts = [json.dumps(_raw_row(7, number)) for number in numbers]
    texts[2] = json.dumps({**_raw_row(7, numbers[2]), "close": "40x"})  # same line, other row
    with engine.begin() as conn:
        _fill(conn)
        parameters = {
            "rows": "[" + ",".join(f"[{n},{t}]" for n, t in zip(numbers, texts, strict=True)) + "]",
            "low": numbers[0],
            "high": numbers[-1],
            "table": "prices_daily",
            "source": "csv",
            "source_hash": "h7",
        }
        plans = [
            _plan(conn, statement, parameters)
            for query in _KEPT_QUERIES.values()
            for statement in (query.any_kept, query.kept)
        ]

        kept = _kept_before(
            conn, table="prices_daily", source="csv", source_hash="h7", numbers=numbers, texts=texts
        )
        unnumbered = _kept_before(
            conn,
            table="prices_daily",
            source="csv",
            source_hash="h7",
            numbers=[None, None],
            texts=[json.dumps(_raw_row(7, 2)), json.dumps(_raw_row(8, 2))],
        )

    for plan in plans:
        assert "ix_ingest_quarantine_payload" in plan, plan
        assert "Seq Scan on ingest_quarantine" not in plan, plan
    assert kept == {position for position in range(0, CHUNK, 2)} - {2}
    assert unnumbered == {0}  # h7's unnumbered row, not h8's
