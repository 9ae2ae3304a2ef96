"""CSV and Parquet files as a source for any of the market-data tables.

A file fills one table (`table=`): `prices_daily` (default), `prices_intraday`,
`corporate_actions`, `instrument_info`, `instrument_metrics` or `market_sentiment`. Headers are
matched case-insensitively after turning every run of spaces and punctuation into `_`, so
`Adj Close`, `adj-close` and `ADJ_CLOSE` all mean `adj_close`; common aliases (`Ticker`,
`Datetime`, `Vol`, ...) are in `stocker.sources.files.layouts`. `symbol=` serves files holding
one symbol's rows.

The file is checked before it is parsed (`stocker.sources.decoding`), so a wrong file fails with
a message naming it, and so do missing required columns. Cells are read by
`stocker.core.cells`; those that do not parse (a date that is not a date, a price that is not a
number) become `RawReject`s naming the line, column and value; the rest of the file loads.
`source` is `csv:<file name>` / `parquet:<file name>` and `source_hash` the file's SHA-256.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from stocker.core.cells import (
    PLAIN,
    CellFormatError,
    NumberFormat,
    blank_mask,
    cleaned_text,
    finite_numbers,
    is_blank,
    normalize_header,
    number_format,
    parse_booleans,
    parse_dates,
    parse_instants,
    whole_numbers,
)
from stocker.core.errors import SourceError
from stocker.sources.base import (
    FetchRequest,
    RawReject,
    SourceBatch,
)
from stocker.sources.decoding import (
    MAX_LINE_BYTES,
    binary_signature,
    decode_text,
    file_sha256,
    header_fields,
    read_csv_text,
    scan_file,
)
from stocker.sources.files.layouts import (
    BOOLEAN,
    DATE,
    INTEGER,
    NUMBER,
    TABLES,
    TEXT,
    TIMESTAMP,
    TableLayout,
    column_kind,
    parse_action_types,
)

if TYPE_CHECKING:
    from stocker.sources.files.stream import FileChunk, FileChunks

SOURCE_COLUMN_CHARS = 50
COMMAND_LINE_FLAGS = {
    "decimal": "--decimal",
    "thousands": "--thousands",
    "date_format": "--date-format",
}
"""`stocker data ingest`'s flag for each source option an error may ask for."""


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
        strftime format of the date/timestamp cells; default: the one format every cell of the
        column fits (ISO 8601, or e.g. `%d/%m/%Y` when `13/01/2023` settles it), else an error
        asking for it.
    decimal, thousands
        The file's decimal separator (`.` or `,`) and digit-group separator (`,`, `.`, `_`,
        `'`, space, or '' for none); default: inferred from every number cell of the file,
        else an error asking for them.
    delimiter
        The CSV delimiter; default: sniffed among `,` `;` tab `|`.
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
        decimal: str | None = None,
        thousands: str | None = None,
        delimiter: str | None = None,
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
        self.layout = TABLES[table]
        if interval is not None and "interval" not in self.layout.option_columns:
            raise SourceError(
                f"the interval option (--interval {interval}) applies only to files filling "
                f"prices_intraday; {self.path.name} fills {table}, which has no interval (pass "
                "--table prices_intraday for intraday bars)"
            )
        self.symbol = symbol
        self.interval = interval
        self.period_type = period_type
        # What the options say for files without these columns (`TableLayout.option_columns`).
        self.options: dict[str, str | None] = {"interval": interval, "period_type": period_type}
        self.timezone = timezone
        self.date_format = date_format
        self.decimal = decimal
        self.thousands = thousands
        self.delimiter = delimiter
        self.numbers: NumberFormat = PLAIN
        self.date_readings: dict[str, dict[str, Any]] = {}
        """Column -> each distinct cell's reading, decided once for a file read in chunks."""
        self.max_line_bytes = max_line_bytes
        self.source = f"{self.format}:{self.path.name}"[:SOURCE_COLUMN_CHARS]

    # -- fetch ---------------------------------------------------------------------------------

    def fetch(self, request: FetchRequest | None = None) -> SourceBatch:
        """Parse the whole file; keep the rows matching the request's symbols and dates."""
        request = request or FetchRequest(symbols=())
        cells, source_hash, line_offset = self._read()
        batch = SourceBatch(source=self.source)
        columns = self.map_columns(list(cells.columns), batch)
        try:
            self.numbers = number_format(
                [cells[header] for column, header in columns.items() if self.numeric(column)],
                decimal=self.decimal,
                thousands=self.thousands,
            )
            parsed = self.parse_rows(cells, columns, line_offset, batch, request)
        except CellFormatError as error:
            raise self.format_error(error) from error
        parsed["source"] = self.source
        parsed["source_hash"] = source_hash
        batch.frames[self.table] = self.layout.build(parsed)
        return batch

    def numeric(self, column: str) -> bool:
        return column in self.layout.typed_by or column_kind(column) in {NUMBER, INTEGER}

    def format_error(self, error: CellFormatError) -> SourceError:
        """The file, what its cells do not settle, and the option (and flag) that settles it."""
        flag = COMMAND_LINE_FLAGS.get(error.option, error.option)
        choices = " or ".join(f"{flag} '{choice}'" for choice in error.choices) or flag
        return SourceError(
            f"{self.path.name}: {error}; pass {choices} (the {error.option}= option of the "
            f"{self.format} source)"
        )

    def _read(self) -> tuple[pd.DataFrame, str, int | None]:
        """Cells (strings for CSV), the file hash, and the line of the first data row."""
        self.check_path()
        if self.format == "parquet":
            return self._read_parquet(), file_sha256(self.path), None
        source_hash = scan_file(self.path, max_line_bytes=self.max_line_bytes)
        text = decode_text(self.path.name, self.path.read_bytes())
        cells = read_csv_text(self.path.name, text, self.text_headers, delimiter=self.delimiter)
        return cells, source_hash, 2

    def check_path(self) -> None:
        """Raise naming what the path is when it is not a non-empty regular file."""
        if self.path.is_dir():
            raise SourceError(f"{self.path}: is a directory, not a file")
        if not self.path.exists():
            raise SourceError(f"{self.path}: no such file")
        if not self.path.is_file():
            raise SourceError(f"{self.path}: not a regular file (a device, pipe or socket)")
        if self.path.stat().st_size == 0:
            raise SourceError(f"{self.path.name}: the file is empty")

    def sniffed_header(self, first_line: str, delimiter: str | None) -> tuple[str, list[str]]:
        """The CSV delimiter (given or sniffed) and the headers of `first_line`."""
        return header_fields(self.path.name, first_line, delimiter)

    def text_headers(self, headers: list[str]) -> set[str]:
        """Headers whose cells are read as strings: every column of the table, numbers too (a
        file's number format is decided from the text of all its number cells)."""
        known = set(self.layout.required) | set(self.layout.optional)
        return {
            header for header in headers if self.layout.alias(normalize_header(header)) in known
        }

    def _read_parquet(self) -> pd.DataFrame:
        import pyarrow as pa
        import pyarrow.parquet as pq

        with self.path.open("rb") as handle:
            head = handle.read(4)
            handle.seek(max(0, self.path.stat().st_size - 4))
            tail = handle.read(4)
        if head != b"PAR1" or tail != b"PAR1":
            what = binary_signature(head)
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

    def map_columns(self, headers: list[str], batch: SourceBatch) -> dict[str, str]:
        """Canonical column -> the file's header for it; raises naming missing columns."""
        layout = self.layout
        allowed = set(layout.required) | set(layout.optional)
        mapping: dict[str, str] = {}
        ignored: list[str] = []
        for header in headers:
            canonical = layout.alias(normalize_header(header))
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
        for column in layout.option_columns:
            if column not in mapping and not self.options[column]:
                raise SourceError(
                    f"{self.path.name}: {self.table} needs an {column} column or {column}=..."
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
            return parse_action_types(series)
        if column in self.layout.typed_by:
            return series  # parsed per row once the column that types it is known
        if kind == TEXT:
            return cleaned_text(series)
        if kind == NUMBER:
            return finite_numbers(series, self.numbers)
        if kind == INTEGER:
            return whole_numbers(series, self.numbers)
        if kind == BOOLEAN:
            return parse_booleans(series)
        if column in self.date_readings:
            text = series.astype("string").str.strip()
            read = text.astype(object).map(self.date_readings[column])
            if kind == TIMESTAMP:
                return pd.to_datetime(read, utc=True)
            return read.astype(object).where(read.notna(), None)
        if kind == DATE:
            return parse_dates(series, self.date_format)
        return parse_instants(series, self.timezone, self.date_format)

    def decide_dates(self, column: str, header: str, cells: list[str]) -> None:
        """Read the distinct date cells of a whole file once (the format inferred, or refused
        as ambiguous, as for the whole column); chunks then look their cells up."""
        try:
            values = self._parse_column(column, pd.Series(cells, dtype=object))
        except CellFormatError as error:
            raise CellFormatError(
                f"column {header!r}: {error}", error.option, error.choices
            ) from error
        self.date_readings[column] = dict(zip(cells, values, strict=True))

    def fetch_chunks(
        self, request: FetchRequest | None = None, *, chunk_rows: int | None = None
    ) -> FileChunks | list[FileChunk]:
        """The file in chunks of `chunk_rows` rows (`stocker.sources.files.stream`): every
        per-file decision made once, in bounded memory. A Parquet file is one chunk."""
        from stocker.sources.files.stream import CHUNK_ROWS, FileChunk, FileChunks

        request = request or FetchRequest(symbols=())
        if self.format == "parquet":
            return [FileChunk(self.fetch(request))]
        return FileChunks(self, request, chunk_rows=chunk_rows or CHUNK_ROWS)

    def parse_rows(
        self,
        cells: pd.DataFrame,
        columns: Mapping[str, str],
        line_offset: int | None,
        batch: SourceBatch,
        request: FetchRequest,
    ) -> pd.DataFrame:
        """The table's columns parsed; rows with any bad or missing required cell rejected."""
        layout = self.layout
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
            blank = blank_mask(raw)
            try:
                values = self._parse_column(column, raw)
            except CellFormatError as error:
                raise CellFormatError(
                    f"column {header!r}: {error}", error.option, error.choices
                ) from error
            parsed[column] = values
            if column in layout.required:

                def empty(i: int, h: str = header) -> str:
                    return f"{where(i)}: required column {h!r} is empty"

                complain(blank, empty)
            if column in layout.typed_by:
                continue
            bad = ~blank & pd.isna(values)
            kind = (
                "SPLIT or DIVIDEND" if column == "action_type" else f"a valid {column_kind(column)}"
            )

            def unparsed(i: int, h: str = header, r: pd.Series = raw, k: str = kind) -> str:
                return f"{where(i)}: column {h!r} value {str(r.iloc[i])[:80]!r} is not {k}"

            complain(bad, unparsed)
        for column, (by, read) in layout.typed_by.items():
            header = columns[column]
            typed_values: list[float] = []
            for index, (kind, cell) in enumerate(zip(parsed[by], cells[header], strict=True)):
                try:
                    if pd.isna(kind) or is_blank(cell):
                        raise ValueError
                    value = read(kind, cell, self.numbers)
                    if value is None:
                        raise ValueError
                    typed_values.append(value)
                except (ValueError, TypeError, ZeroDivisionError):
                    typed_values.append(float("nan"))
                    if not pd.isna(kind) and not is_blank(cell):
                        problems.setdefault(index, []).append(
                            f"{where(index)}: column {header!r} value {str(cell)[:80]!r} is "
                            f"not a valid {str(kind).lower()} value"
                        )
            parsed[column] = typed_values
        for index, reasons in sorted(problems.items()):
            batch.rejects.append(
                RawReject(
                    table=self.table,
                    raw_row={str(k): jsonable(v) for k, v in cells.iloc[index].items()},
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
        for column in self.layout.nan_when_absent:
            if column not in parsed:
                parsed[column] = float("nan")
        for column in self.layout.option_columns:
            if column not in parsed:
                parsed[column] = self.options[column]
            parsed[column] = parsed[column].fillna(self.options[column])
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
            if column_kind(layout.date_column) == TIMESTAMP:
                days = days.dt.date
            if request.start:
                keep &= days.map(lambda day: day >= request.start)
            if request.end:
                keep &= days.map(lambda day: day <= request.end)
        return parsed[keep]


def jsonable(value: Any) -> Any:
    """A raw cell as JSON can hold it (for the quarantine table)."""
    if value is None or isinstance(value, str | bool | int):
        return value
    if isinstance(value, float):
        return None if math.isnan(value) else value
    return str(value)
