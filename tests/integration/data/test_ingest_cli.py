"""`stocker data ingest` and `stocker data quarantine …` end to end on a test database."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import text
from typer.testing import CliRunner

from stocker.cli import app as cli_app

HEADER = "symbol,date,open,high,low,close,adj_close,volume"


@pytest.fixture
def cli(app):
    """The command line on the application built from this test's own settings."""
    runner = CliRunner()
    return lambda *args: runner.invoke(cli_app, list(args), obj=app)


def test_cli_ingest_then_release_a_corrected_row(cli, engine, tmp_path: Path):
    path = tmp_path / "bars.csv"
    path.write_text(
        "\n".join(
            [
                HEADER,
                "MSFT,2024-01-16,390.0,392.0,389.0,391.0,391.0,100",
                "MSFT,2024-01-17,391.0,389.0,390.0,391.5,391.5,120",  # high below everything
            ]
        )
        + "\n"
    )
    result = cli("data", "ingest", "--source", "csv", "--file", str(path), "--today", "2024-06-28")
    assert result.exit_code == 0, result.output
    assert "prices_daily" in result.output and "high_below_open ×1" in result.output

    listing = cli("data", "quarantine", "list")
    assert listing.exit_code == 0 and "date=2024-01-17" in listing.output
    with engine.connect() as conn:
        entry_id = conn.execute(text("SELECT id FROM ingest_quarantine")).scalar_one()
    shown = cli("data", "quarantine", "show", str(entry_id))
    assert "high_below_low: high 389 is below low 390" in shown.output

    still = cli("data", "quarantine", "release", str(entry_id), "--set", "high=391.2")
    assert still.exit_code == 1 and "high_below_close" in still.output
    released = cli(
        "data", "quarantine", "release", str(entry_id), "--set", "high=392.5",
        "--today", "2024-06-28",
    )  # fmt: skip
    assert released.exit_code == 0, released.output
    assert f"#{entry_id} released" in released.output
    with engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM prices_daily")).scalar_one() == 2


def test_cli_broken_file_prints_one_clear_error(cli, tmp_path: Path):
    path = tmp_path / "empty.csv"
    path.write_bytes(b"")
    result = cli("data", "ingest", "--source", "csv", "--file", str(path))
    assert result.exit_code == 2
    assert "error:" in result.output and "the file is empty" in result.output


def test_cli_discard_needs_a_note_and_marks_the_row(cli, engine, tmp_path: Path):
    path = tmp_path / "bars.csv"
    path.write_text(HEADER + "\nMSFT,2024-01-20,390,392,389,391,391,100\n")  # a Saturday
    assert cli("data", "ingest", "--source", "csv", "--file", str(path)).exit_code == 0
    with engine.connect() as conn:
        entry_id = conn.execute(text("SELECT id FROM ingest_quarantine")).scalar_one()
    result = cli("data", "quarantine", "discard", str(entry_id), "--note", "weekend print")
    assert result.exit_code == 0 and "1 row(s) discarded" in result.output
    assert "nothing in quarantine matches" in cli("data", "quarantine", "list").output


FILES = Path(__file__).resolve().parents[2] / "fixtures" / "vendors" / "files"
MARKET_BAR_KEYS = {
    "event_type", "symbol", "date", "open", "high", "low", "close", "adj_close", "volume",
    "provider",
}  # fmt: skip


def test_cli_ingest_fills_one_symbol_files_intraday_and_metrics_and_queues_bar_events(
    cli, engine, tmp_path: Path
):
    metrics = tmp_path / "metrics.csv"
    metrics.write_text("symbol,as_of_date,pe_ttm\nSPY,2024-03-01,24.5\n")
    daily = FILES / "spy_daily_yahoo_download.csv"
    runs = [
        # bars from March announced on 28 June: a window of 100 weekdays reaches them
        ("--file", str(daily), "--symbol", "spy", "--recent-sessions", "100"),
        ("--file", str(FILES / "spy_intraday_5m.csv"), "--table", "prices_intraday"),
        ("--file", str(metrics), "--table", "instrument_metrics"),
    ]
    runs[1] += ("--interval", "5m")

    results = [
        cli("data", "ingest", "--source", "csv", *run, "--today", "2024-06-28") for run in runs
    ]

    assert [result.exit_code for result in results] == [0, 0, 0], [r.output for r in results]
    assert "market-bars events queued: 4" in results[0].output
    with engine.connect() as conn:
        bars = conn.execute(text("SELECT count(*) FROM prices_daily WHERE symbol = 'SPY'")).scalar()
        intraday = conn.execute(text("SELECT DISTINCT interval, source FROM prices_intraday")).all()
        metric = conn.execute(text("SELECT symbol, source, pe_ttm FROM instrument_metrics")).one()
        events = conn.execute(text("SELECT stream, payload FROM outbox ORDER BY id")).all()
    assert bars == 4
    assert [tuple(row) for row in intraday] == [("5m", "csv:spy_intraday_5m.csv")]
    assert (metric.symbol, metric.source, float(metric.pe_ttm)) == ("SPY", "csv:metrics.csv", 24.5)
    assert len(events) == 4 and {event.stream for event in events} == {"market-bars"}
    first = events[0].payload
    assert set(first) == MARKET_BAR_KEYS
    assert (first["event_type"], first["symbol"], first["date"]) == (
        "market_bar", "SPY", "2024-03-11",
    )  # fmt: skip
    assert first["close"] == "511.2800" and isinstance(first["volume"], int)
    assert first["provider"] == "csv:spy_daily_yahoo_download.csv"


def test_cli_ingest_file_without_symbol_column_names_the_symbol_option(cli):
    result = cli(
        "data", "ingest", "--source", "csv", "--file", str(FILES / "spy_daily_yahoo_download.csv")
    )
    assert result.exit_code == 2
    assert "missing required column(s) symbol" in result.output
    assert "--symbol" in result.output
