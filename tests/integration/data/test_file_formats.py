"""Files written in other locales and other habits through `stocker data ingest`: a file's number
and date formats are decided once, from every cell or from the options, and a file they do not
settle is refused naming the option to pass; misleading options and paths are refused too."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest
from sqlalchemy import Engine, text
from typer.testing import CliRunner

from stocker.cli import app as cli_app

TODAY = ("--today", "2024-06-28")


@pytest.fixture
def cli(app):
    runner = CliRunner()
    return lambda *args: runner.invoke(cli_app, list(args), obj=app)


def write(tmp_path: Path, name: str, *lines: str) -> Path:
    path = tmp_path / name
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def stored(engine: Engine) -> list[tuple[date, float, float, int]]:
    with engine.connect() as conn:
        rows = conn.execute(
            text("SELECT date, open, close, volume FROM prices_daily ORDER BY date")
        ).all()
    return [(row.date, float(row.open), float(row.close), int(row.volume)) for row in rows]


def count(engine: Engine, table: str) -> int:
    with engine.connect() as conn:
        return int(conn.execute(text(f"SELECT count(*) FROM {table}")).scalar_one())


def ingest(cli, path: Path, *options: str):
    return cli("data", "ingest", "--source", "csv", "--file", str(path), *options, *TODAY)


GERMAN = (
    "Date;Open;High;Low;Close;Adj Close;Volume",
    "03.01.2023;130,28;130,90;124,17;125,07;124,22;112.117.500",
    "04.01.2023;126,89;128,66;125,08;126,36;125,50;89.113.600",
    "13.01.2023;132,03;134,92;131,66;134,76;133,84;57.809.700",
)


def test_semicolon_file_with_decimal_commas_and_day_first_dates_lands_exact(cli, engine, tmp_path):
    path = write(tmp_path, "aapl_de.csv", *GERMAN)

    result = ingest(cli, path, "--symbol", "AAPL")

    assert result.exit_code == 0, result.output
    assert stored(engine) == [
        (date(2023, 1, 3), 130.28, 125.07, 112_117_500),
        (date(2023, 1, 4), 126.89, 126.36, 89_113_600),
        (date(2023, 1, 13), 132.03, 134.76, 57_809_700),
    ]


def test_given_decimal_and_thousands_read_a_file_that_alone_is_ambiguous(cli, engine, tmp_path):
    lines = (
        "Date;Open;High;Low;Close;Volume",
        "2023-01-03;1.130;1.140;1.120;1.135;1.500",
        "2023-01-04;1.135;1.150;1.130;1.145;2.000",
    )
    path = write(tmp_path, "thousands.csv", *lines)

    refused = ingest(cli, path, "--symbol", "BRK")
    assert refused.exit_code == 2, refused.output
    assert "--decimal" in refused.output and "1.130" in refused.output
    assert count(engine, "prices_daily") == 0

    landed = ingest(cli, path, "--symbol", "BRK", "--decimal", ",", "--thousands", ".")
    assert landed.exit_code == 0, landed.output
    assert stored(engine) == [
        (date(2023, 1, 3), 1130.0, 1135.0, 1500),
        (date(2023, 1, 4), 1135.0, 1145.0, 2000),
    ]


def test_a_file_mixing_decimal_points_and_commas_is_refused(cli, engine, tmp_path):
    path = write(
        tmp_path,
        "mixed.csv",
        "Date;Open;High;Low;Close;Volume",
        "2023-01-03;130.28;130.90;124.17;125.07;100",
        "2023-01-04;126,89;128,66;125,08;126,36;100",
    )

    result = ingest(cli, path, "--symbol", "AAPL")

    assert result.exit_code == 2, result.output
    assert "--decimal" in result.output
    assert count(engine, "prices_daily") == 0


def test_a_given_decimal_the_cells_contradict_is_refused(cli, engine, tmp_path):
    path = write(tmp_path, "aapl_de.csv", *GERMAN)

    result = ingest(cli, path, "--symbol", "AAPL", "--decimal", ".")

    assert result.exit_code == 2, result.output
    assert "130,28" in result.output or "125,07" in result.output
    assert count(engine, "prices_daily") == 0


def test_given_delimiter_is_used(cli, engine, tmp_path):
    path = write(
        tmp_path,
        "pipes.csv",
        "symbol|date|open|high|low|close|volume",
        "MSFT|2024-01-16|390.0|392.0|389.0|391.0|100",
    )

    result = ingest(cli, path, "--delimiter", "|")

    assert result.exit_code == 0, result.output
    assert stored(engine) == [(date(2024, 1, 16), 390.0, 391.0, 100)]


def test_day_first_dates_are_read_day_first_in_every_row(cli, engine, tmp_path):
    path = write(
        tmp_path,
        "day_first.csv",
        "symbol,date,open,high,low,close,volume",
        "MSFT,03/01/2023,240.0,245.0,238.0,239.6,100",
        "MSFT,04/01/2023,232.3,232.9,225.9,229.1,100",
        "MSFT,13/01/2023,236.3,239.9,234.4,239.3,100",
    )

    result = ingest(cli, path)

    assert result.exit_code == 0, result.output
    assert [row[0] for row in stored(engine)] == [
        date(2023, 1, 3),
        date(2023, 1, 4),
        date(2023, 1, 13),
    ]


def test_dates_that_read_two_ways_are_refused_until_the_format_is_given(cli, engine, tmp_path):
    path = write(
        tmp_path,
        "ambiguous_dates.csv",
        "symbol,date,open,high,low,close,volume",
        "MSFT,03/01/2023,240.0,245.0,238.0,239.6,100",
        "MSFT,04/01/2023,232.3,232.9,225.9,229.1,100",
    )

    refused = ingest(cli, path)
    assert refused.exit_code == 2, refused.output
    assert "--date-format" in refused.output and "%d/%m/%Y" in refused.output
    assert count(engine, "prices_daily") == 0

    landed = ingest(cli, path, "--date-format", "%d/%m/%Y")
    assert landed.exit_code == 0, landed.output
    assert [row[0] for row in stored(engine)] == [date(2023, 1, 3), date(2023, 1, 4)]


def test_a_file_mixing_date_formats_is_refused(cli, engine, tmp_path):
    path = write(
        tmp_path,
        "mixed_dates.csv",
        "symbol,date,open,high,low,close,volume",
        "MSFT,2023-01-03,240.0,245.0,238.0,239.6,100",
        "MSFT,13/01/2023,236.3,239.9,234.4,239.3,100",
    )

    result = ingest(cli, path)

    assert result.exit_code == 2, result.output
    assert "--date-format" in result.output
    assert count(engine, "prices_daily") == 0


# -- what the path is ------------------------------------------------------------------------


def test_a_directory_as_file_says_it_is_a_directory(cli, tmp_path):
    result = ingest(cli, tmp_path)
    assert result.exit_code == 2
    assert "is a directory" in result.output and "no such file" not in result.output


def test_dev_null_as_file_says_it_is_not_a_regular_file(cli):
    result = ingest(cli, Path("/dev/null"))
    assert result.exit_code == 2
    assert "not a regular file" in result.output and "no such file" not in result.output


def test_a_missing_file_says_no_such_file(cli, tmp_path):
    result = ingest(cli, tmp_path / "nope.csv")
    assert result.exit_code == 2
    assert "no such file" in result.output


# -- options that do not apply ---------------------------------------------------------------


def test_interval_on_a_daily_file_is_refused(cli, engine, tmp_path):
    path = write(
        tmp_path,
        "daily.csv",
        "symbol,date,open,high,low,close,volume",
        "MSFT,2024-01-16,390.0,392.0,389.0,391.0,100",
    )

    result = ingest(cli, path, "--interval", "5m")

    assert result.exit_code == 2, result.output
    assert "prices_intraday" in result.output and "interval" in result.output
    assert count(engine, "prices_daily") == 0
