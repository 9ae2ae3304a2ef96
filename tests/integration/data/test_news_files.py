"""News files: CSV and JSON lines through the checked decoding, bad rows refused with reasons."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from stocker.core.errors import SourceError
from stocker.data.demo_news import SAMPLE_NEWS
from stocker.sources.base import FetchRequest
from stocker.sources.files.news import NewsFileSource

HEADER = "published_at,headline,summary,symbols,source,url\n"


def _write(tmp_path: Path, name: str, content: str | bytes) -> Path:
    path = tmp_path / name
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content, encoding="utf-8")
    return path


def test_sample_news_file_reads_whole_with_keys_from_urls_and_the_file_hash() -> None:
    batch = NewsFileSource(SAMPLE_NEWS).fetch_news()

    articles = batch.articles
    assert len(articles) == 41 and not batch.rejects
    assert articles["article_key"].str.startswith("url:").all()
    assert articles["article_key"].is_unique
    assert articles["source_hash"].nunique() == 1
    assert articles["published_at"].min() == datetime(2022, 12, 12, 13, 5, tzinfo=UTC)
    assert articles.loc[articles["headline"].str.startswith("Retail sales"), "symbols"].iloc[0] == [
        "WMT",
        "BBY",
        "HD",
    ]
    assert (articles["symbols"].map(len) == 0).sum() == 9  # market-wide news


def test_ambiguous_naive_and_date_only_times_are_refused_with_the_reason(tmp_path: Path) -> None:
    path = _write(
        tmp_path,
        "news.csv",
        HEADER
        + "03/04/2022 10:00,Ambiguous day,,AAPL,x,https://e.com/1\n"
        + "2022-12-27 10:00,No zone,,AAPL,x,https://e.com/2\n"
        + "2022-12-27,Date only,,AAPL,x,https://e.com/3\n"
        + "2022-12-27T10:00:00-05:00,Fine,,AAPL,x,https://e.com/4\n"
        + "2022-12-27T15:00:00Z,,,AAPL,x,https://e.com/5\n",
    )

    batch = NewsFileSource(path).fetch_news()

    assert batch.articles["headline"].tolist() == ["Fine"]
    assert batch.articles["published_at"].iloc[0] == datetime(2022, 12, 27, 15, tzinfo=UTC)
    reasons = {reject.row_number: reject.reasons for reject in batch.rejects}
    assert "ambiguous" in reasons[2][0]  # keyed by the file's line: the header is line 1
    assert "no time zone" in reasons[3][0] and "no time zone" in reasons[4][0]
    assert reasons[6] == ("headline: missing",)


def test_invisible_characters_in_symbols_are_refused_naming_the_character(tmp_path: Path) -> None:
    path = _write(
        tmp_path,
        "news.csv",
        HEADER
        + "2022-12-27T15:00:00Z,One,,AAPL\u200b,x,https://e.com/1\n"
        + "2022-12-27T15:00:00Z,Two,,MSFT;\u00a0KO,x,https://e.com/2\n",
    )

    batch = NewsFileSource(path).fetch_news()

    assert batch.articles["symbols"].tolist() == [["MSFT", "KO"]]  # NFKC: the NBSP is a space
    (reject,) = batch.rejects
    assert "U+200B ZERO WIDTH SPACE" in reject.reasons[0]


def test_json_lines_with_ids_and_symbol_lists(tmp_path: Path) -> None:
    lines = [
        {"id": "a-1", "published": "2022-12-27T15:00:00Z", "title": "One", "symbols": ["AAPL"]},
        {"id": "a-2", "published": "2022-12-27T16:00:00+00:00", "title": "Two", "symbols": []},
    ]
    path = _write(tmp_path, "news.jsonl", "\n".join(json.dumps(line) for line in lines) + "\n")

    batch = NewsFileSource(path).fetch_news(FetchRequest(("AAPL",), start=date(2022, 12, 27)))

    assert batch.articles["article_key"].tolist() == ["file:a-1"]


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "empty"),
        ("published_at,title\n".encode("utf-16-le"), "byte-order mark"),
        (b"PAR1\x00\x00", "Parquet"),
        (b"when,what\n2022-12-27T15:00:00Z,x\n", "missing column"),
    ],
)
def test_a_wrong_file_fails_with_a_clear_message(
    tmp_path: Path, content: bytes, message: str
) -> None:
    path = _write(tmp_path, "news.csv", content)
    with pytest.raises(SourceError, match=message):
        NewsFileSource(path).fetch_news()


def test_latin1_file_is_decoded(tmp_path: Path) -> None:
    path = _write(
        tmp_path,
        "news.csv",
        (HEADER + "2022-12-27T15:00:00Z,Nestlé café sales fall,,KO,x,https://e.com/1\n").encode(
            "latin-1"
        ),
    )
    assert NewsFileSource(path).fetch_news().articles["headline"].tolist() == [
        "Nestlé café sales fall"
    ]
