"""News files people made: CSV, JSON lines, or a JSON array of articles.

Columns (CSV headers or JSON keys, case-insensitive): ``published_at`` (aliases ``published``,
``timestamp``, ``created_at``), ``headline`` (``title``), and optionally ``summary``,
``symbols`` (a JSON list, or one cell with symbols separated by spaces, ``;``, ``|`` or commas),
``source`` (the publisher), ``url`` and ``id``. The bytes go through the file sources' checked
decoding (`stocker.sources.decoding`: encodings, binary files, over-long lines); then each row is
checked and a bad row is refused with its reasons, never guessed at:

- ``published_at`` must be ISO 8601 with a time and a zone (``2022-12-27T14:30:00Z``,
  ``2022-12-27 09:30-05:00``): a date alone cannot be placed before or after a close, a time
  without a zone could be any market's, and ``03/04/2022`` could be March or April;
- a blank headline is refused;
- a symbol with a character tickers do not use (a zero-width space, a non-breaking space …) is
  refused, naming the character; symbols are upper-cased (``aapl`` is AAPL, as in every file);
- HTML entities in the headline and summary are decoded (``&amp;`` is ``&``: exports of web
  pages keep them) and the headline's line breaks and runs of blanks become one space.

A refused row's `RawReject.row_number` is the file's line where the row starts (1-based; a
CSV's header is line 1), so a user can find it.

Every article's `source_hash` is the file's SHA-256; its key is its ``id`` when the file has
one (``file:<id>``), else the hash of its url.
"""

from __future__ import annotations

import csv
import html
import io
import json
import re
from datetime import datetime
from pathlib import Path
from typing import Any

import pandas as pd

from stocker.core.errors import SourceError
from stocker.core.symbols import normalize_symbol, symbol_problem
from stocker.sources.base import FetchRequest, RawReject
from stocker.sources.decoding import decode_text, header_fields, read_csv_text, scan_file
from stocker.sources.news import (
    NEWS_TABLE,
    SYMBOL_LIMIT,
    VENDOR_ID_LIMIT,
    NewsBatch,
    article_row,
    articles_frame,
)

SOURCE_NAME = "file"
ALIASES = {
    "published_at": ("published_at", "published", "timestamp", "created_at", "time"),
    "headline": ("headline", "title"),
    "summary": ("summary", "description"),
    "symbols": ("symbols", "symbol", "tickers"),
    "source": ("source", "publisher"),
    "url": ("url", "link"),
    "id": ("id", "article_id"),
}
REQUIRED = ("published_at", "headline")
JSON_SUFFIXES = frozenset({".jsonl", ".ndjson", ".json"})
ISO_MOMENT = re.compile(
    r"^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d{1,9})?)?(?:Z|[+-]\d{2}(?::?\d{2})?)$",
    re.IGNORECASE,
)
ISO_NAIVE = re.compile(r"^\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d{1,9})?)?)?$")
SYMBOL_SPLIT = re.compile(r"[\s;|,]+")
BLANKS = re.compile(r"\s+")


def parse_moment(value: object) -> datetime:
    """An ISO 8601 time with its zone; `ValueError` saying why anything else is refused."""
    text = str(value).strip() if value is not None else ""
    if not text:
        raise ValueError("published_at: missing")
    if ISO_MOMENT.match(text):
        try:
            return datetime.fromisoformat(text.replace("z", "Z").replace("Z", "+00:00"))
        except ValueError as error:
            raise ValueError(f"published_at {text!r}: not a valid time ({error})") from error
    if ISO_NAIVE.match(text):
        raise ValueError(
            f"published_at {text!r}: no time zone (or no time); write it as "
            "2022-12-27T14:30:00Z or with an offset such as -05:00"
        )
    raise ValueError(
        f"published_at {text!r}: ambiguous or not ISO 8601 (03/04/2022 reads as March or "
        "April); write it as 2022-12-27T14:30:00Z"
    )


def parse_symbols(value: object) -> list[str]:
    """Symbols from a JSON list or a separated cell, normalized; `ValueError` naming a bad one."""
    if value is None or (isinstance(value, float) and value != value):
        return []
    items = (
        [str(item) for item in value] if isinstance(value, list) else SYMBOL_SPLIT.split(str(value))
    )
    symbols = [normalize_symbol(item).upper() for item in items]
    symbols = [symbol for symbol in symbols if symbol]
    for symbol in symbols:
        problem = symbol_problem(symbol)
        if problem is not None:
            raise ValueError(problem)
        if len(symbol) > SYMBOL_LIMIT:
            raise ValueError(
                f"symbol {symbol[:SYMBOL_LIMIT]!r}… is {len(symbol)} characters long; "
                f"at most {SYMBOL_LIMIT}"
            )
    return list(dict.fromkeys(symbols))


def news_columns(name: str, headers: list[str]) -> dict[str, str]:
    """Canonical column → the file's header for it; `SourceError` when a required one is
    missing."""
    lowered = {str(header).strip().lower(): str(header) for header in headers}
    found: dict[str, str] = {}
    for canonical, aliases in ALIASES.items():
        present = [lowered[alias] for alias in aliases if alias in lowered]
        if present:
            found[canonical] = present[0]
    missing = [column for column in REQUIRED if column not in found]
    if missing:
        raise SourceError(
            f"{name}: missing column(s) {', '.join(missing)}; a news file needs published_at "
            f"and headline (got {', '.join(map(str, headers))})"
        )
    return found


def check_article(
    record: dict[str, Any], columns: dict[str, str], *, vendor: str, source_hash: str
) -> tuple[dict[str, Any] | None, list[str]]:
    """One record's article row (`article_row`), or None and every reason it is refused.

    `columns` maps canonical names to the record's own (`news_columns`). The file source and a
    release from the quarantine both check a row here, so a released row meets the same rules.
    """
    cell = {canonical: record.get(header) for canonical, header in columns.items()}
    reasons: list[str] = []
    try:
        published = parse_moment(cell.get("published_at"))
    except ValueError as error:
        reasons.append(str(error))
    headline = BLANKS.sub(" ", html.unescape(str(cell.get("headline") or ""))).strip()
    if not headline:
        reasons.append("headline: missing")
    try:
        symbols = parse_symbols(cell.get("symbols"))
    except ValueError as error:
        reasons.append(f"symbols: {error}")
    identifier = cell.get("id")
    vendor_id = str(identifier).strip() if identifier not in (None, "") else None
    if vendor_id is not None and len(vendor_id) > VENDOR_ID_LIMIT:
        reasons.append(f"id: {len(vendor_id)} characters long; at most {VENDOR_ID_LIMIT}")
    if reasons:
        return None, reasons
    row = article_row(
        vendor=vendor,
        vendor_id=vendor_id,
        published_at=published,
        headline=headline,
        summary=_optional(cell.get("summary"), unescape=True),
        symbols=symbols,
        publisher=_optional(cell.get("source")),
        url=_optional(cell.get("url")),
        source_hash=source_hash,
    )
    return row, []


def field_of(name: str, record: dict[str, Any]) -> str | None:
    """The record's own field a correction `name` means: the field itself (any case), else the
    record's field for that column under any alias (``published_at`` → the file's
    ``Published``), else the column's own name when the record lacks it; None when `name` is
    no news column."""
    lowered = {str(key).strip().lower(): str(key) for key in record}
    wanted = name.strip().lower()
    if wanted in lowered:
        return lowered[wanted]
    for canonical, aliases in ALIASES.items():
        if wanted == canonical or wanted in aliases:
            present = [lowered[alias] for alias in aliases if alias in lowered]
            return present[0] if present else canonical
    return None


def _records(path: Path, text: str) -> tuple[list[dict[str, Any]], list[int]]:
    """The file's records and the line each starts on."""
    if path.suffix.lower() in JSON_SUFFIXES and text.lstrip().startswith("["):
        return _array_records(path.name, text)
    if path.suffix.lower() in JSON_SUFFIXES:
        records: list[dict[str, Any]] = []
        lines: list[int] = []
        for number, line in enumerate(text.splitlines(), start=1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError as error:
                raise SourceError(
                    f"{path.name}: line {number}, column {error.colno} is not JSON: {error.msg}"
                ) from error
            if not isinstance(record, dict):
                raise SourceError(f"{path.name}: line {number} is not a JSON object")
            records.append(record)
            lines.append(number)
        if not records:
            raise SourceError(f"{path.name}: the file is empty")
        return records, lines
    frame = read_csv_text(path.name, text, lambda headers: set(headers))
    frame = frame.astype(object).where(frame.notna(), None)
    rows = [{str(key): value for key, value in row.items()} for row in frame.to_dict("records")]
    return rows, _csv_lines(path.name, text, len(rows))


def _array_records(name: str, text: str) -> tuple[list[dict[str, Any]], list[int]]:
    """A JSON file holding one array of articles (what most tools export as ``.json``), with
    the line each article's ``{`` is on."""
    decoder = json.JSONDecoder()
    records: list[dict[str, Any]] = []
    lines: list[int] = []
    position = text.index("[") + 1
    line, counted = 1, 0
    try:
        while True:
            position = _skip_blanks(text, position)
            if text.startswith("]", position):
                break
            if lines:
                if not text.startswith(",", position):
                    raise json.JSONDecodeError("Expecting ',' delimiter", text, position)
                position = _skip_blanks(text, position + 1)
            record, end = decoder.raw_decode(text, position)
            line += text.count("\n", counted, position)
            counted = position
            if not isinstance(record, dict):
                item = len(lines) + 1
                raise SourceError(f"{name}: line {line}, item {item} is not a JSON object")
            records.append(record)
            lines.append(line)
            position = end
        if text[position + 1 :].strip():
            raise json.JSONDecodeError("Extra data", text, position + 1)
    except json.JSONDecodeError as error:
        raise SourceError(
            f"{name}: line {error.lineno}, column {error.colno} is not JSON: {error.msg}"
        ) from error
    if not records:
        raise SourceError(f"{name}: the file is empty (an empty array)")
    return records, lines


def _skip_blanks(text: str, position: int) -> int:
    while position < len(text) and text[position].isspace():
        position += 1
    return position


def _csv_lines(name: str, text: str, count: int) -> list[int]:
    """The line each CSV record starts on (a quoted cell may span lines); the header is line 1."""
    first_line = text.lstrip("\n\r").split("\n", 1)[0]
    delimiter, _ = header_fields(name, first_line, None)
    reader = csv.reader(io.StringIO(text), delimiter=delimiter)
    starts: list[int] = []
    try:
        while True:
            start = reader.line_num + 1
            if not next(reader):
                continue
            starts.append(start)
    except (StopIteration, csv.Error):
        pass
    starts = starts[1:]  # the header
    if len(starts) != count:  # read differently from pandas: count records instead
        return list(range(2, count + 2))
    return starts


class NewsFileSource:
    """Articles from a CSV or JSON-lines file (see the module doc for the columns and checks)."""

    name = SOURCE_NAME

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        if not self.path.is_file():
            raise SourceError(f"path: {str(self.path)!r} is not a file; expected a news file")

    def fetch_news(self, request: FetchRequest | None = None) -> NewsBatch:
        """Every valid article of the file (limited to the request's symbols and dates if any)."""
        source_hash = scan_file(self.path)
        text = decode_text(self.path.name, self.path.read_bytes())
        records, lines = _records(self.path, text)
        columns = news_columns(
            self.path.name, sorted({key for record in records for key in record})
        )
        rows: list[dict[str, Any]] = []
        rejects: list[RawReject] = []
        for line, record in zip(lines, records, strict=True):
            row, reasons = check_article(
                record, columns, vendor=SOURCE_NAME, source_hash=source_hash
            )
            if row is None:
                rejects.append(RawReject(NEWS_TABLE, dict(record), tuple(reasons), line))
            else:
                rows.append(row)
        articles = articles_frame(rows)
        if request is not None:
            articles = _within(articles, request)
        return NewsBatch(
            source=SOURCE_NAME, articles=articles, rejects=rejects, source_hash=source_hash
        )


def _optional(value: object, *, unescape: bool = False) -> str | None:
    text = "" if value is None else str(value)
    text = (html.unescape(text) if unescape else text).strip()
    return text or None


def _within(articles: pd.DataFrame, request: FetchRequest) -> pd.DataFrame:
    keep = pd.Series(True, index=articles.index)
    if request.symbols:
        wanted = set(request.symbols)
        keep &= articles["symbols"].map(lambda symbols: bool(wanted.intersection(symbols)))
    days = articles["published_at"].dt.date
    if request.start is not None:
        keep &= days >= request.start
    if request.end is not None:
        keep &= days <= request.end
    return articles[keep].reset_index(drop=True)
