"""CSV and Parquet files as sources: column mapping, typed parsing, rejects and file errors."""

from __future__ import annotations

import hashlib
import random
from datetime import date
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from vendor_loopback import VENDOR_FIXTURES

from stocker.core.errors import SourceError
from stocker.sources.base import DAILY_BAR_COLUMNS, INTRADAY_BAR_COLUMNS, FetchRequest
from stocker.sources.decoding import read_csv_text, scan_file
from stocker.sources.files import FileSource

FILES = VENDOR_FIXTURES / "files"


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_csv_daily_with_yahoo_download_headers_and_symbol_option_matches_pandas() -> None:
    path = FILES / "spy_daily_yahoo_download.csv"

    batch = FileSource(path, symbol="SPY").fetch()

    bars = batch.frames["prices_daily"]
    oracle = pd.read_csv(path)
    assert list(bars.columns) == list(DAILY_BAR_COLUMNS)
    assert bars["date"].tolist() == [date.fromisoformat(d) for d in oracle["Date"]]
    for column, header in [
        ("open", "Open"),
        ("high", "High"),
        ("low", "Low"),
        ("close", "Close"),
        ("adj_close", "Adj Close"),
        ("volume", "Volume"),
    ]:
        assert bars[column].tolist() == oracle[header].tolist(), column
    assert bars["volume"].dtype == "int64"
    assert set(bars["symbol"]) == {"SPY"}
    assert set(bars["source"]) == {"csv:spy_daily_yahoo_download.csv"}
    assert set(bars["source_hash"]) == {_sha256(path)}
    assert batch.rejects == [] and batch.warnings == []


def test_csv_with_bad_cells_keeps_good_rows_and_rejects_each_bad_one_with_line_and_column() -> None:
    batch = FileSource(FILES / "multi_daily_with_bad_rows.csv").fetch()

    bars = batch.frames["prices_daily"]
    assert bars[["symbol", "date"]].values.tolist() == [
        ["AAPL", date(2024, 3, 11)],
        ["AAPL", date(2024, 3, 12)],
        ["MSFT", date(2024, 3, 11)],
    ]
    assert bars["adj_close"].isna().all()
    assert [(r.row_number, r.reasons) for r in batch.rejects] == [
        (5, ("line 5: column 'date' value 'not-a-date' is not a valid date",)),
        (6, ("line 6: column 'close' value 'n/a' is not a valid number",)),
        (7, ("line 7: required column 'low' is empty",)),
    ]
    # The good rows keep their lines as labels through sorting, for the rules' rejects.
    assert bars.index.tolist() == [2, 3, 4]
    assert batch.rejects[1].raw_row["close"] == "n/a"


def test_csv_fetch_keeps_only_the_requested_symbols_and_dates() -> None:
    batch = FileSource(FILES / "multi_daily_with_bad_rows.csv").fetch(
        FetchRequest(("aapl",), start=date(2024, 3, 12), end=date(2024, 3, 31))
    )

    assert batch.frames["prices_daily"][["symbol", "date"]].values.tolist() == [
        ["AAPL", date(2024, 3, 12)]
    ]


def test_csv_intraday_with_offsets_gives_utc_bar_starts() -> None:
    batch = FileSource(
        FILES / "spy_intraday_5m.csv", table="prices_intraday", interval="5m"
    ).fetch()

    bars = batch.frames["prices_intraday"]
    assert list(bars.columns) == list(INTRADAY_BAR_COLUMNS)
    assert bars["timestamp"].tolist() == list(
        pd.to_datetime(["2024-03-15 13:30", "2024-03-15 13:35", "2024-03-15 13:40"], utc=True)
    )
    assert set(bars["interval"]) == {"5m"}


def test_csv_intraday_naive_times_are_read_in_the_given_zone(tmp_path: Path) -> None:
    path = tmp_path / "naive.csv"
    path.write_text(
        "symbol,timestamp,interval,open,high,low,close,volume\n"
        "SPY,2024-01-02 09:30:00,1m,470.1,470.5,469.9,470.2,100\n"
        "SPY,2024-07-01 09:30:00,1m,545.0,545.5,544.9,545.2,200\n"
    )

    bars = (
        FileSource(path, table="prices_intraday", timezone="America/New_York")
        .fetch()
        .frames["prices_intraday"]
    )

    # 09:30 New York is 14:30 UTC in winter (EST) and 13:30 UTC in summer (EDT).
    assert bars["timestamp"].tolist() == list(
        pd.to_datetime(["2024-01-02 14:30", "2024-07-01 13:30"], utc=True)
    )


def test_csv_corporate_actions_parse_split_ratios_and_reject_other_actions() -> None:
    batch = FileSource(FILES / "corporate_actions.csv", table="corporate_actions").fetch()

    actions = batch.frames["corporate_actions"]
    assert actions[["symbol", "date", "action_type", "value"]].values.tolist() == [
        ["AAPL", date(2020, 8, 7), "DIVIDEND", 0.82],
        ["AAPL", date(2020, 8, 31), "SPLIT", 4.0],
        ["GE", date(2021, 8, 2), "SPLIT", 0.125],
    ]
    (reject,) = batch.rejects
    assert reject.reasons == ("line 5: column 'Action' value 'Merger' is not SPLIT or DIVIDEND",)


def test_csv_in_latin1_is_detected_and_decoded() -> None:
    batch = FileSource(FILES / "instruments_latin1.csv", table="instrument_info").fetch()

    info = batch.frames["instrument_info"]
    assert info["name"].tolist() == ["Société Générale", "BNP Paribas", "L'Oréal"]
    assert info["exchange"].tolist() == ["EPA"] * 3


def test_csv_in_utf16_with_byte_order_mark_is_decoded(tmp_path: Path) -> None:
    path = tmp_path / "utf16.csv"
    path.write_bytes("symbol,name\nNESN.SW,Nestlé\n".encode("utf-16"))

    info = FileSource(path, table="instrument_info").fetch().frames["instrument_info"]

    assert info[["symbol", "name"]].values.tolist() == [["NESN.SW", "Nestlé"]]


def test_csv_in_an_undetectable_encoding_names_the_file_and_byte_offset(tmp_path: Path) -> None:
    generator = random.Random(7)
    path = tmp_path / "garbled.csv"
    raw = b"symbol,date\n" + bytes(generator.randrange(128, 256) for _ in range(300))
    path.write_bytes(raw)
    with pytest.raises(UnicodeDecodeError) as decoding:
        raw.decode("utf-8")

    with pytest.raises(
        SourceError, match=rf"garbled\.csv: not valid UTF-8 at byte offset {decoding.value.start} "
    ):
        FileSource(path).fetch()


def test_csv_with_an_oversized_line_names_the_line_without_reading_it_all(tmp_path: Path) -> None:
    path = tmp_path / "huge_line.csv"
    with path.open("wb") as handle:
        handle.write(b"symbol,date,open,high,low,close,volume\nSPY,2024-01-02,1,1,1,1,1\n")
        handle.write(b"x" * 3_000_000 + b"\n")

    with pytest.raises(
        SourceError, match=r"huge_line\.csv: line 3 is longer than 1048576 bytes"
    ) as caught:
        FileSource(path).fetch()

    read_bytes = int(str(caught.value).split("byte offset ")[1].split(")")[0])
    assert read_bytes <= 2 * 1_048_576 < path.stat().st_size


@pytest.mark.parametrize(
    ("encoding", "named"),
    [
        ("utf-16-le", "UTF-16 little-endian"),
        ("utf-16-be", "UTF-16 big-endian"),
        ("utf-32-le", "UTF-32 little-endian"),
        ("utf-32-be", "UTF-32 big-endian"),
    ],
)
def test_csv_in_a_wide_encoding_without_byte_order_mark_names_the_encoding(
    tmp_path: Path, encoding: str, named: str
) -> None:
    path = tmp_path / "wide.csv"
    text = "symbol,date,open,high,low,close,volume\nNESN.SW,2024-01-02,1,1,1,1,1\n"
    path.write_bytes(text.encode(encoding))

    with pytest.raises(SourceError, match=f"wide\\.csv: wrong encoding: looks like {named} text"):
        FileSource(path).fetch()


def test_csv_with_a_stray_nul_byte_in_a_cell_is_not_taken_for_a_wide_encoding(
    tmp_path: Path,
) -> None:
    path = tmp_path / "nul.csv"
    path.write_bytes(b"symbol,name\nNESN.SW,Nes\x00tle\nSPY,SPDR\n")

    frame = FileSource(path, table="instrument_info").fetch().frames["instrument_info"]

    assert frame["symbol"].tolist() == ["NESN.SW", "SPY"]


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "the file is empty"),
        (b"  \n\n", "the file is empty"),
        (b"date,open,high,low,close,volume\n", "has a header line but no data rows"),
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "not a text file: it looks like a PNG image"),
        (
            b"symbol,date,close\nSPY,2024-01-02,470.1\n",
            "missing required column\\(s\\) open, high, low, volume for prices_daily; "
            "found columns: symbol, date, close",
        ),
        (
            b"Date,date,open\n2024-01-02,2024-01-02,1\n",
            "columns 'Date' and 'date' both mean 'date'",
        ),
        (
            b'symbol,date,open,high,low,close,volume\nSPY,"2024-01-02,1,1,1,1,1\n',
            "not a well-formed CSV file",
        ),
    ],
)
def test_csv_that_cannot_be_used_raises_a_clear_error_naming_the_file(
    tmp_path: Path, content: bytes, message: str
) -> None:
    path = tmp_path / "input.csv"
    path.write_bytes(content)

    with pytest.raises(SourceError, match=f"input.csv: {message}"):
        FileSource(path).fetch()


def test_parquet_daily_with_typed_columns_loads(tmp_path: Path) -> None:
    path = tmp_path / "bars.parquet"
    table = pa.table(
        {
            "Ticker": ["SPY", "SPY"],
            "Date": pa.array([date(2024, 3, 11), date(2024, 3, 12)], pa.date32()),
            "Open": [510.48, 513.45],
            "High": [511.88, 517.38],
            "Low": [508.5, 510.86],
            "Close": [511.28, 516.78],
            "Adj Close": [505.32, 510.75],
            "Volume": pa.array([62557200, 73114400], pa.int64()),
        }
    )
    pq.write_table(table, path)

    source = FileSource(path)
    bars = source.fetch().frames["prices_daily"]

    assert source.name == "parquet"
    assert bars[["symbol", "date", "close", "adj_close", "volume"]].values.tolist() == [
        ["SPY", date(2024, 3, 11), 511.28, 505.32, 62557200],
        ["SPY", date(2024, 3, 12), 516.78, 510.75, 73114400],
    ]
    assert set(bars["source"]) == {"parquet:bars.parquet"}
    assert set(bars["source_hash"]) == {_sha256(path)}


def test_file_named_parquet_that_is_not_parquet_says_so(tmp_path: Path) -> None:
    path = tmp_path / "bars.parquet"
    path.write_bytes((FILES / "spy_daily_yahoo_download.csv").read_bytes())

    with pytest.raises(SourceError, match=r"bars\.parquet: not a Parquet file"):
        FileSource(path).fetch()


def test_csv_metrics_and_sentiment_files_fill_their_tables(tmp_path: Path) -> None:
    metrics = tmp_path / "metrics.csv"
    metrics.write_text("Symbol,Date,Market Cap,PE TTM,ROE\nAAPL,2024-09-13,3.38e12,33.71,1.606\n")
    sentiment = tmp_path / "sentiment.csv"
    sentiment.write_text("date,symbol,score,articles\n2024-09-13,AAPL,0.42,17\n")

    metric_row = (
        FileSource(metrics, table="instrument_metrics").fetch().frames["instrument_metrics"].iloc[0]
    )
    sentiment_row = (
        FileSource(sentiment, table="market_sentiment").fetch().frames["market_sentiment"].iloc[0]
    )

    assert (metric_row["as_of_date"], metric_row["period_type"]) == (date(2024, 9, 13), "DAILY")
    assert (metric_row["market_cap"], metric_row["pe_ttm"], metric_row["roe"]) == (
        3.38e12,
        33.71,
        1.606,
    )
    assert (sentiment_row["sentiment_score"], sentiment_row["article_count"]) == (0.42, 17)


def test_source_column_is_capped_at_fifty_characters(tmp_path: Path) -> None:
    path = tmp_path / ("a" * 80 + ".csv")
    path.write_bytes((FILES / "spy_daily_yahoo_download.csv").read_bytes())

    bars = FileSource(path, symbol="SPY").fetch().frames["prices_daily"]

    assert len(bars["source"].iloc[0]) == 50


@settings(max_examples=200, deadline=None)
@given(
    lines=st.lists(
        st.binary(max_size=40).map(lambda b: b.replace(b"\n", b"")), min_size=1, max_size=8
    ),
    trailing_newline=st.booleans(),
    cap=st.integers(min_value=1, max_value=30),
)
def test_scan_file_flags_the_first_line_longer_than_the_cap_like_splitting_would(
    tmp_path_factory: pytest.TempPathFactory, lines: list[bytes], trailing_newline: bool, cap: int
) -> None:
    content = b"\n".join(lines) + (b"\n" if trailing_newline else b"")
    path = tmp_path_factory.mktemp("scan") / "lines.csv"
    path.write_bytes(content)
    first_long = next(
        (number for number, line in enumerate(content.split(b"\n"), 1) if len(line) > cap), None
    )

    if first_long is None:
        assert scan_file(path, max_line_bytes=cap) == hashlib.sha256(content).hexdigest()
    else:
        with pytest.raises(SourceError, match=f"line {first_long} is longer than {cap} bytes"):
            scan_file(path, max_line_bytes=cap)


# -- one number format and one date format per file ------------------------------------------


def _write(tmp_path: Path, name: str, *lines: str) -> Path:
    path = tmp_path / name
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_csv_with_decimal_commas_and_semicolons_reads_every_number_in_that_format(
    tmp_path: Path,
) -> None:
    path = _write(
        tmp_path,
        "de.csv",
        "Symbol;Date;Open;High;Low;Close;Volume",
        "SAP;03.01.2023;1.130,28;1.130,90;1.124,17;1.125,07;112.117.500",
        "SAP;13.01.2023;132,03;134,92;131,66;134,76;57.809.700",
    )

    bars = FileSource(path).fetch().frames["prices_daily"]

    assert bars["date"].tolist() == [date(2023, 1, 3), date(2023, 1, 13)]
    assert bars["open"].tolist() == [1130.28, 132.03]
    assert bars["volume"].tolist() == [112_117_500, 57_809_700]


def test_csv_whose_numbers_read_two_ways_names_the_decimal_option(tmp_path: Path) -> None:
    path = _write(tmp_path, "x.csv", "symbol,date,open,high,low,close,volume",
                  'A,2023-01-03,"1,250","1,300","1,200","1,275",100')  # fmt: skip

    with pytest.raises(
        SourceError, match=r"x.csv: numbers such as '1,250' read two ways.*--decimal"
    ):
        FileSource(path).fetch()
    bars = FileSource(path, decimal=".").fetch().frames["prices_daily"]
    assert bars["close"].tolist() == [1275.0]
    bars = FileSource(path, decimal=",").fetch().frames["prices_daily"]
    assert bars["close"].tolist() == [1.275]


def test_csv_whose_dates_read_two_ways_names_the_column_and_the_formats(tmp_path: Path) -> None:
    path = _write(tmp_path, "x.csv", "symbol,Trade Date,open,high,low,close,volume",
                  "A,03/01/2023,1,1,1,1,1", "A,04/01/2023,1,1,1,1,1")  # fmt: skip

    with pytest.raises(SourceError) as raised:
        FileSource(path).fetch()
    message = str(raised.value)
    assert "column 'Trade Date'" in message and "3 January 2023 or 1 March 2023" in message
    assert "--date-format '%d/%m/%Y' or --date-format '%m/%d/%Y'" in message
    bars = FileSource(path, date_format="%m/%d/%Y").fetch().frames["prices_daily"]
    assert bars["date"].tolist() == [date(2023, 3, 1), date(2023, 4, 1)]


def test_given_delimiter_overrides_the_sniffer(tmp_path: Path) -> None:
    path = _write(tmp_path, "x.csv", "symbol|date|open|high|low|close|volume",
                  "A|2023-01-03|1.5|1.5|1.5|1.5|1")  # fmt: skip

    assert len(FileSource(path, delimiter="|").fetch().frames["prices_daily"]) == 1
    with pytest.raises(SourceError, match="missing required column"):
        FileSource(path, delimiter=",").fetch()


def test_interval_option_is_refused_for_a_table_without_intervals(tmp_path: Path) -> None:
    with pytest.raises(SourceError, match="applies only to files filling prices_intraday"):
        FileSource(tmp_path / "x.csv", interval="5m")


@pytest.mark.parametrize(
    ("where", "message"),
    [("dir", "is a directory"), ("/dev/null", "not a regular file"), ("nope", "no such file")],
)
def test_a_path_that_is_not_a_file_says_what_it_is(tmp_path: Path, where: str, message: str):
    path = (
        tmp_path if where == "dir" else Path(where) if where.startswith("/") else tmp_path / where
    )
    with pytest.raises(SourceError, match=message):
        FileSource(path).fetch()


@pytest.mark.parametrize("extra_on_line", [2, 3])
def test_csv_row_with_more_fields_than_the_header_is_refused_naming_its_line(
    tmp_path: Path, extra_on_line: int
) -> None:
    """pandas would take a first row with one field too many as an index column and shift every
    cell left without a word (an unquoted separator inside a cell is the usual cause)."""
    rows = ["SPY,2024-01-02,1,1,1,1,1", "SPY,2024-01-03,2,2,2,2,2"]
    rows[extra_on_line - 2] = rows[extra_on_line - 2].replace(",1,1,1,1,1", ",1,1,1,1,1,9")
    rows[extra_on_line - 2] = rows[extra_on_line - 2].replace(",2,2,2,2,2", ",2,2,2,2,2,9")
    path = tmp_path / "input.csv"
    path.write_text("symbol,date,open,high,low,close,volume\n" + "\n".join(rows) + "\n")

    where = "the first data row" if extra_on_line == 2 else "line 3 has 8 fields"
    with pytest.raises(SourceError, match=f"input.csv: {where}.* 7"):
        FileSource(path).fetch()
    with pytest.raises(SourceError, match=f"input.csv: {where}.* 7"):
        read_csv_text("input.csv", path.read_text())
