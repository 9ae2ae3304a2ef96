"""Sentiment ingest: daily aggregation, market-wide rows, rejects kept in quarantine."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import Engine, text
from typer.testing import CliRunner

from stocker.bootstrap import App
from stocker.core.errors import DataError
from stocker.data.sentiment import ingest_sentiment, ingest_sentiment_csv
from stocker.store.uow import SqlUnitOfWork

CSV = """symbol,timestamp,sentiment_score,sentiment_magnitude,article_count
AAPL,2024-03-01T14:30:00Z,0.5,2.0,3
AAPL,2024-03-01T20:00:00-05:00,-0.1,1.0,1
AAPL,2024-03-01T09:00:00Z,0.9,,
MSFT,2024-03-01T10:00:00Z,-0.4,1.0,2
,2024-03-01T12:00:00Z,0.2,0.5,4
MSFT,2024-03-01T10:00:00Z,1.5,1.0,1
NVDA,not-a-date,0.3,1.0,1
NVDA,2024-03-01T10:00:00Z,0.3,1.0,-2
"""


def _stored(engine: Engine) -> dict[tuple[str | None, date], tuple[Decimal, Decimal | None, int]]:
    with engine.connect() as conn:
        rows = conn.execute(
            text(
                "SELECT symbol, date, sentiment_score, sentiment_magnitude, article_count "
                "FROM market_sentiment WHERE source = 'news'"
            )
        )
        return {(row[0], row[1]): (row[2], row[3], row[4]) for row in rows}


TODAY = date(2024, 6, 28)


def test_ingest_sentiment_csv_aggregates_by_day_and_quarantines_invalid_rows(
    engine: Engine, uow: SqlUnitOfWork, tmp_path: Path
) -> None:
    path = tmp_path / "news.csv"
    path.write_text(CSV)
    report = ingest_sentiment_csv(uow, path, source="news", today=TODAY)
    stored = _stored(engine)
    # AAPL on 2024-03-01 (UTC): 0.5 ×3, 0.9 ×1 (no count = one article); the -0.1 row is
    # 2024-03-02 01:00 UTC. Weighted mean (1.5 + 0.9) / 4 = 0.6; magnitude over present: 2.0.
    assert stored[("AAPL", date(2024, 3, 1))] == (Decimal("0.6000"), Decimal("2.0000"), 4)
    assert stored[("AAPL", date(2024, 3, 2))] == (Decimal("-0.1000"), Decimal("1.0000"), 1)
    assert stored[("MSFT", date(2024, 3, 1))] == (Decimal("-0.4000"), Decimal("1.0000"), 2)
    # Market-wide on 2024-03-01: every valid row of the day, symbol or not:
    # (1.5 + 0.9 - 0.8 + 0.8) / (3 + 1 + 2 + 4) = 0.24.
    assert stored[(None, date(2024, 3, 1))][0] == Decimal("0.2400")
    assert stored[(None, date(2024, 3, 1))][2] == 10
    assert report.received == 8 and len(report.rejected) == 3
    reasons = {reject.row_number: reject.texts for reject in report.rejected}
    assert reasons[5] == ("sentiment_score: outside [-1, 1]",)
    assert reasons[6] == ("date: missing or not a date/timestamp",)
    assert reasons[7] == ("article_count: expected a whole number >= 0",)
    with engine.connect() as conn:
        quarantined = conn.execute(
            text(
                "SELECT row_number, reasons FROM ingest_quarantine "
                "WHERE target_table = 'market_sentiment' ORDER BY row_number"
            )
        ).fetchall()
    assert [(row[0], list(row[1])) for row in quarantined] == [
        (number, list(reasons[number])) for number in (5, 6, 7)
    ]


def test_ingest_sentiment_when_reloaded_updates_nothing_and_keeps_one_market_row(
    engine: Engine, uow: SqlUnitOfWork
) -> None:
    rows = [
        {"date": "2024-03-01", "sentiment_score": 0.25, "article_count": 2},
        {"symbol": "AAPL", "date": "2024-03-01", "sentiment_score": -0.5},
    ]
    first = ingest_sentiment(uow, rows, source="news", today=TODAY)
    again = ingest_sentiment(uow, rows, source="news", today=TODAY)
    with engine.connect() as conn:
        count = conn.execute(
            text("SELECT count(*) FROM market_sentiment WHERE symbol IS NULL")
        ).scalar_one()
    assert (first.inserted, again.inserted, again.updated, again.unchanged) == (2, 0, 0, 2)
    assert count == 1
    assert _stored(engine)[(None, date(2024, 3, 1))][0] == Decimal("0.0000")


def test_ingest_sentiment_when_score_column_missing_raises(uow: SqlUnitOfWork) -> None:
    with pytest.raises(DataError, match="need 'sentiment_score'"):
        ingest_sentiment(uow, [{"date": "2024-03-01", "score": 0.1}], source="news", today=TODAY)


def test_sentiment_cli_loads_file_and_lists_rejects(
    engine: Engine, app: App, tmp_path: Path
) -> None:
    from stocker.cli import app as cli_app

    path = tmp_path / "news.csv"
    path.write_text(CSV)
    result = CliRunner().invoke(
        cli_app, ["data", "sentiment", str(path), "--source", "news"], obj=app
    )
    assert result.exit_code == 0, result.output
    assert "sentiment_score: outside [-1, 1]" in result.output
    assert len(_stored(engine)) == 5  # AAPL ×2 days, MSFT, market-wide ×2 days
