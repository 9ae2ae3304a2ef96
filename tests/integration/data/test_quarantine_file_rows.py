"""Quarantined rows of files: a one-symbol file's rows carry its symbol, and corrections may use
the file's own column names."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import text

from stocker.core.errors import DataError
from stocker.data import quarantine
from stocker.data.ingest import fetch_and_ingest
from stocker.sources import registry
from stocker.sources.base import FetchRequest

TODAY = date(2024, 6, 28)


def _load(uow, path: Path, **options):
    source = registry.get_source("csv", path=path, **options)
    return fetch_and_ingest(uow, source, FetchRequest(()), today=TODAY)


def test_one_symbol_file_rows_are_quarantined_with_the_symbol_and_released_by_file_names(
    engine, uow, tmp_path: Path
):
    path = tmp_path / "aapl.csv"
    path.write_text(
        "Date,Open,High,Low,Close,Vol\n"
        "2024-01-16,390,392,389,391,100\n"
        "2024-01-17,391,393,390,39x,120\n"
    )
    report = _load(uow, path, symbol="aapl")
    assert report.table("prices_daily").reasons["unparseable"] == 1

    (entry,) = quarantine.list_entries(uow, symbol="AAPL")
    assert entry.symbol == "AAPL" and entry.raw_row["Close"] == "39x"
    with pytest.raises(DataError, match=r"Bogus.*or the row's own field names .*Close"):
        quarantine.release(uow, [entry.id], {"Bogus": "1"}, today=TODAY)
    released = quarantine.release(uow, [entry.id], {"Close": "392"}, today=TODAY)

    assert released.released == [entry.id], released.outcomes
    with engine.connect() as conn:
        row = conn.execute(
            text("SELECT symbol, close, volume FROM prices_daily WHERE date = '2024-01-17'")
        ).one()
    assert (row.symbol, row.close, row.volume) == ("AAPL", Decimal("392.0000"), 120)


def test_cli_one_symbol_file_row_is_listed_by_symbol_and_released_with_the_files_header(
    app, engine, tmp_path: Path
):
    from typer.testing import CliRunner

    from stocker.cli import app as cli_app

    def cli(*args: str):
        return CliRunner().invoke(cli_app, list(args), obj=app)

    path = tmp_path / "aapl.csv"
    path.write_text(
        "Date,Open,High,Low,Close,Volume\n"
        "2024-01-16,390,392,389,391,100\n"
        "2024-01-17,391,393,390,39x,120\n"
    )
    loaded = cli(
        "data", "ingest", "--source", "csv", "--file", str(path), "--symbol", "AAPL",
        "--today", TODAY.isoformat(),
    )  # fmt: skip
    assert loaded.exit_code == 0, loaded.output

    listing = cli("data", "quarantine", "list", "--symbol", "AAPL")
    assert listing.exit_code == 0 and "symbol=AAPL" in listing.output, listing.output
    with engine.connect() as conn:
        entry_id = conn.execute(text("SELECT id FROM ingest_quarantine")).scalar_one()
    released = cli(
        "data", "quarantine", "release", str(entry_id), "--set", "Close=392",
        "--today", TODAY.isoformat(),
    )  # fmt: skip
    assert released.exit_code == 0, released.output
    assert f"#{entry_id} released" in released.output
