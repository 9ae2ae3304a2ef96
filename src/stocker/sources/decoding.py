"""Bytes to text, checked, for every source that reads files people made (CSV, Screener exports).

A wrong file fails here with a message naming it and what is wrong: empty, not text at all (a
Parquet file, a workbook, an image), an encoding that is neither UTF-8 nor confidently
detected, UTF-16/32 without a byte-order mark, a line longer than `max_line_bytes` (found while
streaming, without reading a giant line into memory), or CSV that does not parse. What the
cells then mean is `stocker.core.cells`' business.
"""

from __future__ import annotations

import codecs
import csv
import hashlib
import io
import re
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import charset_normalizer
import pandas as pd

from stocker.core.errors import SourceError

MAX_LINE_BYTES = 1_048_576
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
    """SHA-256 of the file, streaming (for binary formats, where lines mean nothing)."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def binary_signature(raw: bytes) -> str | None:
    """What a known binary format's magic bytes at the start say the file is, if any."""
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
    what = binary_signature(raw)
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


def header_fields(name: str, first_line: str, delimiter: str | None) -> tuple[str, list[str]]:
    """The delimiter (`delimiter`, checked, else sniffed among , ; tab |) and the headers of
    a CSV file's first line."""
    if delimiter is not None:
        if len(delimiter) != 1 or delimiter in '"\r\n':
            raise SourceError(f"{name}: delimiter {delimiter!r} is not one character")
    else:
        try:
            delimiter = csv.Sniffer().sniff(first_line, delimiters=",;\t|").delimiter
        except csv.Error:
            delimiter = ","
    return delimiter, next(csv.reader([first_line], delimiter=delimiter), [])


_TOO_WIDE = re.compile(r"Expected (\d+) fields in line (\d+), saw (\d+)")


@contextmanager
def rows_as_wide_as_the_header(name: str, header_fields: int) -> Iterator[None]:
    """Refuse a row with more fields than the header, naming its line. pandas would take a
    first data row one field too wide as an index column and shift every cell left in silence
    (an unquoted separator inside a cell is the usual cause); `index_col=False` turns that into
    a warning, made an error here, and later rows' tokenizer errors get the same message."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", pd.errors.ParserWarning)
            yield
    except pd.errors.ParserWarning as warning:
        raise SourceError(
            f"{name}: the first data row (line 2 unless blank lines precede it) has more "
            f"fields than the header's {header_fields}; is a separator inside a cell unquoted?"
        ) from warning
    except pd.errors.ParserError as error:
        found = _TOO_WIDE.search(str(error))
        if found is None:
            raise
        expected, line, saw = found.groups()
        raise SourceError(
            f"{name}: line {line} has {saw} fields but the header has {expected}; is a "
            "separator inside a cell unquoted?"
        ) from error


def read_csv_text(
    name: str,
    text: str,
    text_headers: Callable[[list[str]], set[str]] | None = None,
    *,
    delimiter: str | None = None,
) -> pd.DataFrame:
    """The CSV as a frame (`delimiter`, else sniffed among , ; tab |); clear errors for a bad
    file.

    Columns named by `text_headers(headers)` are read as strings (symbols, dates, labels);
    the others are left to pandas' fast C parser, so a clean numeric column costs nothing
    extra and a column with a bad cell arrives as strings for the cell checks. Only empty
    cells count as missing ('NA', 'null' and the like are values, checked like any other).
    """
    if not text or text.isspace():
        raise SourceError(f"{name}: the file is empty")
    first_line = text.lstrip("\n\r").split("\n", 1)[0]
    delimiter, headers = header_fields(name, first_line, delimiter)
    as_text = text_headers(headers) if text_headers else set()
    try:
        with rows_as_wide_as_the_header(name, len(headers)):
            frame = pd.read_csv(
                io.StringIO(text),
                sep=delimiter,
                dtype={header: str for header in as_text},
                keep_default_na=False,
                na_values=[""],
                skipinitialspace=True,
                skip_blank_lines=True,
                index_col=False,
            )
    except pd.errors.ParserError as error:
        raise SourceError(f"{name}: not a well-formed CSV file: {error}") from error
    except pd.errors.EmptyDataError as error:
        raise SourceError(f"{name}: the file is empty") from error
    if frame.empty:
        raise SourceError(f"{name}: has a header line but no data rows")
    return frame
