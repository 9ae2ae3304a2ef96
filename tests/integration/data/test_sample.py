"""`load_sample` and `stocker data load-sample` on real PostgreSQL: the skfolio prices land
whole, flat and labelled, and a second load changes nothing."""

from __future__ import annotations

import gzip
import hashlib
import re
import uuid
from collections.abc import Iterator
from datetime import date
from importlib import resources
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from skfolio.datasets import load_factors_dataset, load_sp500_dataset, load_sp500_index
from sqlalchemy import Engine, create_engine, make_url, text
from sqlalchemy.pool import NullPool
from typer.testing import CliRunner

from stocker.bootstrap import App
from stocker.cli import app as cli
from stocker.data.sample import SAMPLE_DESCRIPTION, SampleLoadReport, load_sample
from stocker.store.db import make_engine
from stocker.store.uow import SqlUnitOfWork

SP500_STOCKS = [
    "AAPL", "AMD", "BAC", "BBY", "CVX", "GE", "HD", "JNJ", "JPM", "KO", "LLY", "MRK", "MSFT",
    "PEP", "PFE", "PG", "RRC", "UNH", "WMT", "XOM",
]  # fmt: skip
FACTOR_ETFS = ["MTUM", "QUAL", "SIZE", "USMV", "VLUE"]


def _stored_prices(engine: Engine) -> pd.DataFrame:
    with engine.connect() as conn:
        return pd.read_sql(
            text(
                "SELECT symbol, date, open::float8, high::float8, low::float8, close::float8, "
                "adj_close::float8, volume, source, source_hash FROM prices_daily"
            ),
            conn,
            parse_dates=["date"],
        )


@pytest.fixture(scope="module")
def loaded(server_url: str, template_database: str) -> Iterator[tuple[Engine, SampleLoadReport]]:
    """One migrated database of this module's own with the sample loaded once (tests only read
    it or reload it, which changes nothing): loading is the slow part."""
    name = f"stocker_sample_{uuid.uuid4().hex[:12]}"
    admin = create_engine(server_url, isolation_level="AUTOCOMMIT", poolclass=NullPool)
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}" TEMPLATE "{template_database}"'))
    engine = make_engine(make_url(server_url).set(database=name).render_as_string(False))
    try:
        yield engine, load_sample(SqlUnitOfWork(engine))
    finally:
        engine.dispose()
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def _csv_hash(file_name: str) -> str:
    compressed = resources.files("skfolio.datasets.data").joinpath(file_name).read_bytes()
    return hashlib.sha256(gzip.decompress(compressed)).hexdigest()


def test_load_sample_stores_every_symbol_with_its_rows_and_dates(
    loaded: tuple[Engine, SampleLoadReport],
) -> None:
    engine, report = loaded

    stored = _stored_prices(engine)
    summary = stored.groupby("source").agg(
        symbols=("symbol", "nunique"), rows=("symbol", "size"), first=("date", "min"),
        last=("date", "max"),
    )  # fmt: skip
    stocks = summary.loc["skfolio:sp500_dataset:adj_close_only"]
    index = summary.loc["skfolio:sp500_index:adj_close_only"]
    etfs = summary.loc["skfolio:factors_dataset:adj_close_only"]
    assert (stocks["symbols"], stocks["rows"]) == (20, 20 * 8313)
    assert (index["symbols"], index["rows"]) == (1, 8313)
    assert (etfs["symbols"], etfs["rows"]) == (5, 5 * 2264)
    assert stocks["first"] == index["first"] == pd.Timestamp("1990-01-02")
    assert etfs["first"] == pd.Timestamp("2014-01-02")
    assert stocks["last"] == index["last"] == etfs["last"] == pd.Timestamp("2022-12-28")
    assert sorted(stored["symbol"].unique()) == sorted([*SP500_STOCKS, "SP500", *FACTOR_ETFS])
    assert report.symbols == 26
    assert report.rows == len(stored)
    assert (report.first_date, report.last_date) == (date(1990, 1, 2), date(2022, 12, 28))
    assert report.tables["prices_daily"].inserted == len(stored)


def test_load_sample_prices_are_skfolio_adjusted_closes_as_flat_bars(
    loaded: tuple[Engine, SampleLoadReport],
) -> None:
    engine, _ = loaded

    stored = _stored_prices(engine)
    wide = stored.pivot(index="date", columns="symbol", values="adj_close")
    expected = pd.concat([load_sp500_dataset(), load_sp500_index(), load_factors_dataset()], axis=1)
    expected.index = expected.index.as_unit("ns")
    wide.index = wide.index.as_unit("ns")
    pd.testing.assert_frame_equal(
        wide.sort_index(axis=1), expected.round(4).sort_index(axis=1), check_names=False
    )
    for column in ("open", "high", "low", "close"):
        np.testing.assert_array_equal(stored[column], stored["adj_close"])
    assert (stored["volume"] == 0).all()
    hashes = stored.groupby("source")["source_hash"].unique()
    assert list(hashes["skfolio:sp500_dataset:adj_close_only"]) == [
        _csv_hash("sp500_dataset.csv.gz")
    ]
    assert list(hashes["skfolio:factors_dataset:adj_close_only"]) == [
        _csv_hash("factors_dataset.csv.gz")
    ]


def test_load_sample_registers_instruments_with_gics_sectors(
    loaded: tuple[Engine, SampleLoadReport],
) -> None:
    engine, _ = loaded

    with engine.connect() as conn:
        instruments = pd.read_sql(text("SELECT * FROM instrument_info"), conn).set_index("symbol")
    assert instruments["asset_class"].value_counts().to_dict() == {
        "US_EQUITY": 20, "ETF": 5, "INDEX": 1,
    }  # fmt: skip
    assert instruments.loc["AAPL", "sector"] == "Information Technology"
    assert instruments.loc["XOM", "sector"] == "Energy"
    assert instruments.loc["JPM", ["sector", "industry"]].tolist() == ["Financials", "Banks"]
    assert instruments.loc["UNH", "sector"] == "Health Care"
    assert instruments.loc["WMT", "sector"] == "Consumer Staples"
    assert instruments.loc[SP500_STOCKS, "sector"].notna().all()
    assert instruments.loc[SP500_STOCKS, "name"].notna().all()
    assert not instruments.loc["SP500", "active"]
    assert instruments["source"].notna().all()


def test_load_sample_when_reloaded_reports_no_changes(
    loaded: tuple[Engine, SampleLoadReport],
) -> None:
    engine, _ = loaded

    again = load_sample(SqlUnitOfWork(engine))

    for result in again.tables.values():
        assert (result.inserted, result.updated) == (0, 0)
        assert result.unchanged == result.received
    assert again.tables["prices_daily"].unchanged == 20 * 8313 + 8313 + 5 * 2264


def test_load_sample_command_prints_counts_and_what_the_data_lacks(app: App) -> None:
    result = CliRunner().invoke(cli, ["data", "load-sample"], obj=app)

    assert result.exit_code == 0, result.output
    assert re.search(r"total\W+26\W+185,893\W+1990-01-02\W+2022-12-28", result.output)
    # received, inserted, updated, unchanged
    assert re.search(r"prices_daily\W+185,893\W+185,893\W+0\W+0", result.output), result.output
    assert re.search(r"instrument_info\W+26\W+26\W+0\W+0", result.output)
    assert "Survivorship" in result.output
    assert "Adjusted close only" in result.output


def test_sample_description_is_in_the_data_docs() -> None:
    docs = (Path(__file__).parents[3] / "docs" / "data.md").read_text()
    assert SAMPLE_DESCRIPTION in docs
