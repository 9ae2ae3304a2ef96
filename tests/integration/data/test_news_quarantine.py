"""Refused news rows are kept in ingest_quarantine with their reasons and line, once per file,
and can be released corrected or discarded (against real PostgreSQL)."""

from __future__ import annotations

import hashlib
import json
import uuid
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, text
from typer.testing import CliRunner

from stocker.bootstrap import App
from stocker.cli import app as cli
from stocker.core.errors import DataError
from stocker.data import quarantine
from stocker.data.news import ingest_news, ingest_news_file
from stocker.data.news_release import release_news
from stocker.sources.base import RawReject
from stocker.sources.news import NEWS_TABLE, NewsBatch, articles_frame
from stocker.store.uow import SqlUnitOfWork

from .quarantine_rows import kept_rows

NEWS_CSV = (
    "published_at,Title,symbols,url\n"
    "2022-12-27T14:30:00Z,Apple beats estimates,AAPL,https://example.com/1\n"
    "03/04/2022,Microsoft cloud grows,MSFT,https://example.com/2\n"
    "2022-12-27T15:00:00Z,Exxon output rises,XOM\u200b,https://example.com/3\n"
    "2022-12-27T16:00:00Z,,TSLA,https://example.com/4\n"
    "2022-12-28T14:30:00Z,Fed holds rates,,https://example.com/5\n"
)
LINES = [3, 4, 5]


def _write(tmp_path: Path, name: str, content: str) -> Path:
    path = tmp_path / name
    path.write_bytes(content.encode("utf-8"))
    return path


def _headlines(engine: Engine) -> list[str]:
    with engine.connect() as conn:
        return list(
            conn.execute(text("SELECT headline FROM news_articles ORDER BY published_at")).scalars()
        )


def _run(app: App, *arguments: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, list(arguments), obj=app, env={"COLUMNS": "200"})
    assert "Traceback" not in result.output, result.output
    return result.exit_code, result.output


def test_a_news_file_stores_good_rows_and_keeps_each_bad_one_with_its_reason_and_line(
    uow: SqlUnitOfWork, engine: Engine, tmp_path: Path
) -> None:
    path = _write(tmp_path, "news.csv", NEWS_CSV)

    report = ingest_news_file(uow, path)

    assert (report.received, report.inserted, report.quarantined) == (5, 2, 3)
    assert _headlines(engine) == ["Apple beats estimates", "Fed holds rates"]
    rows = kept_rows(engine)
    assert [row.row_number for row in rows] == LINES
    assert {row.target_table for row in rows} == {"news_articles"}
    assert {row.source for row in rows} == {"file"}
    assert {row.batch_id for row in rows} == {report.batch_id}
    assert {row.source_hash for row in rows} == {hashlib.sha256(path.read_bytes()).hexdigest()}
    ambiguous, invisible, headless = rows
    # kept exactly as the file had them, under the file's own names
    assert ambiguous.raw_row == {
        "published_at": "03/04/2022",
        "Title": "Microsoft cloud grows",
        "symbols": "MSFT",
        "url": "https://example.com/2",
    }
    assert "ambiguous" in ambiguous.reasons[0] and "03/04/2022" in ambiguous.reasons[0]
    assert ambiguous.row_key == "published_at=03/04/2022, Title=Microsoft cloud grows"
    assert invisible.raw_row["symbols"] == "XOM\u200b"
    assert "U+200B ZERO WIDTH SPACE" in invisible.reasons[0]
    assert headless.raw_row["Title"] is None and list(headless.reasons) == ["headline: missing"]
    with engine.connect() as conn:
        batch = conn.execute(
            text(
                "SELECT source, target_table, received, inserted, quarantined, source_hash "
                "FROM ingest_batches WHERE batch_id = :id"
            ),
            {"id": report.batch_id},
        ).one()
    assert tuple(batch) == ("file", "news_articles", 5, 2, 3, rows[0].source_hash)


def test_a_second_run_of_the_same_file_keeps_nothing_twice_even_after_a_decision(
    uow: SqlUnitOfWork, engine: Engine, tmp_path: Path
) -> None:
    path = _write(tmp_path, "news.csv", NEWS_CSV)
    ingest_news_file(uow, path)
    first = [row.id for row in kept_rows(engine)]
    quarantine.discard(uow, [first[2]], "no headline: nothing to score")

    again = ingest_news_file(uow, path)

    assert (again.inserted, again.unchanged, len(again.rejected), again.quarantined) == (0, 2, 3, 0)
    assert [row.id for row in kept_rows(engine)] == first
    # the same rows in another payload are that payload's to keep
    other = ingest_news_file(uow, _write(tmp_path, "other.csv", NEWS_CSV + "\n"))
    assert other.quarantined == 3 and len(kept_rows(engine)) == 6


def test_news_rejects_are_listed_by_the_first_symbol_they_name(
    app: App, uow: SqlUnitOfWork, engine: Engine, tmp_path: Path
) -> None:
    two = "2022-12-28T15:00:00Z,,nvda | amd,https://example.com/6\n"
    ingest_news_file(uow, _write(tmp_path, "news.csv", NEWS_CSV + two))
    listed = RawReject(NEWS_TABLE, {"headline": "x", "symbols": [" cvx", "XOM"]}, ("no time",))
    ingest_news(uow, NewsBatch(source="alpaca", articles=articles_frame([]), rejects=[listed]))

    with engine.connect() as conn:
        symbols = conn.execute(text("SELECT symbol FROM ingest_quarantine ORDER BY id")).scalars()
        # as the rules read them (upper-cased, trimmed), but not checked: U+200B stays
        assert list(symbols) == ["MSFT", "XOM\u200b", "TSLA", "NVDA", "CVX"]
    assert [e.raw_row["symbols"] for e in quarantine.list_entries(uow, symbol="NVDA")] == [
        "nvda | amd"
    ]
    code, output = _run(app, "data", "quarantine", "list", "--symbol", "CVX")
    assert code == 0 and output.count(" QUARANTINED news_articles ") == 1, output
    assert "from alpaca" in output


def test_json_array_and_json_lines_rejects_keep_the_line_their_article_starts_on(
    uow: SqlUnitOfWork, engine: Engine, tmp_path: Path
) -> None:
    good = {"published_at": "2022-12-27T14:30:00Z", "headline": "Fine", "symbols": ["AAPL"]}
    bad = {"published_at": "2022-12-27", "headline": "No time", "symbols": ["AAPL"]}
    array = "[\n" + json.dumps(good, indent=1) + ",\n" + json.dumps(bad, indent=1) + "\n]\n"
    lines = json.dumps(good) + "\n\n" + json.dumps(bad) + "\n"

    ingest_news_file(uow, _write(tmp_path, "news.json", array))
    ingest_news_file(uow, _write(tmp_path, "news.jsonl", lines))

    rows = kept_rows(engine)
    assert [row.row_number for row in rows] == [array.splitlines().index("{", 2) + 1, 3]
    assert [row.raw_row for row in rows] == [bad, bad]
    assert all("no time zone" in row.reasons[0] for row in rows)


def test_alpaca_rejects_are_kept_once_and_released_under_alpacas_key(
    uow: SqlUnitOfWork, engine: Engine
) -> None:
    article = {
        "id": 30207800,
        "headline": "Exxon output rises",
        "created_at": "2022-12-27T15:00:00Z",
        "symbols": ["XOM\u200b"],
        "source": "benzinga",
        "url": "",
    }
    reject = RawReject(NEWS_TABLE, article, ("symbol 'XOM\u200b' contains U+200B",))

    def batch() -> NewsBatch:
        return NewsBatch(source="alpaca", articles=articles_frame([]), rejects=[reject])

    assert ingest_news(uow, batch()).quarantined == 1
    assert ingest_news(uow, batch()).quarantined == 0
    (row,) = kept_rows(engine)
    assert (row.source, row.source_hash, row.row_number) == ("alpaca", None, None)
    assert (
        row.row_key == "id=30207800, created_at=2022-12-27T15:00:00Z, headline=Exxon output rises"
    )

    report = release_news(uow, [row.id], {"symbols": "XOM"})

    assert report.released == [row.id], report.outcomes
    with engine.connect() as conn:
        stored = conn.execute(text("SELECT article_key, symbols FROM news_articles")).one()
    assert tuple(stored) == ("alpaca:30207800", ["XOM"])


def test_release_checks_the_corrected_row_again_and_stores_it_once(
    uow: SqlUnitOfWork, engine: Engine, tmp_path: Path
) -> None:
    ingest_news_file(uow, _write(tmp_path, "news.csv", NEWS_CSV))
    ambiguous, invisible, headless = (row.id for row in kept_rows(engine))

    with pytest.raises(DataError, match=r"Bogus are not news fields.*published_at, headline"):
        release_news(uow, [ambiguous], {"Bogus": "1"})
    still = release_news(uow, [ambiguous], {"published_at": "2022-03-04"})
    assert still.still_quarantined == [ambiguous]
    assert "no time zone" in still.outcomes[0].reasons[0]

    # by column name, by the file's own header (Title), or by an alias of it (headline)
    done = release_news(uow, [ambiguous], {"published_at": "2022-03-04T14:30:00Z"})
    assert done.released == [ambiguous]
    assert release_news(uow, [invisible], {"symbols": "XOM"}).released == [invisible]
    assert release_news(uow, [headless], {"headline": "Tesla deliveries"}).released == [headless]

    assert _headlines(engine)[0] == "Microsoft cloud grows"
    assert "Tesla deliveries" in _headlines(engine)
    rows = kept_rows(engine)
    assert {row.status for row in rows} == {"RELEASED"}
    assert rows[0].resolution_note == "released with published_at=2022-03-04T14:30:00Z"
    again = release_news(uow, [ambiguous])
    assert again.outcomes[0].reasons == (
        "status is RELEASED; only QUARANTINED rows can be released",
    )
    # a re-run of the file neither quarantines the released rows again nor stores twice
    rerun = ingest_news_file(uow, tmp_path / "news.csv")
    assert (rerun.quarantined, len(kept_rows(engine)), len(_headlines(engine))) == (0, 3, 5)


def test_release_of_a_row_whose_article_is_stored_with_other_content_is_refused(
    uow: SqlUnitOfWork, engine: Engine, tmp_path: Path
) -> None:
    content = (
        "id,published_at,headline\n"
        "a1,2022-12-27T14:30:00Z,First version\n"
        "a1,2022-12-27,Second version\n"
    )
    ingest_news_file(uow, _write(tmp_path, "news.csv", content))
    (row,) = kept_rows(engine)

    report = release_news(uow, [row.id], {"published_at": "2022-12-27T15:00:00Z"})

    assert report.still_quarantined == [row.id]
    assert "file:a1 is already stored with other content" in report.outcomes[0].reasons[0]
    assert _headlines(engine) == ["First version"]


def test_cli_says_how_many_were_quarantined_and_lists_releases_and_discards_them(
    app: App, engine: Engine, tmp_path: Path
) -> None:
    path = _write(tmp_path, "news.csv", NEWS_CSV)

    code, output = _run(app, "sentiment", "ingest", "--file", str(path))
    assert code == 0, output
    assert "3 refused row(s) kept in quarantine" in output
    assert "stocker data quarantine list --table news_articles" in output
    assert "line 3: published_at '03/04/2022'" in output

    code, output = _run(app, "sentiment", "ingest", "--file", str(path), "--json")
    payload = json.loads(output)
    assert (payload["quarantined"], len(payload["rejected"]), payload["inserted"]) == (0, 3, 0)
    code, output = _run(app, "sentiment", "ingest", "--file", str(path))
    assert "3 refused row(s) were already in quarantine" in output
    assert "kept in quarantine" not in output
    uuid.UUID(payload["batch_id"])

    code, output = _run(app, "data", "quarantine", "list", "--table", "news_articles")
    assert code == 0 and output.count(" QUARANTINED news_articles ") == 3, output
    assert "headline: missing" in output and "U+200B ZERO WIDTH SPACE" in output
    ambiguous, invisible, headless = (row.id for row in kept_rows(engine))
    code, output = _run(app, "data", "quarantine", "show", str(ambiguous))
    assert code == 0 and "row 3" in output and '"03/04/2022"' in output

    code, output = _run(
        app, "sentiment", "release", str(ambiguous), "--set", "published_at=2022-03-04"
    )
    assert code == 1 and f"#{ambiguous} still quarantined" in output and "no time zone" in output
    code, output = _run(
        app, "sentiment", "release", str(ambiguous), "--set", "published_at=2022-03-04T14:30:00Z"
    )
    assert code == 0 and f"#{ambiguous} released" in output
    code, output = _run(app, "sentiment", "release", str(invisible), "--set", "Bogus=1")
    assert code == 2 and "Bogus are not news fields" in output
    code, output = _run(app, "data", "quarantine", "discard", str(headless), "--note", "empty")
    assert code == 0 and "1 row(s) discarded" in output

    assert [row.status for row in kept_rows(engine)] == ["RELEASED", "QUARANTINED", "DISCARDED"]
    assert "Microsoft cloud grows" in _headlines(engine)


def test_the_generic_release_checks_a_news_row_by_the_news_rules_and_stores_it_corrected(
    app: App, engine: Engine, tmp_path: Path
) -> None:
    code, output = _run(
        app, "sentiment", "ingest", "--file", str(_write(tmp_path, "n.csv", NEWS_CSV))
    )
    ambiguous, invisible, _ = (row.id for row in kept_rows(engine))

    code, output = _run(app, "data", "quarantine", "release", str(ambiguous))
    assert code == 1 and f"#{ambiguous} still quarantined" in output, output
    assert "ambiguous" in output and "03/04/2022" in output
    code, output = _run(
        app, "data", "quarantine", "release", str(ambiguous), str(invisible),
        "--set", "published_at=2022-03-04T14:30:00Z",
    )  # fmt: skip
    # the correction fixes one row; the other is checked again, still refused for its symbol
    assert code == 1 and f"#{ambiguous} released" in output, output
    assert f"#{invisible} still quarantined" in output and "U+200B" in output

    rows = kept_rows(engine)
    assert [row.status for row in rows] == ["RELEASED", "QUARANTINED", "QUARANTINED"]
    assert rows[0].resolution_note == "released with published_at=2022-03-04T14:30:00Z"
    assert _headlines(engine)[0] == "Microsoft cloud grows" and len(_headlines(engine)) == 3
    with engine.connect() as conn:
        stored = conn.execute(
            text("SELECT vendor, symbols FROM news_articles WHERE headline LIKE 'Microsoft%'")
        ).one()
    assert tuple(stored) == ("file", ["MSFT"])


def test_live_feed_messages_it_cannot_read_are_kept_in_quarantine(
    uow: SqlUnitOfWork, engine: Engine
) -> None:
    import importlib.util
    import threading
    from datetime import UTC, datetime

    import msgpack

    from stocker.config import Credentials
    from stocker.data.news import ingest_live_news, open_live_news_feed

    path = Path(__file__).resolve().parents[2] / "unit" / "sources" / "alpaca_stream_loopback.py"
    spec = importlib.util.spec_from_file_location("alpaca_stream_loopback", path)
    assert spec is not None and spec.loader is not None
    loopback = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(loopback)
    moment = msgpack.Timestamp.from_datetime(datetime(2022, 12, 27, 15, 0, tzinfo=UTC))

    def message(article_id: int, headline: str, symbols: list[str]) -> dict[str, Any]:
        return {"T": "n", "id": article_id, "headline": headline, "created_at": moment,
                "symbols": symbols, "summary": "", "url": "", "source": "benzinga"}  # fmt: skip

    bad, good = message(1, "Exxon output rises", ["XOM\u200b"]), message(2, "Fed holds", [])
    server = loopback.AlpacaStreamServer([[[bad], [good]]])
    server.start()
    stop = threading.Event()
    timer = threading.Timer(10, stop.set)
    timer.start()
    try:
        feed = open_live_news_feed(
            "alpaca", credentials=lambda vendor: Credentials("PK", "secret"), url=server.url,
            poll_s=0.01,
        )  # fmt: skip
        totals = ingest_live_news(
            lambda: SqlUnitOfWork(engine), feed, ["*"], stop, on_batch=lambda report: stop.set()
        )
    finally:
        timer.cancel()
        server.stop()

    assert (totals.received, totals.inserted, totals.quarantined) == (2, 1, 1)
    (row,) = kept_rows(engine)
    assert (row.source, row.raw_row["id"], row.raw_row["symbols"]) == ("alpaca", 1, ["XOM\u200b"])
    assert "U+200B ZERO WIDTH SPACE" in row.reasons[0]
