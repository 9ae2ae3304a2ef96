"""CSV and Parquet files as a source for any of the market-data tables.

A file fills one table (`table=`): `prices_daily` (default), `prices_intraday`,
`corporate_actions`, `instrument_info`, `instrument_metrics` or `market_sentiment`. Headers are
matched case-insensitively after turning every run of spaces and punctuation into `_`, so
`Adj Close`, `adj-close` and `ADJ_CLOSE` all mean `adj_close`; common aliases (`Ticker`,
`Datetime`, `Vol`, ...) are in `ALIASES`. `symbol=` serves files holding one symbol's rows.

The file is checked before it is parsed, so a wrong file fails with a message naming it: empty,
not CSV or Parquet at all, an encoding that is neither UTF-8 nor confidently detected, a line
longer than `max_line_bytes` (found while streaming, without reading a giant line into memory),
missing required columns. Cells that do not parse (a date that is not a date, a price that is
not a number) become `RawReject`s naming the line, column and value; the rest of the file loads.
`source` is `csv:<file name>` / `parquet:<file name>` and `source_hash` the file's SHA-256.
"""

from __future__ import annotations

import codecs
import csv
import hashlib
import io
import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import charset_normalizer
import pandas as pd

from stocker.core.errors import SourceError
from stocker.sources.base import (
    INSTRUMENT_INFO_COLUMNS,
    INSTRUMENT_METRICS_KEY_COLUMNS,
    INSTRUMENT_METRICS_VALUE_COLUMNS,
    MARKET_SENTIMENT_COLUMNS,
    FetchRequest,
    RawReject,
    SourceBatch,
)
from stocker.sources.frames import (
    corporate_actions_frame,
    daily_bars_frame,
    intraday_bars_frame,
    records_frame,
)

MAX_LINE_BYTES = 1_048_576
READ_CHUNK_BYTES = 1 << 16
SOURCE_COLUMN_CHARS = 50
# Chaos is charset-normalizer's measure of how garbled a decoding looks (0 = clean text).
MAX_ENCODING_CHAOS = 0.2
WIDE_SAMPLE_BYTES = 4096
WIDE_NUL_SHARE = 0.6
"""Share of NUL bytes at a position (mod 4) of the sample that marks UTF-16/32 text."""
BINARY_SIGNATURES = {
    b"PAR1": "a Parquet file",
    b"PK\x03\x04": "a ZIP archive (an .xlsx workbook?)",
    b"\x89PNG": "a PNG image",
    b"%PDF": "a PDF document",
    b"\x1f\x8b": "a gzip archive",
    b"SQLite format 3": "an SQLite database",
}

TEXT, NUMBER, INTEGER, DATE, TIMESTAMP, BOOLEAN = (
    "text",
    "number",
    "integer",
    "date",
    "timestamp",
    "boolean",
)
INTEGER_COLUMNS = {
    "volume",
    "article_count",
    "shares_outstanding",
    "float_shares",
    "fiscal_year",
    "fiscal_quarter",
}
TEXT_COLUMNS = {
    "symbol",
    "name",
    "asset_class",
    "sector",
    "industry",
    "exchange",
    "currency",
    "action_type",
    "period_type",
    "interval",
}


def column_kind(column: str) -> str:
    """How a canonical column's cells are parsed."""
    if column in TEXT_COLUMNS:
        return TEXT
    if column in INTEGER_COLUMNS:
        return INTEGER
    if column in {"date", "as_of_date", "period_end"}:
        return DATE
    if column == "timestamp":
        return TIMESTAMP
    if column == "active":
        return BOOLEAN
    return NUMBER


@dataclass(frozen=True)
class TableLayout:
    """What a file must and may hold to fill one table."""

    required: tuple[str, ...]
    optional: tuple[str, ...]
    date_column: str | None


_METRIC_VALUES = tuple(c for c in INSTRUMENT_METRICS_VALUE_COLUMNS)
TABLES: dict[str, TableLayout] = {
    "prices_daily": TableLayout(
        ("symbol", "date", "open", "high", "low", "close", "volume"), ("adj_close",), "date"
    ),
    "prices_intraday": TableLayout(
        ("symbol", "timestamp", "open", "high", "low", "close", "volume"),
        ("interval",),
        "timestamp",
    ),
    "corporate_actions": TableLayout(("symbol", "date", "action_type", "value"), (), "date"),
    "instrument_info": TableLayout(
        ("symbol",),
        tuple(c for c in INSTRUMENT_INFO_COLUMNS if c not in {"symbol", "source", "source_hash"}),
        None,
    ),
    "instrument_metrics": TableLayout(
        ("symbol", "as_of_date"), ("period_type", *_METRIC_VALUES), "as_of_date"
    ),
    "market_sentiment": TableLayout(
        ("date", "sentiment_score"), ("symbol", "sentiment_magnitude", "article_count"), "date"
    ),
}

# Normalized header -> canonical column, for every table (see `_table_alias` for per-table ones).
ALIASES = {
    "ticker": "symbol",
    "tickers": "symbol",
    "code": "symbol",
    "instrument": "symbol",
    "tradingsymbol": "symbol",
    "trade_date": "date",
    "day": "date",
    "adjclose": "adj_close",
    "adjusted_close": "adj_close",
    "adj_close_price": "adj_close",
    "vol": "volume",
    "action": "action_type",
    "type": "action_type",
    "amount": "value",
    "ratio": "value",
    "company": "name",
    "company_name": "name",
    "score": "sentiment_score",
    "sentiment": "sentiment_score",
    "magnitude": "sentiment_magnitude",
    "articles": "article_count",
    "datetime": "timestamp",
    "date_time": "timestamp",
    "time": "timestamp",
}
SPLIT_WORDS = {"SPLIT", "SPLITS", "STOCK SPLIT", "STOCK SPLITS", "STOCK_SPLIT", "STOCK_SPLITS"}
DIVIDEND_WORDS = {"DIVIDEND", "DIVIDENDS", "DIV", "CASH DIVIDEND", "CASH_DIVIDEND"}
TRUE_WORDS, FALSE_WORDS = {"true", "t", "yes", "y", "1"}, {"false", "f", "no", "n", "0"}


def normalize_header(header: str) -> str:
    """`' Adj Close '` -> `'adj_close'`: lower case, punctuation and spaces runs to `_`."""
    return re.sub(r"[^0-9a-z]+", "_", str(header).strip().lower()).strip("_")


def _table_alias(table: str, name: str) -> str:
    if table == "prices_intraday" and name == "date":
        return "timestamp"
    if table == "instrument_metrics" and name == "date":
        return "as_of_date"
    return ALIASES.get(name, name)


# -- reading bytes --------------------------------------------------------------------------


def scan_file(path: Path, *, max_line_bytes: int = MAX_LINE_BYTES) -> str:
    """SHA-256 of the file, streaming; raise if a line is longer than `max_line_bytes`.

    Reads fixed-size chunks, so a single 1 GB line costs `max_line_bytes` of reading before
    the error, never 1 GB of memory.
    """
    digest = hashlib.sha256()
    line_number, line_bytes, offset = 1, 0, 0
    with path.open("rb") as handle:
        # Chunks of exactly `max_line_bytes`: a line lying wholly inside one is shorter than
        # the cap, so only the line running across chunk boundaries needs counting.
        while chunk := handle.read(max_line_bytes):
            digest.update(chunk)
            first = chunk.find(b"\n")
            head = len(chunk) if first < 0 else first
            if line_bytes + head > max_line_bytes:
                raise SourceError(
                    f"{path.name}: line {line_number} is longer than {max_line_bytes} bytes "
                    f"(stopped reading at byte offset {offset + len(chunk)}); is this a CSV file?"
                )
            if first < 0:
                line_bytes += len(chunk)
            else:
                line_number += chunk.count(b"\n")
                line_bytes = len(chunk) - chunk.rfind(b"\n") - 1
            offset += len(chunk)
    return digest.hexdigest()


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def _signature(raw: bytes) -> str | None:
    for magic, what in BINARY_SIGNATURES.items():
        if raw.startswith(magic):
            return what
    return None


def wide_encoding_without_bom(raw: bytes) -> str | None:
    """'UTF-16 little-endian' (etc.) when NUL bytes sit where that encoding puts them for
    ASCII text: every other byte (UTF-16) or three bytes in four (UTF-32); else None.

    Mostly-ASCII text in these encodings is also valid UTF-8 (with NULs between the letters), so
    without this check such a file would reach the CSV parser as ``s\\0y\\0m\\0...``.
    """
    sample = raw[: WIDE_SAMPLE_BYTES - WIDE_SAMPLE_BYTES % 4]
    sample = sample[: len(sample) - len(sample) % 4]
    if len(sample) < 4:
        return None
    quarter = len(sample) // 4
    nul_share = [sample[offset::4].count(0) / quarter for offset in range(4)]

    def nul_at(*offsets: int) -> bool:
        return all(
            (nul_share[offset] >= WIDE_NUL_SHARE) == (offset in offsets) for offset in range(4)
        )

    for offsets, encoding in (
        ((1, 2, 3), "UTF-32 little-endian"),
        ((0, 1, 2), "UTF-32 big-endian"),
        ((1, 3), "UTF-16 little-endian"),
        ((0, 2), "UTF-16 big-endian"),
    ):
        if nul_at(*offsets):
            return encoding
    return None


def decode_text(name: str, raw: bytes) -> str:
    """The file's text: UTF-8 (with or without BOM), UTF-16/32 with a BOM, or a confidently
    detected single-byte encoding such as Latin-1; otherwise a `SourceError` naming the problem
    (UTF-16/32 without a byte-order mark, NUL bytes, the byte offset where UTF-8 failed)."""
    for bom, encoding in (
        (codecs.BOM_UTF32_LE, "utf-32"),
        (codecs.BOM_UTF32_BE, "utf-32"),
        (codecs.BOM_UTF8, "utf-8-sig"),
        (codecs.BOM_UTF16_LE, "utf-16"),
        (codecs.BOM_UTF16_BE, "utf-16"),
    ):
        if raw.startswith(bom):
            try:
                return raw.decode(encoding)
            except UnicodeDecodeError as error:
                raise SourceError(
                    f"{name}: starts with a {encoding} byte-order mark but is not valid "
                    f"{encoding} at byte offset {error.start}"
                ) from error
    what = _signature(raw)
    if what is not None:
        raise SourceError(f"{name}: not a text file: it looks like {what}")
    nul = raw.find(b"\x00")
    wide = wide_encoding_without_bom(raw) if nul >= 0 else None
    if wide is not None:
        raise SourceError(
            f"{name}: wrong encoding: looks like {wide} text without a byte-order mark (NUL "
            f"bytes between the characters, the first at byte offset {nul}); save it as UTF-8, "
            "or as UTF-16 with a byte-order mark"
        )
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as utf8_error:
        best = charset_normalizer.from_bytes(raw).best() if nul < 0 else None
        if best is not None and best.chaos <= MAX_ENCODING_CHAOS:
            return str(best)
        if nul >= 0:
            raise SourceError(
                f"{name}: not a text file: binary content (NUL byte at byte offset {nul})"
            ) from utf8_error
        raise SourceError(
            f"{name}: not valid UTF-8 at byte offset {utf8_error.start} (byte "
            f"0x{raw[utf8_error.start]:02x}) and its encoding could not be detected with "
            "confidence; save it as UTF-8"
        ) from utf8_error


def read_csv_text(
    name: str, text: str, text_headers: Callable[[list[str]], set[str]] | None = None
) -> pd.DataFrame:
    """The CSV as a frame (delimiter sniffed among , ; tab |); clear errors for a bad file.

    Columns named by `text_headers(headers)` are read as strings (symbols, dates, labels);
    the others are left to pandas' fast C parser, so a clean numeric column costs nothing
    extra and a column with a bad cell arrives as strings for the cell checks. Only empty
    cells count as missing ('NA', 'null' and the like are values, checked like any other).
    """
    if not text or text.isspace():
        raise SourceError(f"{name}: the file is empty")
    first_line = text.lstrip("\n\r").split("\n", 1)[0]
    try:
        delimiter = csv.Sniffer().sniff(first_line, delimiters=",;\t|").delimiter
    except csv.Error:
        delimiter = ","
    headers = next(csv.reader([first_line], delimiter=delimiter), [])
    as_text = text_headers(headers) if text_headers else set()
    try:
        frame = pd.read_csv(
            io.StringIO(text),
            sep=delimiter,
            dtype={header: str for header in as_text},
            keep_default_na=False,
            na_values=[""],
            skipinitialspace=True,
            skip_blank_lines=True,
        )
    except pd.errors.ParserError as error:
        raise SourceError(f"{name}: not a well-formed CSV file: {error}") from error
    except pd.errors.EmptyDataError as error:
        raise SourceError(f"{name}: the file is empty") from error
    if frame.empty:
        raise SourceError(f"{name}: has a header line but no data rows")
    return frame


# -- parsing cells (vectorized per column) ---------------------------------------------------


def _is_text(series: pd.Series) -> bool:
    return series.dtype == object or pd.api.types.is_string_dtype(series)


def _blank_mask(series: pd.Series) -> pd.Series:
    if _is_text(series):
        return series.isna() | (series.astype("string").str.strip() == "").fillna(True)
    return series.isna()


def _cleaned_text(series: pd.Series) -> pd.Series:
    """Stripped strings, None where blank (plain objects, as the table frames carry)."""
    text = series.astype("string").str.strip()
    text = text.where(text != "")
    return text.astype(object).where(text.notna(), None)


def _parse_numbers(series: pd.Series) -> pd.Series:
    if series.dtype == bool:
        return pd.Series(float("nan"), index=series.index)
    if _is_text(series):
        series = series.astype("string").str.strip().str.replace(r"[,_]", "", regex=True)
    numbers = pd.to_numeric(series, errors="coerce").astype("float64")
    return numbers.where(numbers.abs() != math.inf)


def _parse_integers(series: pd.Series) -> pd.Series:
    numbers = _parse_numbers(series)
    return numbers.where(numbers == numbers.round())


def _parse_booleans(series: pd.Series) -> pd.Series:
    words = series.astype("string").str.strip().str.lower()
    parsed = pd.Series(pd.NA, index=series.index, dtype="object")
    parsed[words.isin(TRUE_WORDS)] = True
    parsed[words.isin(FALSE_WORDS)] = False
    return parsed


def _parse_action_types(series: pd.Series) -> pd.Series:
    words = series.astype("string").str.upper().str.split().str.join(" ")
    parsed = pd.Series(pd.NA, index=series.index, dtype="object")
    parsed[words.isin(SPLIT_WORDS)] = "SPLIT"
    parsed[words.isin(DIVIDEND_WORDS)] = "DIVIDEND"
    return parsed


def _parse_split_value(value: Any) -> float:
    """A split ratio as new shares per old share: `2`, `2:1`, `2/1` or `1:10`."""
    text = str(value).strip()
    for separator in (":", "/"):
        if separator in text:
            new, old = (float(part.strip()) for part in text.split(separator, 1))
            return new / old
    return float(text)


def _blank(value: Any) -> bool:
    if value is None:
        return True
    if isinstance(value, float) and math.isnan(value):
        return True
    return isinstance(value, str) and not value.strip()


def _parse_dates(series: pd.Series, date_format: str | None) -> pd.Series:
    """Calendar dates as written: `2024-01-02`, `2024-01-02 00:00:00+05:30` and `1/2/2024` (US
    order) all give the date in the cell, whatever zone a time part names."""
    if isinstance(series.dtype, pd.DatetimeTZDtype) or pd.api.types.is_datetime64_dtype(series):
        return series.dt.date.astype(object).where(series.notna(), None)
    text = series.astype("string").str.strip()
    try:
        parsed = pd.to_datetime(text, errors="coerce", format=date_format or "ISO8601")
    except (ValueError, TypeError):  # mixed UTC offsets: keep each cell's own date part
        parsed = None
    if parsed is None or not pd.api.types.is_datetime64_any_dtype(parsed):
        day = text.str.extract(r"^(\d{4}-\d{2}-\d{2})(?:[T ].*)?$", expand=False)
        parsed = pd.to_datetime(day.fillna(text), errors="coerce", format="ISO8601")
    retry = (parsed.isna() & text.notna() & (text != "")).fillna(False)
    if retry.any() and not date_format:
        parsed = parsed.copy()
        parsed[retry] = _naive(
            pd.to_datetime(text[retry].astype(object), errors="coerce", format="mixed")
        )
    return parsed.dt.date.astype(object).where(parsed.notna(), None)


def _naive(values: pd.Series) -> pd.Series:
    if isinstance(values.dtype, pd.DatetimeTZDtype):
        return values.dt.tz_localize(None)
    return values


def _to_utc_each(values: pd.Series, timezone: str, date_format: str | None) -> pd.Series:
    """Element by element, for columns mixing zones or formats."""

    def one(value: Any) -> Any:
        try:
            stamp = (
                pd.to_datetime(value, format=date_format)
                if date_format and isinstance(value, str)
                else pd.Timestamp(value.strip() if isinstance(value, str) else value)
            )
        except (ValueError, TypeError, OverflowError):
            return pd.NaT
        if pd.isna(stamp):
            return pd.NaT
        return (stamp.tz_localize(timezone) if stamp.tzinfo is None else stamp).tz_convert("UTC")

    return pd.to_datetime(values.map(one), utc=True)


def _parse_instants(series: pd.Series, timezone: str, date_format: str | None) -> pd.Series:
    """UTC timestamps; naive cells are read in `timezone`. ISO 8601 first (fast), then any."""
    if isinstance(series.dtype, pd.DatetimeTZDtype):
        return series.dt.tz_convert("UTC")
    if pd.api.types.is_datetime64_dtype(series):
        return series.dt.tz_localize(timezone).dt.tz_convert("UTC")
    text = series.map(lambda value: value.strip() if isinstance(value, str) else value)
    try:
        parsed = pd.to_datetime(text, errors="coerce", format=date_format or "ISO8601")
        if parsed.isna().sum() > _blank_mask(series).sum() and not date_format:
            parsed = pd.to_datetime(text, errors="coerce", format="mixed")
    except (ValueError, TypeError):
        return _to_utc_each(series, timezone, date_format)
    if not pd.api.types.is_datetime64_any_dtype(parsed):
        return _to_utc_each(series, timezone, date_format)
    if parsed.dt.tz is None:
        return parsed.dt.tz_localize(timezone, ambiguous="NaT", nonexistent="NaT").dt.tz_convert(
            "UTC"
        )
    return parsed.dt.tz_convert("UTC")


class FileSource:
    """A CSV or Parquet file filling one table.

    Parameters
    ----------
    path
        The file.
    format
        'csv' or 'parquet'; default from the suffix (`.parquet`/`.pq` -> parquet, else csv).
    table
        Which table the file fills (see `TABLES`).
    symbol
        The symbol of every row, for files without a symbol column.
    interval
        Bar interval for `prices_intraday` files without an `interval` column.
    period_type
        `instrument_metrics` period type for files without a `period_type` column.
    timezone
        Zone of naive intraday timestamps (default UTC).
    date_format
        strftime format of the date/timestamp cells; default: inferred per cell.
    """

    def __init__(
        self,
        path: str | Path,
        *,
        format: str | None = None,
        table: str = "prices_daily",
        symbol: str | None = None,
        interval: str | None = None,
        period_type: str = "DAILY",
        timezone: str = "UTC",
        date_format: str | None = None,
        max_line_bytes: int = MAX_LINE_BYTES,
    ) -> None:
        self.path = Path(path)
        suffix = self.path.suffix.lower()
        self.format = (format or ("parquet" if suffix in {".parquet", ".pq"} else "csv")).lower()
        if self.format not in {"csv", "parquet"}:
            raise SourceError(f"file format {self.format!r} is not supported; use csv or parquet")
        if table not in TABLES:
            raise SourceError(
                f"table {table!r} cannot be filled from a file; expected one of {sorted(TABLES)}"
            )
        self.name = self.format
        self.table = table
        self.symbol = symbol
        self.interval = interval
        self.period_type = period_type
        self.timezone = timezone
        self.date_format = date_format
        self.max_line_bytes = max_line_bytes
        self.source = f"{self.format}:{self.path.name}"[:SOURCE_COLUMN_CHARS]

    # -- fetch ---------------------------------------------------------------------------------

    def fetch(self, request: FetchRequest | None = None) -> SourceBatch:
        """Parse the whole file; keep the rows matching the request's symbols and dates."""
        request = request or FetchRequest(symbols=())
        cells, source_hash, line_offset = self._read()
        batch = SourceBatch(source=self.source)
        columns = self._map_columns(list(cells.columns), batch)
        parsed = self._parse_rows(cells, columns, line_offset, batch, request)
        parsed["source"] = self.source
        parsed["source_hash"] = source_hash
        batch.frames[self.table] = self._frame(parsed)
        return batch

    def _read(self) -> tuple[pd.DataFrame, str, int | None]:
        """Cells (strings for CSV), the file hash, and the line of the first data row."""
        if not self.path.is_file():
            raise SourceError(f"{self.path}: no such file")
        if self.path.stat().st_size == 0:
            raise SourceError(f"{self.path.name}: the file is empty")
        if self.format == "parquet":
            return self._read_parquet(), file_sha256(self.path), None
        source_hash = scan_file(self.path, max_line_bytes=self.max_line_bytes)
        text = decode_text(self.path.name, self.path.read_bytes())
        return read_csv_text(self.path.name, text, self._text_headers), source_hash, 2

    def _text_headers(self, headers: list[str]) -> set[str]:
        """Headers whose cells are read as strings: labels, dates, split ratios."""
        as_text = set()
        for header in headers:
            column = _table_alias(self.table, normalize_header(header))
            if column_kind(column) in {TEXT, DATE, TIMESTAMP} or (
                column == "value" and self.table == "corporate_actions"
            ):
                as_text.add(header)
        return as_text

    def _read_parquet(self) -> pd.DataFrame:
        import pyarrow as pa
        import pyarrow.parquet as pq

        with self.path.open("rb") as handle:
            head = handle.read(4)
            handle.seek(max(0, self.path.stat().st_size - 4))
            tail = handle.read(4)
        if head != b"PAR1" or tail != b"PAR1":
            what = _signature(head)
            raise SourceError(
                f"{self.path.name}: not a Parquet file (no PAR1 magic bytes"
                + (f"; it looks like {what})" if what else ")")
            )
        try:
            frame = pq.read_table(self.path).to_pandas()
        except (pa.ArrowException, OSError) as error:
            raise SourceError(f"{self.path.name}: unreadable Parquet file: {error}") from error
        if frame.empty:
            raise SourceError(f"{self.path.name}: the Parquet file has no rows")
        return frame

    def _map_columns(self, headers: list[str], batch: SourceBatch) -> dict[str, str]:
        """Canonical column -> the file's header for it; raises naming missing columns."""
        layout = TABLES[self.table]
        allowed = set(layout.required) | set(layout.optional)
        mapping: dict[str, str] = {}
        ignored: list[str] = []
        for header in headers:
            canonical = _table_alias(self.table, normalize_header(header))
            if canonical not in allowed:
                ignored.append(str(header))
                continue
            if canonical in mapping:
                raise SourceError(
                    f"{self.path.name}: columns {mapping[canonical]!r} and {header!r} both mean "
                    f"{canonical!r}; keep one"
                )
            mapping[canonical] = str(header)
        if "symbol" in mapping and self.symbol:
            raise SourceError(
                f"{self.path.name}: has a symbol column ({mapping['symbol']!r}) and symbol="
                f"{self.symbol!r} was given; drop one"
            )
        provided = set(mapping) | ({"symbol"} if self.symbol else set())
        missing = [column for column in layout.required if column not in provided]
        if missing:
            hint = (
                " (or pass symbol=..., --symbol on the command line)"
                if missing == ["symbol"]
                else ""
            )
            raise SourceError(
                f"{self.path.name}: missing required column(s) {', '.join(missing)}{hint} for "
                f"{self.table}; found columns: {', '.join(map(str, headers))}"
            )
        if self.table == "prices_intraday" and "interval" not in mapping and not self.interval:
            raise SourceError(
                f"{self.path.name}: prices_intraday needs an interval column or interval=..."
            )
        if ignored:
            batch.warnings.append(
                f"{self.path.name}: ignored column(s) not in {self.table}: {', '.join(ignored)}"
            )
        return mapping

    def _parse_column(self, column: str, series: pd.Series) -> pd.Series:
        """Parsed values; NaN/NaT/NA where a non-blank cell did not parse."""
        kind = column_kind(column)
        if column == "action_type":
            return _parse_action_types(series)
        if column == "value" and self.table == "corporate_actions":
            return series  # parsed per row once the action type is known
        if kind == TEXT:
            return _cleaned_text(series)
        if kind == NUMBER:
            return _parse_numbers(series)
        if kind == INTEGER:
            return _parse_integers(series)
        if kind == BOOLEAN:
            return _parse_booleans(series)
        if kind == DATE:
            return _parse_dates(series, self.date_format)
        return _parse_instants(series, self.timezone, self.date_format)

    def _parse_rows(
        self,
        cells: pd.DataFrame,
        columns: Mapping[str, str],
        line_offset: int | None,
        batch: SourceBatch,
        request: FetchRequest,
    ) -> pd.DataFrame:
        """The table's columns parsed; rows with any bad or missing required cell rejected."""
        layout = TABLES[self.table]
        cells = cells.reset_index(drop=True)
        parsed = pd.DataFrame(index=cells.index)
        problems: dict[int, list[str]] = {}

        def where(index: int) -> str:
            return f"line {index + line_offset}" if line_offset is not None else f"row {index}"

        def complain(mask: pd.Series, message: Callable[[int], str]) -> None:
            for index in mask[mask].index:
                problems.setdefault(int(index), []).append(message(int(index)))

        for column, header in columns.items():
            raw = cells[header]
            blank = _blank_mask(raw)
            values = self._parse_column(column, raw)
            parsed[column] = values
            if column in layout.required:
                complain(blank, lambda i, h=header: f"{where(i)}: required column {h!r} is empty")
            if column == "value" and self.table == "corporate_actions":
                continue
            bad = ~blank & pd.isna(values)
            kind = (
                "SPLIT or DIVIDEND" if column == "action_type" else f"a valid {column_kind(column)}"
            )
            complain(
                bad,
                lambda i, h=header, r=raw, k=kind: (
                    f"{where(i)}: column {h!r} value {str(r.iloc[i])[:80]!r} is not {k}"
                ),
            )
        if self.table == "corporate_actions":
            header = columns["value"]
            action_values: list[float] = []
            for index, (action, cell) in enumerate(
                zip(parsed["action_type"], cells[header], strict=True)
            ):
                try:
                    if pd.isna(action) or _blank(cell):
                        raise ValueError
                    action_values.append(
                        _parse_split_value(cell)
                        if action == "SPLIT"
                        else float(str(cell).strip().replace(",", ""))
                    )
                except (ValueError, TypeError, ZeroDivisionError):
                    action_values.append(float("nan"))
                    if not pd.isna(action) and not _blank(cell):
                        problems.setdefault(index, []).append(
                            f"{where(index)}: column {header!r} value {str(cell)[:80]!r} is "
                            f"not a valid {str(action).lower()} value"
                        )
            parsed["value"] = action_values
        for index, reasons in sorted(problems.items()):
            batch.rejects.append(
                RawReject(
                    table=self.table,
                    raw_row={str(k): _jsonable(v) for k, v in cells.iloc[index].items()},
                    reasons=tuple(reasons),
                    row_number=index + (line_offset or 0),
                )
            )
        parsed = parsed.drop(index=list(problems))
        # Label rows as the reasons name them (the line in a CSV file, the 0-based row of a
        # Parquet file), so every quarantined row of a file points at the same place.
        parsed.index = parsed.index + (line_offset or 0)
        parsed = self._with_defaults(parsed)
        return self._requested(parsed, layout, request)

    def _with_defaults(self, parsed: pd.DataFrame) -> pd.DataFrame:
        if self.symbol:
            parsed["symbol"] = self.symbol
        if "symbol" in parsed:
            symbols = parsed["symbol"].astype("string").str.upper()
            parsed["symbol"] = symbols.astype(object).where(symbols.notna(), None)
        if self.table == "prices_daily" and "adj_close" not in parsed:
            parsed["adj_close"] = float("nan")
        if self.table == "prices_intraday":
            if "interval" not in parsed:
                parsed["interval"] = self.interval
            parsed["interval"] = parsed["interval"].fillna(self.interval)
        if self.table == "instrument_metrics":
            if "period_type" not in parsed:
                parsed["period_type"] = self.period_type
            parsed["period_type"] = parsed["period_type"].fillna(self.period_type)
        return parsed

    @staticmethod
    def _requested(
        parsed: pd.DataFrame, layout: TableLayout, request: FetchRequest
    ) -> pd.DataFrame:
        keep = pd.Series(True, index=parsed.index)
        if request.symbols and "symbol" in parsed:
            keep &= parsed["symbol"].isin({symbol.upper() for symbol in request.symbols})
        if layout.date_column and (request.start or request.end):
            days = parsed[layout.date_column]
            if layout.date_column == "timestamp":
                days = days.dt.date
            if request.start:
                keep &= days.map(lambda day: day >= request.start)
            if request.end:
                keep &= days.map(lambda day: day <= request.end)
        return parsed[keep]

    def _frame(self, parsed: pd.DataFrame) -> pd.DataFrame:
        if self.table == "prices_daily":
            return daily_bars_frame(parsed)
        if self.table == "prices_intraday":
            return intraday_bars_frame(parsed)
        if self.table == "corporate_actions":
            return corporate_actions_frame(parsed)
        if self.table == "instrument_metrics":
            keys = INSTRUMENT_METRICS_KEY_COLUMNS
            values = [c for c in INSTRUMENT_METRICS_VALUE_COLUMNS if c in parsed]
            return records_frame(parsed, [*keys, *values, "source_hash"])
        if self.table == "market_sentiment":
            return records_frame(parsed, MARKET_SENTIMENT_COLUMNS)
        present = [c for c in INSTRUMENT_INFO_COLUMNS if c in parsed and c != "symbol"]
        return records_frame(parsed, ["symbol", *present])


def _jsonable(value: Any) -> Any:
    """A raw cell as JSON can hold it (for the quarantine table)."""
    if value is None or isinstance(value, str | bool | int):
        return value
    if isinstance(value, float):
        return None if math.isnan(value) else value
    return str(value)
