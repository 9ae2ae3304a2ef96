"""Screener.in exports (CSV and XLSX) mapped onto instrument_metrics and instrument_info."""

from __future__ import annotations

import csv
import hashlib
import math
from datetime import date
from pathlib import Path

import openpyxl
import pytest
from vendor_loopback import VENDOR_FIXTURES

from stocker.core.errors import SourceError
from stocker.sources.base import FetchRequest
from stocker.sources.screener_in import ScreenerInSource

EXPORT = VENDOR_FIXTURES / "screener_in" / "screen_export.csv"
AS_OF = date(2024, 6, 28)

RELIANCE = {
    "market_cap": 1985471.35 * 1e7,
    "pe_ttm": 28.41,
    "price_to_book": 2.38,
    "roe": 0.0925,
    "roce": 0.0969,
    "debt_to_equity": 0.44,
    "revenue_growth_yoy": 0.0265,
    "earnings_growth_yoy": 0.0438,
    "eps_growth_3y": 0.082,
    "operating_margin": 0.1759,
    "promoter_holding": 50.31,
    "fii_holding": 21.75,
    "dii_holding": 17.30,
    "interest_coverage": 6.71,
}


def _check_metrics(batch_path: Path) -> None:
    batch = ScreenerInSource(batch_path, as_of=AS_OF).fetch()

    metrics = batch.frames["instrument_metrics"].set_index("symbol")
    assert list(metrics.index) == ["RELIANCE", "INFY", "HDFCBANK"]
    reliance = metrics.loc["RELIANCE"]
    for column, value in RELIANCE.items():
        assert reliance[column] == pytest.approx(value, rel=1e-12), column
    assert (reliance["as_of_date"], reliance["period_type"], reliance["source"]) == (
        AS_OF,
        "TTM",
        "screener-in",
    )
    assert (reliance["currency"], reliance["industry"]) == ("INR", "Refineries")
    assert math.isnan(metrics.loc["HDFCBANK", "operating_margin"])  # banks have no OPM
    assert metrics.loc["HDFCBANK", "promoter_holding"] == 0.0
    assert set(metrics["source_hash"]) == {hashlib.sha256(batch_path.read_bytes()).hexdigest()}

    info = batch.frames["instrument_info"].set_index("symbol")
    assert info.loc["INFY", ["name", "industry", "exchange", "currency"]].tolist() == [
        "Infosys",
        "IT - Software",
        "NSE",
        "INR",
    ]
    reasons = [reason for reject in batch.rejects for reason in reject.reasons]
    assert any("no NSE Code for 'Kaveri Seed Co.' (BSE Code '532899')" in r for r in reasons)
    assert any("'Price to Earning' value 'abc' is not a number" in r for r in reasons)


def test_screener_csv_export_converts_crores_and_percents_and_keys_by_nse_code() -> None:
    _check_metrics(EXPORT)


def test_screener_xlsx_export_with_a_title_row_gives_the_same_metrics(tmp_path: Path) -> None:
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    sheet.title = "Screen"
    sheet.append(["Quality large caps - exported from screener.in"])
    with EXPORT.open(newline="") as handle:
        for line_number, row in enumerate(csv.reader(handle)):
            sheet.append([_typed(cell) if line_number else cell for cell in row])
    path = tmp_path / "screen.xlsx"
    workbook.save(path)

    _check_metrics(path)


def _typed(cell: str) -> object:
    """Cells as Excel holds them: numbers as numbers, blanks as empty, text as text."""
    if not cell:
        return None
    try:
        return float(cell.replace(",", ""))
    except ValueError:
        return cell


def test_screener_short_column_names_from_the_results_table_are_understood(
    tmp_path: Path,
) -> None:
    path = tmp_path / "short.csv"
    path.write_text(
        "S.No.,Name,NSE Code,CMP Rs.,P/E,Mar Cap Rs.Cr.,Div Yld %,ROCE %,Debt / Eq\n"
        "1,Infosys,INFY,1873.40,28.90,777726.12,2.29,40.84,0.09\n"
    )

    row = ScreenerInSource(path, as_of=AS_OF).fetch().frames["instrument_metrics"].iloc[0]

    assert row["pe_ttm"] == 28.90
    assert row["market_cap"] == pytest.approx(777726.12e7)
    assert row["dividend_yield"] == pytest.approx(0.0229)
    assert row["roce"] == pytest.approx(0.4084)
    assert row["debt_to_equity"] == 0.09


def test_screener_fetch_keeps_only_requested_symbols() -> None:
    batch = ScreenerInSource(EXPORT, as_of=AS_OF).fetch(FetchRequest(("infy",)))

    assert batch.frames["instrument_metrics"]["symbol"].tolist() == ["INFY"]


def test_screener_without_as_of_date_refuses() -> None:
    with pytest.raises(SourceError, match="needs as_of="):
        ScreenerInSource(EXPORT, as_of=None)


def test_screener_export_without_nse_code_column_names_it(tmp_path: Path) -> None:
    path = tmp_path / "no_nse.csv"
    path.write_text("Name,BSE Code,Price to Earning\nInfosys,500209,28.9\n")

    with pytest.raises(SourceError, match="missing required column 'NSE Code'"):
        ScreenerInSource(path, as_of=AS_OF).fetch()


def test_screener_xlsx_that_is_not_a_workbook_says_so(tmp_path: Path) -> None:
    path = tmp_path / "export.xlsx"
    path.write_bytes(EXPORT.read_bytes())

    with pytest.raises(SourceError, match=r"export\.xlsx: not a readable XLSX workbook"):
        ScreenerInSource(path, as_of=AS_OF).fetch()
