"""Re-running a file keeps its refused rows once (whatever became of them); a corrected file,
or another file with the same bad rows, is another payload (against real PostgreSQL)."""

from __future__ import annotations

import json
import re
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, text
from typer.testing import CliRunner

from stocker.bootstrap import App
from stocker.cli import app as cli
from stocker.data import quarantine
from stocker.data.ingest import fetch_and_ingest
from stocker.data.reports import IngestReport
from stocker.sources import registry
from stocker.sources.base import FetchRequest
from stocker.store.uow import SqlUnitOfWork

from .quarantine_rows import kept_rows

TODAY = date(2024, 6, 28)
HEADER = "Date,Open,High,Low,Close,Vol\n"
GOOD = "2024-01-16,390,392,389,391,100\n"
UNPARSEABLE = "2024-01-17,391,393,390,39x,120\n"  # line 3: the source cannot read the close
HIGH_BELOW_LOW = "2024-01-18,391,389,390,390,110\n"  # line 4: refused by the bar rules
BAD = HEADER + GOOD + UNPARSEABLE + HIGH_BELOW_LOW
CORRECTED = HEADER + GOOD + "2024-01-17,391,393,390,392,120\n2024-01-18,391,392,390,390,110\n"


def _load(uow: SqlUnitOfWork, path: Path, **options: Any) -> IngestReport:
    source = registry.get_source("csv", path=path, symbol="aapl", **options)
    return fetch_and_ingest(uow, source, FetchRequest(()), today=TODAY)


def _closes(engine: Engine) -> dict[date, Decimal]:
    with engine.connect() as conn:
        rows = conn.execute(text("SELECT date, close FROM prices_daily ORDER BY date")).all()
    return {row.date: row.close for row in rows}


def test_a_bars_file_ingested_twice_keeps_each_bad_line_once_and_a_corrected_file_lands(
    engine: Engine, uow: SqlUnitOfWork, tmp_path: Path
) -> None:
    path = tmp_path / "aapl.csv"
    path.write_text(BAD)

    first = _load(uow, path).table("prices_daily")
    again = _load(uow, path).table("prices_daily")

    rows = kept_rows(engine)
    assert [row.row_number for row in rows] == [3, 4]
    assert {row.batch_id for row in rows} == {first.batch_id}
    assert (first.quarantined, again.quarantined) == (2, 0)
    # the re-run still says what it refused, and records that it kept nothing new
    assert again.reasons["unparseable"] == 1 and again.reasons["high_below_low"] == 1
    with engine.connect() as conn:
        batches = conn.execute(
            text(
                "SELECT received, unchanged, quarantined FROM ingest_batches "
                "WHERE target_table = 'prices_daily' ORDER BY id"
            )
        ).all()
    assert [tuple(batch) for batch in batches] == [(3, 0, 2), (3, 1, 0)]

    path.write_text(CORRECTED)
    fixed = _load(uow, path).table("prices_daily")

    assert (fixed.inserted, fixed.unchanged, fixed.quarantined) == (2, 1, 0)
    assert _closes(engine) == {
        date(2024, 1, 16): Decimal("391.0000"),
        date(2024, 1, 17): Decimal("392.0000"),
        date(2024, 1, 18): Decimal("390.0000"),
    }
    assert len(kept_rows(engine)) == 2


def test_a_rerun_does_not_bring_back_released_or_discarded_rows_but_another_file_keeps_its_own(
    engine: Engine, uow: SqlUnitOfWork, tmp_path: Path
) -> None:
    path = tmp_path / "aapl.csv"
    path.write_text(BAD)
    _load(uow, path)
    unparseable, refused = (row.id for row in kept_rows(engine))
    released = quarantine.release(uow, [unparseable], {"Close": "392"}, today=TODAY)
    assert released.released == [unparseable], released.outcomes
    assert quarantine.discard(uow, [refused], "a bad print") == 1

    rerun = _load(uow, path).table("prices_daily")

    assert rerun.quarantined == 0
    assert [row.status for row in kept_rows(engine)] == ["RELEASED", "DISCARDED"]
    # the same lines in a file of another name are that payload's to keep
    other = tmp_path / "aapl_copy.csv"
    other.write_text(BAD)
    copy = _load(uow, other).table("prices_daily")
    assert copy.quarantined == 2
    assert [row.source for row in kept_rows(engine)[2:]] == ["csv:aapl_copy.csv"] * 2


def test_a_fundamentals_file_ingested_twice_keeps_its_bad_row_once(
    app: App, engine: Engine, tmp_path: Path
) -> None:
    metrics = tmp_path / "metrics.csv"
    metrics.write_text("symbol,as_of_date,pe_ttm\nSPY,2024-03-01,24.5\nSPY,2030-01-01,25.0\n")
    arguments = ["data", "ingest", "--source", "csv", "--file", str(metrics)]
    arguments += ["--table", "instrument_metrics", "--today", "2024-06-28"]

    outputs = [
        CliRunner().invoke(cli, arguments, obj=app, env={"COLUMNS": "200"}) for _ in range(2)
    ]

    assert [result.exit_code for result in outputs] == [0, 0], [r.output for r in outputs]
    assert all("future_date ×1" in result.output for result in outputs)
    (row,) = kept_rows(engine)
    assert row.row_number == 3


def _counts(output: str, table: str) -> list[int]:
    """received, inserted, updated, unchanged, quarantined from the summary table's row."""
    (line,) = (line for line in output.splitlines() if f" {table} " in line)
    return [int(cell.replace(",", "")) for cell in re.findall(r"\d[\d,]*", line)]


def test_the_cli_rerun_says_its_refused_row_was_already_in_quarantine_and_its_counts_add_up(
    app: App, engine: Engine, tmp_path: Path
) -> None:
    path = tmp_path / "aapl.csv"
    path.write_text(HEADER + GOOD + HIGH_BELOW_LOW)
    arguments = ["data", "ingest", "--source", "csv", "--file", str(path), "--symbol", "AAPL"]
    arguments += ["--today", TODAY.isoformat()]

    def run(*more: str) -> str:
        result = CliRunner().invoke(cli, [*arguments, *more], obj=app, env={"COLUMNS": "200"})
        assert result.exit_code == 0, result.output
        return result.output

    first, again, as_json = run(), run(), json.loads(run("--json"))

    assert _counts(first, "prices_daily") == [2, 1, 0, 0, 1]
    assert "already in quarantine" not in first
    received, inserted, updated, unchanged, quarantined = _counts(again, "prices_daily")
    assert (received, quarantined) == (2, 0)
    assert "1 refused row(s) were already in quarantine" in again
    assert "high_below_low ×1" in again
    assert received == inserted + updated + unchanged + quarantined + 1
    (table,) = as_json["tables"]
    assert table["table"] == "prices_daily"
    assert (table["received"], table["quarantined"], table["already_quarantined"]) == (2, 0, 1)
    counted = ("inserted", "updated", "unchanged", "quarantined", "already_quarantined")
    assert table["received"] == sum(table[name] for name in counted)
    assert table["reasons"]["high_below_low"] == 1
    assert len(kept_rows(engine)) == 1


def test_a_rerun_read_in_chunks_counts_every_chunks_already_quarantined_rows(
    app: App, engine: Engine, tmp_path: Path
) -> None:
    """Two refused rows in different chunks (one row per chunk): both are counted on a re-run."""
    path = tmp_path / "aapl.csv"
    second_bad = "2024-01-19,391,389,390,390,110\n"  # high below low again, another line
    path.write_text(HEADER + GOOD + HIGH_BELOW_LOW + second_bad)
    arguments = ["data", "ingest", "--source", "csv", "--file", str(path), "--symbol", "AAPL"]
    arguments += ["--today", TODAY.isoformat(), "--chunk-rows", "1", "--json"]

    def run() -> dict[str, Any]:
        result = CliRunner().invoke(cli, arguments, obj=app, env={"COLUMNS": "200"})
        assert result.exit_code == 0, result.output
        (table,) = json.loads(result.output)["tables"]
        return dict(table)

    first, again = run(), run()
    assert (first["quarantined"], first["already_quarantined"]) == (2, 0)
    assert (again["quarantined"], again["already_quarantined"]) == (0, 2)
    assert len(kept_rows(engine)) == 2
