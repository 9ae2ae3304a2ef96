"""News files as real tools export them, through `stocker sentiment ingest` on a real database:
lower-case tickers, HTML entities and line breaks in headlines, an edited copy inside one file,
symbols nobody loaded, a broken JSON line, and rejected rows numbered as the file's lines."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from stocker.bootstrap import App
from stocker.cli import app as cli
from stocker.sources.files.news import NewsFileSource
from stocker.store.uow import SqlUnitOfWork

pytestmark = pytest.mark.integration

BOM = b"\xef\xbb\xbf"
EXCEL_HEADER = "published_at;headline;summary;symbols;source;url\r\n"


def _run(app: App, *arguments: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, list(arguments), obj=app, env={"COLUMNS": "200"})
    assert "Traceback" not in result.output, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), result.output
    return result.exit_code, result.output


def _excel(tmp_path: Path, *rows: str, encoding: str = "utf-8") -> Path:
    path = tmp_path / "news.csv"
    path.write_bytes(BOM + (EXCEL_HEADER + "".join(rows)).encode(encoding))
    return path


def test_excel_export_with_lower_case_tickers_stores_them_as_tickers(tmp_path: Path) -> None:
    path = _excel(
        tmp_path,
        '2022-12-20T14:05:00Z;Apple beats estimates;;"aapl ; msft";Reuters;https://e.com/1\r\n',
        "2022-12-21T14:05:00Z;Amazon slips;;Amzn;Reuters;https://e.com/2\r\n",
    )

    batch = NewsFileSource(path).fetch_news()

    assert batch.articles["symbols"].tolist() == [["AAPL", "MSFT"], ["AMZN"]]


def test_headlines_with_html_entities_and_line_breaks_are_stored_as_read(tmp_path: Path) -> None:
    path = _excel(
        tmp_path,
        '2022-12-20T14:05:00Z;"Apple beats &amp; raises 🚀 ""guidance""";'
        '"Q&amp;A &lt;b&gt;";AAPL;Reuters;https://e.com/1\r\n',
        '2022-12-21T14:05:00Z;"Microsoft faces lawsuit\r\n  over cloud deal";;MSFT;X;'
        "https://e.com/2\r\n",
    )

    articles = NewsFileSource(path).fetch_news().articles

    assert articles["headline"].tolist() == [
        'Apple beats & raises 🚀 "guidance"',
        "Microsoft faces lawsuit over cloud deal",
    ]
    assert articles["summary"].iloc[0] == "Q&A <b>"


def test_an_edited_copy_inside_one_file_is_reported_as_differing_not_unchanged(
    app: App, tmp_path: Path
) -> None:
    path = tmp_path / "dups.csv"
    path.write_text(
        "published_at,headline,symbols,url\n"
        "2022-12-20T14:05:00Z,Dup head,AAPL,https://e.com/d\n"
        "2022-12-20T14:05:00Z,Dup head,AAPL,https://e.com/d\n"
        "2022-12-20T14:05:00Z,Dup head edited,AAPL,https://e.com/d\n",
        encoding="utf-8",
    )

    code, output = _run(app, "sentiment", "ingest", "--file", str(path), "--json")

    assert code == 0, output
    report = json.loads(output)
    assert (report["inserted"], report["unchanged"], len(report["differing"])) == (1, 1, 1)
    code, output = _run(app, "sentiment", "ingest", "--file", str(path), "--json")
    again = json.loads(output)
    assert (again["inserted"], again["unchanged"], len(again["differing"])) == (0, 2, 1)


def test_articles_about_symbols_not_loaded_land_with_a_warning_naming_them(
    app: App, uow: SqlUnitOfWork, tmp_path: Path
) -> None:
    with uow:
        uow.derived.upsert(
            "instrument_info",
            pd.DataFrame(
                {"symbol": ["AAPL"], "name": ["Apple"], "asset_class": ["US_EQUITY"],
                 "currency": ["USD"], "active": [True], "source": ["test"]}
            ),
        )  # fmt: skip
        uow.commit()
    path = tmp_path / "news.csv"
    path.write_text(
        "published_at,headline,symbols,url\n"
        "2022-12-20T14:05:00Z,Zorblax rises,ZZZZ AAPL,https://e.com/z\n",
        encoding="utf-8",
    )

    code, output = _run(app, "sentiment", "ingest", "--file", str(path), "--json")

    assert code == 0, output
    report = json.loads(output)
    assert report["inserted"] == 1
    assert len(report["warnings"]) == 1 and "ZZZZ" in report["warnings"][0]
    assert "AAPL" not in report["warnings"][0]
    code, output = _run(app, "sentiment", "ingest", "--file", str(path))
    assert "warning:" in output and "ZZZZ" in output


def test_a_broken_json_line_refuses_the_file_naming_line_and_column(
    app: App, uow: SqlUnitOfWork, tmp_path: Path
) -> None:
    path = tmp_path / "news.jsonl"
    path.write_text(
        '{"published_at": "2022-12-20T14:05:00Z", "headline": "one"}\n'
        '{"published_at": "2022-12-20T14:06:00Z", "headline": "bro\n'
        '{"published_at": "2022-12-20T14:07:00Z", "headline": "three"}\n',
        encoding="utf-8",
    )

    code, output = _run(app, "sentiment", "ingest", "--file", str(path))

    assert code == 2
    lines = [line for line in output.splitlines() if line.strip()]
    assert len(lines) == 1, output
    assert lines[0].startswith("error: news.jsonl: line 2, column ") and "Unterminated" in lines[0]
    with uow:
        assert uow.news.article_count() == 0


def test_rejected_rows_carry_the_file_line_in_text_and_json_alike(app: App, tmp_path: Path) -> None:
    csv = tmp_path / "news.csv"
    csv.write_text(
        "published_at,headline,symbols,url\n"
        "2022-12-20T14:05:00Z,fine,AAPL,https://e.com/1\n"
        "03/04/2022 14:05,ambiguous,AAPL,https://e.com/2\n",
        encoding="utf-8",
    )
    jsonl = tmp_path / "news.jsonl"
    jsonl.write_text(
        '{"published_at": "2022-12-20T14:05:00Z", "headline": "fine"}\n'
        "\n"
        '{"published_at": "03/04/2022 14:05", "headline": "ambiguous"}\n',
        encoding="utf-8",
    )

    for path, line in ((csv, 3), (jsonl, 3)):
        code, output = _run(app, "sentiment", "ingest", "--file", str(path), "--json")
        assert code == 0, output
        rejected = json.loads(output)["rejected"]
        assert [item["line"] for item in rejected] == [line], output
        assert "published_at '03/04/2022 14:05': ambiguous" in rejected[0]["reasons"][0]
        code, output = _run(app, "sentiment", "ingest", "--file", str(path))
        assert f"line {line}: published_at '03/04/2022 14:05'" in output, output


class _ZeroScorer:
    name = "probe"
    version = "v1"

    def score(self, texts: list[str]) -> pd.DataFrame:
        return pd.DataFrame({"score": [0.0] * len(texts)})


def test_scoring_in_chunks_skips_whole_windows_already_scored_and_scores_the_rest(
    uow: SqlUnitOfWork, tmp_path: Path
) -> None:
    from stocker.data.news import ingest_news_file, score_news

    path = tmp_path / "news.csv"
    rows = [
        f"2022-12-{1 + n % 27:02d}T14:05:00Z,headline {n},AAPL,https://e.com/{n}" for n in range(30)
    ]
    path.write_text("published_at,headline,symbols,url\n" + "\n".join(rows[:12]) + "\n")
    ingest_news_file(uow, path)
    assert score_news(uow, _ZeroScorer(), chunk=4).scored == 12
    path.write_text("published_at,headline,symbols,url\n" + "\n".join(rows) + "\n")
    ingest_news_file(uow, path)

    seen: list[int] = []
    report = score_news(uow, _ZeroScorer(), chunk=4, progress=seen.append)

    assert report.scored == 18 and seen[-1] == 18
    assert score_news(uow, _ZeroScorer(), chunk=4).scored == 0
    with uow:
        assert len(uow.news.unscored("probe", "v1", limit=4)) == 0
        assert len(uow.news.unscored("probe", "v2", limit=4)) == 4


def test_a_json_file_holding_one_array_of_articles_is_read_with_each_article_s_line(
    tmp_path: Path,
) -> None:
    path = tmp_path / "news.json"
    articles = [
        {"published_at": "2022-12-20T14:05:00Z", "headline": "one", "symbols": ["aapl"]},
        {"published_at": "03/04/2022 14:05", "headline": "two", "symbols": "MSFT"},
        {"published_at": "2022-12-20T15:05:00Z", "headline": "three", "symbols": "MSFT KO"},
    ]
    path.write_text(json.dumps(articles, indent=2), encoding="utf-8")

    batch = NewsFileSource(path).fetch_news()

    assert batch.articles["headline"].tolist() == ["one", "three"]
    assert batch.articles["symbols"].tolist() == [["AAPL"], ["MSFT", "KO"]]
    assert [reject.row_number for reject in batch.rejects] == [9]  # where its "{" is


def test_a_json_array_with_a_non_object_or_a_syntax_error_is_refused_naming_where(
    tmp_path: Path,
) -> None:
    from stocker.core.errors import SourceError

    path = tmp_path / "news.json"
    path.write_text('[{"published_at": "2022-12-20T14:05:00Z", "headline": "one"}, 3]')
    with pytest.raises(SourceError, match=r"news.json: line 1, item 2 is not a JSON object"):
        NewsFileSource(path).fetch_news()
    path.write_text('[{"published_at": "2022-12-20T14:05:00Z",\n "headline": "one"},\n {"a": ]')
    with pytest.raises(SourceError, match=r"news.json: line 3, column 8 is not JSON"):
        NewsFileSource(path).fetch_news()


def test_an_impossible_time_is_refused_naming_the_field_and_the_value(tmp_path: Path) -> None:
    path = tmp_path / "news.csv"
    path.write_text(
        "published_at,headline\n2022-13-45T14:05:00Z,bad month\n2022-12-20T14:05:00Z,fine\n"
    )

    batch = NewsFileSource(path).fetch_news()

    (reject,) = batch.rejects
    assert reject.reasons[0].startswith("published_at '2022-13-45T14:05:00Z': not a valid time")
    assert "month must be in 1..12" in reject.reasons[0]
