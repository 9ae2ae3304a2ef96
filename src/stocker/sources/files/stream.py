"""A CSV file read in chunks of rows, in bounded memory, with every per-file decision made once.

`FileSource.fetch` reads a whole file into memory; `FileChunks` reads it twice in chunks of
`chunk_rows` instead:

1. a first pass decides what must hold for the whole file before any row is parsed: the
   encoding (UTF-8, with or without BOM, checked to the last byte; other encodings fall back
   to decoding the whole file), the delimiter (from the first line), the column mapping, the
   number format (`stocker.core.cells.NumberEvidence` over every number cell), one reading of
   every distinct date cell (`parse_dates` / `parse_instants` over the distinct cells, so the
   format is inferred — or refused as ambiguous — exactly as for the whole column), and which
   rows repeat a key of another row anywhere in the file;
2. the second pass parses each chunk with those decisions and yields it as a `FileChunk`.

So a file gives the same rows, rejects and duplicates in one chunk or in many. Rows repeating a
key are refused as `duplicate_key` whatever chunk the other copies are in (every copy, none
preferred, as the rule does within a batch). Memory: one chunk of cells, plus per row a few
bytes of key codes, plus the distinct date cells (a daily file has a few thousand).
"""

from __future__ import annotations

import codecs
import io
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, TextIO

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from stocker.core.cells import CellFormatError, NumberEvidence
from stocker.core.errors import SourceError
from stocker.core.rejects import Reason, Reject
from stocker.core.symbols import normalize_symbol
from stocker.sources.base import FetchRequest, SourceBatch
from stocker.sources.decoding import (
    binary_signature,
    decode_text,
    rows_as_wide_as_the_header,
    scan_file,
)
from stocker.sources.files.layouts import DATE, TIMESTAMP, column_kind

if TYPE_CHECKING:
    from stocker.sources.files.source import FileSource

CHUNK_ROWS = 250_000
"""Rows parsed and landed at a time: a few hundred MB at most, whatever the file's size."""
MAX_DISTINCT_DATES = 2_000_000
"""Distinct date cells read once for the whole file; beyond it each chunk parses its own."""
_UTF8_BLOCK = 1 << 22
ARROW_BLOCK_BYTES = 1 << 21
"""Arrow reads ahead a number of blocks: small blocks keep what it holds to tens of MB."""


@dataclass
class FileChunk:
    """One chunk of a file: its batch (parsed rows and the rows the source could not parse)
    and the rows refused because their key repeats in the file."""

    batch: SourceBatch
    duplicates: list[Reject] = field(default_factory=list)
    rows: int = 0
    """Data rows of the file this chunk covers (parsed, refused or filtered out)."""


def _encoding(path_name: str, raw_head: bytes, handle: io.BufferedReader) -> str | None:
    """'utf-8' / 'utf-8-sig' when the whole file is UTF-8; None when another encoding must be
    detected from the whole text (`decode_text`); raises for what is not text at all."""
    if raw_head.startswith(codecs.BOM_UTF8):
        encoding = "utf-8-sig"
    elif raw_head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return None
    else:
        what = binary_signature(raw_head)
        if what is not None or b"\x00" in raw_head:
            decode_text(path_name, raw_head)  # raises naming what the file is
            return None
        encoding = "utf-8"
    decoder = codecs.getincrementaldecoder("utf-8")()
    try:
        while block := handle.read(_UTF8_BLOCK):
            decoder.decode(block)
        decoder.decode(b"", final=True)
    except UnicodeDecodeError:
        return None
    return encoding


class FileChunks:
    """The chunks of one CSV file filling `source.table` (see the module docstring)."""

    def __init__(
        self, source: FileSource, request: FetchRequest, *, chunk_rows: int = CHUNK_ROWS
    ) -> None:
        if chunk_rows < 1:
            raise SourceError(f"chunk size {chunk_rows} is not a positive number of rows")
        self.source = source
        self.request = request
        self.chunk_rows = chunk_rows
        self.warnings: list[str] = []
        self.total_rows = 0
        source.check_path()
        path = source.path
        self.source_hash = scan_file(path, max_line_bytes=source.max_line_bytes)
        with path.open("rb") as handle:
            head = handle.read(4096)
            handle.seek(0)
            self.encoding = _encoding(path.name, head, handle)
        self._text: str | None = None
        if self.encoding is None:  # not UTF-8: detect from the whole text, as `fetch` does
            self._text = decode_text(path.name, path.read_bytes())
        self._header_line()
        self._first_pass()

    # -- reading ---------------------------------------------------------------------------------

    def _open(self) -> TextIO:
        if self._text is not None:
            return io.StringIO(self._text)
        return self.source.path.open(encoding=self.encoding, newline="")

    def _header_line(self) -> None:
        """Delimiter and headers, from the first non-blank line."""
        name = self.source.path.name
        with self._open() as text:
            first = ""
            for line in text:
                if line.strip("\n\r"):
                    first = line.rstrip("\n\r")
                    break
        if not first.strip():
            raise SourceError(f"{name}: the file is empty")
        self.delimiter, self.raw_headers = self.source.sniffed_header(first, self.source.delimiter)
        with self._open() as text:
            try:
                header = pd.read_csv(text, sep=self.delimiter, nrows=0, skipinitialspace=True)
            except (pd.errors.ParserError, pd.errors.EmptyDataError) as error:
                raise SourceError(f"{name}: not a well-formed CSV file: {error}") from error
        self.headers = [str(column) for column in header.columns]
        batch = SourceBatch(source=self.source.source)
        self.columns = self.source.map_columns(self.headers, batch)
        self.warnings.extend(batch.warnings)
        self.as_text = self.source.text_headers(self.headers)

    def _cells(self) -> Iterator[pd.DataFrame]:
        """The file's cells, `chunk_rows` rows at a time: by Arrow's CSV reader (several times
        faster) when the file is plain UTF-8 with distinct headers, else by pandas. Both read
        cells alike (empty is missing, leading spaces skipped); a file Arrow cannot read is
        read again by pandas from its first row (`_first_pass` decides, once)."""
        if self.arrow:
            yield from self._arrow_cells()
            return
        name = self.source.path.name
        with self._open() as text:
            try:
                with rows_as_wide_as_the_header(name, len(self.headers)):
                    reader = pd.read_csv(
                        text,
                        sep=self.delimiter,
                        dtype={header: str for header in self.as_text},
                        keep_default_na=False,
                        na_values=[""],
                        skipinitialspace=True,
                        skip_blank_lines=True,
                        chunksize=self.chunk_rows,
                        index_col=False,
                    )
                    first = next(reader, None)  # the first row's width decides an index column
                if first is None:
                    return
                yield first
                with rows_as_wide_as_the_header(name, len(self.headers)):
                    yield from reader
            except pd.errors.ParserError as error:
                raise SourceError(f"{name}: not a well-formed CSV file: {error}") from error
            except pd.errors.EmptyDataError as error:
                raise SourceError(f"{name}: the file is empty") from error

    def _arrow_cells(self) -> Iterator[pd.DataFrame]:
        for table in self._arrow_tables():
            yield table.to_pandas()

    def _arrow_tables(self) -> Iterator[pa.Table]:
        """Arrow tables of `chunk_rows` rows, read as pandas would (see `_cells`)."""
        import pyarrow.csv as pa_csv

        reader = pa_csv.open_csv(
            self.source.path,
            read_options=pa_csv.ReadOptions(block_size=ARROW_BLOCK_BYTES),
            parse_options=pa_csv.ParseOptions(delimiter=self.delimiter, newlines_in_values=True),
            convert_options=pa_csv.ConvertOptions(
                column_types={header: pa.string() for header in self.as_text},
                null_values=[""],
                strings_can_be_null=True,
                quoted_strings_can_be_null=True,
            ),
        )

        def cleaned(table: pa.Table) -> pa.Table:
            columns = []
            for column in table.columns:
                if pa.types.is_string(column.type):
                    column = pc.utf8_ltrim(column, " ")  # pandas' skipinitialspace
                    column = pc.if_else(pc.equal(column, ""), None, column)
                columns.append(column)
            return pa.table(columns, names=table.column_names)

        pending: list[pa.RecordBatch] = []
        held = 0
        for batch in reader:
            pending.append(batch)
            held += batch.num_rows
            while held >= self.chunk_rows:
                table = pa.Table.from_batches(pending)
                yield cleaned(table.slice(0, self.chunk_rows))
                rest = table.slice(self.chunk_rows)
                pending, held = rest.to_batches(), rest.num_rows
        if held:
            yield cleaned(pa.Table.from_batches(pending))

    # -- first pass: what holds for the whole file -----------------------------------------------

    def _first_pass(self) -> None:
        """Decide what holds for the whole file (Arrow's reader first, pandas' if it fails)."""
        import pyarrow as pa

        self.arrow = (
            self.encoding == "utf-8"
            and len(set(self.headers)) == len(self.headers)
            and self.headers == self.raw_headers
        )
        if self.arrow:
            try:
                self._read_whole_file()
                return
            except (pa.ArrowInvalid, UnicodeDecodeError):
                self.arrow = False
        self._read_whole_file()

    def _read_whole_file(self) -> None:
        source = self.source
        self.total_rows = 0
        numbers = NumberEvidence()
        dated = {c: h for c, h in self.columns.items() if column_kind(c) in {DATE, TIMESTAMP}}
        distinct: dict[str, set[str]] = {column: set() for column in dated}
        key = [c for c in source.layout.spec.key if c in self.columns]
        codes: dict[str, dict[str, int]] = {column: {} for column in key}
        key_parts: list[list[np.ndarray]] = [[] for _ in key]
        for cells in self._columns():
            self.total_rows += len(next(iter(cells.values()))) if cells else 0
            for column, header in self.columns.items():
                if source.numeric(column):
                    numbers.add(cells[header])
            for column, header in dated.items():
                if len(distinct[column]) <= MAX_DISTINCT_DATES:
                    values = pc.unique(_stripped_arrow(cells[header])).drop_null()
                    distinct[column].update(values.to_pylist())
            for position, column in enumerate(key):
                key_parts[position].append(_codes(cells[self.columns[column]], codes[column]))
        if not self.total_rows:
            raise SourceError(f"{source.path.name}: has a header line but no data rows")
        try:
            source.numbers = numbers.decide(decimal=source.decimal, thousands=source.thousands)
            for column, header in dated.items():
                if len(distinct[column]) <= MAX_DISTINCT_DATES:
                    source.decide_dates(column, header, sorted(distinct[column]))
        except CellFormatError as error:
            raise source.format_error(error) from error
        self._file_duplicates(key, codes, key_parts)

    def _columns(self) -> Iterator[dict[str, pa.ChunkedArray | pa.Array]]:
        """The cells of the columns the table uses, as Arrow strings, chunk by chunk."""
        used = list(self.columns.values())
        if self.arrow:
            for table in self._arrow_tables():
                yield {header: table[header] for header in used}
            return
        for cells in self._cells():
            yield {header: _arrow_strings(cells[header]) for header in used}

    def _file_duplicates(
        self, key: list[str], codes: dict[str, dict[str, int]], parts: list[list[np.ndarray]]
    ) -> None:
        """Rows whose key (symbol normalized, dates as read) repeats anywhere in the file: one
        int64 per row, sorted, runs of equal keys counted (no hash table of millions)."""
        self.repeats = np.zeros(self.total_rows, dtype=np.int32)
        if not key:
            return
        combined = np.zeros(self.total_rows, dtype=np.int64)
        complete = np.ones(self.total_rows, dtype=bool)
        for position, column in enumerate(key):
            canonical = self._canonical(column, codes[column])
            column_codes = np.concatenate(parts[position])
            parts[position] = []
            meant = np.where(column_codes < 0, -1, canonical[np.maximum(column_codes, 0)])
            del column_codes
            complete &= meant >= 0
            width = max(len(canonical), 1)
            if int(combined.max(initial=0)) >= (1 << 62) // width:
                combined = np.unique(combined, return_inverse=True)[1].astype(np.int64)
            combined = combined * width + np.maximum(meant, 0)
        # a row with a blank key cell repeats nothing (NULL keys never match)
        combined[~complete] = -1 - np.flatnonzero(~complete)
        order = np.argsort(combined, kind="stable")
        ordered = combined[order]
        del combined, meant
        starts = np.flatnonzero(np.r_[True, ordered[1:] != ordered[:-1]])
        sizes = np.diff(np.r_[starts, len(ordered)])
        per_row = np.repeat(sizes, sizes).astype(np.int32)
        self.repeats[order] = per_row
        self.repeats[self.repeats < 2] = 0

    def _canonical(self, column: str, known: dict[str, int]) -> np.ndarray:
        """Code -> code of the value the cell means (`ＡＡＰＬ` and `aapl` are AAPL; two
        spellings of one date are one date); -1 for a cell that will not parse."""
        texts = list(known)
        meant: list[str | None]
        if column == "symbol":
            meant = [normalize_symbol(text.upper()) for text in texts]
        elif column in self.source.date_readings:
            reading = self.source.date_readings[column]
            meant = [None if pd.isna(v := reading.get(text)) else str(v) for text in texts]
        else:
            meant = [text.upper() if column_kind(column) != DATE else text for text in texts]
        values, _ = pd.factorize(pd.Series(meant, dtype=object), use_na_sentinel=True)
        return np.asarray(values, dtype=np.int64)

    # -- second pass: the chunks -----------------------------------------------------------------

    def __iter__(self) -> Iterator[FileChunk]:
        start = 0
        for cells in self._cells():
            if start + len(cells) > self.total_rows:
                raise SourceError(f"{self.source.path.name}: the file changed while it was read")
            chunk = self._chunk(cells.reset_index(drop=True), start)
            del cells  # only the parsed chunk stays alive while the caller lands it
            start += chunk.rows
            yield chunk

    def _chunk(self, cells: pd.DataFrame, start: int) -> FileChunk:
        source = self.source
        batch = SourceBatch(source=source.source)
        if start == 0:
            batch.warnings.extend(self.warnings)
        try:
            parsed = source.parse_rows(cells, self.columns, 2 + start, batch, self.request)
        except CellFormatError as error:
            raise source.format_error(error) from error
        parsed["source"] = source.source
        parsed["source_hash"] = self.source_hash
        repeats = self.repeats[start : start + len(cells)]
        labels = parsed.index.to_numpy() - 2 - start
        twice = repeats[labels] > 1 if len(labels) else np.zeros(0, dtype=bool)
        duplicates = [
            self._duplicate(cells, int(label), parsed.loc[label + 2 + start], repeats, start)
            for label in labels[twice]
        ]
        batch.frames[source.table] = source.layout.build(parsed.loc[~twice])
        return FileChunk(batch, duplicates, len(cells))

    def _duplicate(
        self,
        cells: pd.DataFrame,
        position: int,
        row: pd.Series,
        repeats: np.ndarray,
        start: int,
    ) -> Reject:
        key = list(self.source.layout.spec.key)
        values = ", ".join(_key_text(row.get(column)) for column in key)
        message = (
            f"key ({', '.join(key)}) = ({values}) appears {int(repeats[position])} times in "
            "the batch"
        )
        from stocker.sources.files.source import jsonable

        raw = {str(k): jsonable(v) for k, v in cells.iloc[position].items()}
        if self.source.symbol and "symbol" not in {k.lower() for k in raw}:
            raw = {"symbol": self.source.symbol.upper(), **raw}
        table = self.source.table
        return Reject(table, position + 2 + start, raw, (Reason("duplicate_key", message),))


def _arrow_strings(series: pd.Series) -> pa.Array:
    """A pandas column of cells as Arrow strings (missing as null)."""
    present = series.notna()
    text = series.astype(object).where(~present, series[present].astype(str))
    return pa.array(text.where(present, None), type=pa.string(), from_pandas=True)


def _stripped_arrow(cells: pa.ChunkedArray | pa.Array) -> pa.ChunkedArray | pa.Array:
    """Cells without surrounding whitespace; empty ones missing."""
    text = pc.utf8_trim_whitespace(pc.cast(cells, pa.string()))
    return pc.if_else(pc.equal(text, ""), None, text)


def _codes(cells: pa.ChunkedArray | pa.Array, known: dict[str, int]) -> np.ndarray:
    """Per cell, the code of its stripped text in `known` (new texts added); -1 where blank."""
    text = _stripped_arrow(cells)
    for value in pc.unique(text).drop_null().to_pylist():
        known.setdefault(value, len(known))
    found = pc.index_in(text, value_set=pa.array(list(known), type=pa.string()))
    return np.asarray(pc.fill_null(found, -1).to_numpy(zero_copy_only=False), dtype=np.int32)


def _key_text(value: object) -> str:
    if hasattr(value, "isoformat"):
        return str(value.isoformat())[:10] if not isinstance(value, pd.Timestamp) else str(value)
    return str(value)
