"""Screener.in exports (CSV or XLSX) as fundamentals snapshots for Indian equities.

A Screener.in screen exports one row per company with the columns the user picked, headed by
Screener's ratio names (`Market Capitalization`, `Price to Earning`, `Return on equity`, ...;
the results table's short forms such as `Mar Cap Rs.Cr.`, `P/E`, `ROCE %` are accepted too).
Each row becomes an `instrument_metrics` row (the SigmaQLab `fundamentals_snapshot` fields,
`period_type` 'TTM', `as_of_date` the export's date, which the caller must give) and an
`instrument_info` row (name, industry, exchange NSE, currency INR), keyed by the NSE code.

Units: market capitalisation is in ₹ crores and becomes rupees (x 10^7); percentages (returns,
growth, margins, dividend yield) become fractions for the NUMERIC(12,6) ratio columns;
promoter/FII/DII holdings stay percentages (0..100), as SigmaQLab stores them.
"""

from __future__ import annotations

import re
import zipfile
from collections.abc import Callable, Mapping
from datetime import date
from pathlib import Path
from typing import Any

import pandas as pd

from stocker.core.cells import normalize_header, parse_number
from stocker.core.errors import SourceError
from stocker.sources.base import (
    DESCRIBED_INSTRUMENT_COLUMNS,
    INSTRUMENT_METRICS_KEY_COLUMNS,
    FetchRequest,
    RawReject,
    SourceBatch,
)
from stocker.sources.decoding import decode_text, file_sha256, read_csv_text, scan_file
from stocker.sources.frames import records_frame

SOURCE_NAME = "screener-in"
CRORE = 10_000_000
HEADER_SEARCH_ROWS = 20


def _same(value: float) -> float:
    return value


def _percent(value: float) -> float:
    return value / 100.0


def _crores(value: float) -> float:
    return value * CRORE


# instrument_metrics column -> (Screener headers, normalized, and the unit conversion)
METRIC_HEADERS: dict[str, tuple[tuple[str, ...], Callable[[float], float]]] = {
    "market_cap": (("market_capitalization", "market_cap", "mar_cap_rs_cr", "mar_cap"), _crores),
    "pe_ttm": (("price_to_earning", "p_e", "pe"), _same),
    "price_to_book": (("price_to_book_value", "cmp_bv", "p_b", "price_to_book"), _same),
    "price_to_sales": (("price_to_sales", "price_to_sales_ratio", "p_s"), _same),
    "roe": (("return_on_equity", "roe"), _percent),
    "roce": (("return_on_capital_employed", "roce"), _percent),
    "debt_to_equity": (("debt_to_equity", "debt_eq", "d_e"), _same),
    "revenue_growth_yoy": (("sales_growth", "sales_growth_yoy"), _percent),
    "earnings_growth_yoy": (("profit_growth", "profit_growth_yoy"), _percent),
    "eps_growth_3y": (("eps_growth_3years", "eps_growth_3_years", "eps_var_3yrs"), _percent),
    "operating_margin": (("opm", "operating_profit_margin"), _percent),
    "net_margin": (("npm", "net_profit_margin", "npm_ttm"), _percent),
    "dividend_yield": (("dividend_yield", "div_yld"), _percent),
    "interest_coverage": (("interest_coverage_ratio", "interest_coverage", "int_coverage"), _same),
    "promoter_holding": (("promoter_holding", "prom_hold"), _same),
    "fii_holding": (("fii_holding",), _same),
    "dii_holding": (("dii_holding",), _same),
}
TEXT_HEADERS = {
    "name": ("name", "company", "company_name"),
    "nse_code": ("nse_code", "nse_symbol"),
    "bse_code": ("bse_code",),
    "industry": ("industry",),
    "sector": ("sector",),
}
UNIT_SUFFIXES = re.compile(r"_(rs_cr|rs|cr|pct|percent)$")


def _canonical(header: str) -> str:
    """Normalize a Screener header: `ROCE %` -> `roce`, `Mar Cap Rs.Cr.` -> `mar_cap_rs_cr`."""
    name = normalize_header(str(header).replace("%", " "))
    return name


MISSING_WORDS = frozenset({"-", "--", "NA", "N/A"})


def _number(value: Any) -> float | None:
    """A Screener cell as a number: '1,23,456.7', '12.5%', '₹ 5', '' and 'N/A' handled."""
    return parse_number(value, strip=",%₹", missing_words=MISSING_WORDS)


class ScreenerInSource:
    """A Screener.in export file.

    Parameters
    ----------
    path
        The .csv or .xlsx export.
    as_of
        The date the export was taken (required: the file does not say).
    sheet
        Worksheet name for XLSX files; default the first.
    """

    name = SOURCE_NAME

    def __init__(
        self,
        path: str | Path,
        *,
        as_of: date | None,
        sheet: str | None = None,
    ) -> None:
        if as_of is None:
            raise SourceError(
                "a Screener.in export needs as_of=<the date it was exported>: the file itself "
                "carries no date, and fundamentals must be point-in-time"
            )
        self.path = Path(path)
        self.as_of = as_of
        self.sheet = sheet

    def fetch(self, request: FetchRequest | None = None) -> SourceBatch:
        """Metrics and instrument rows for every company (or the requested NSE codes)."""
        request = request or FetchRequest(symbols=())
        cells, source_hash, first_line = self._read()
        columns = self._map_columns(list(cells.columns))
        batch = SourceBatch(source=SOURCE_NAME)
        wanted = {symbol.upper() for symbol in request.symbols}
        metrics: list[dict[str, object]] = []
        lines: list[int] = []  # each metrics row's line, so rejects name the file's lines
        info: list[dict[str, object]] = []
        for index, record in enumerate(cells.to_dict(orient="records")):
            where = f"line {index + first_line}"
            text = {field: _text(record.get(header)) for field, header in columns["text"].items()}
            symbol = (text.get("nse_code") or "").upper()
            if not symbol:
                if (text.get("name") or "").lower().startswith(("median", "total", "average")):
                    batch.warnings.append(f"{self.path.name}: skipped summary {where}")
                    continue
                batch.rejects.append(
                    RawReject(
                        table="instrument_metrics",
                        raw_row=_raw(record),
                        reasons=(
                            f"{where}: no NSE Code for {text.get('name')!r} (BSE Code "
                            f"{text.get('bse_code')!r}); instruments are keyed by NSE symbol",
                        ),
                        row_number=index + first_line,
                    )
                )
                continue
            if wanted and symbol not in wanted:
                continue
            row: dict[str, object] = {
                "symbol": symbol,
                "as_of_date": self.as_of,
                "period_type": "TTM",
                "source": SOURCE_NAME,
                "currency": "INR",
            }
            reasons = []
            for column, (header, convert) in columns["metrics"].items():
                try:
                    number = _number(record.get(header))
                except ValueError:
                    reasons.append(
                        f"{where}: column {header!r} value {record.get(header)!r} is not a number"
                    )
                    continue
                row[column] = None if number is None else convert(number)
            if reasons:
                batch.rejects.append(
                    RawReject(
                        "instrument_metrics", _raw(record), tuple(reasons), index + first_line
                    )
                )
                continue
            row["sector"] = text.get("sector")
            row["industry"] = text.get("industry")
            row["source_hash"] = source_hash
            metrics.append(row)
            lines.append(index + first_line)
            info.append(
                {
                    "symbol": symbol,
                    "name": text.get("name"),
                    "sector": text.get("sector"),
                    "industry": text.get("industry"),
                    "exchange": "NSE",
                    "currency": "INR",
                    "source": SOURCE_NAME,
                    "source_hash": source_hash,
                }
            )
        metric_columns = [
            *INSTRUMENT_METRICS_KEY_COLUMNS,
            "currency",
            *columns["metrics"],
            "sector",
            "industry",
            "source_hash",
        ]
        batch.frames["instrument_metrics"] = records_frame(metrics, metric_columns).set_axis(
            pd.Index(lines, dtype="int64")
        )
        batch.frames["instrument_info"] = records_frame(
            info, DESCRIBED_INSTRUMENT_COLUMNS
        ).set_axis(pd.Index(lines, dtype="int64"))
        return batch

    # -- reading -------------------------------------------------------------------------------

    def _read(self) -> tuple[pd.DataFrame, str, int]:
        if not self.path.is_file():
            raise SourceError(f"{self.path}: no such file")
        if self.path.stat().st_size == 0:
            raise SourceError(f"{self.path.name}: the file is empty")
        if self.path.suffix.lower() in {".xlsx", ".xlsm"}:
            cells, first_line = self._read_xlsx()
            return cells, file_sha256(self.path), first_line
        source_hash = scan_file(self.path)
        text = decode_text(self.path.name, self.path.read_bytes())
        cells = read_csv_text(
            self.path.name,
            text,
            lambda headers: set(headers),  # every cell as written
        )
        return cells, source_hash, 2

    def _read_xlsx(self) -> tuple[pd.DataFrame, int]:
        import openpyxl

        try:
            workbook = openpyxl.load_workbook(self.path, read_only=True, data_only=True)
        except (zipfile.BadZipFile, KeyError, OSError, ValueError) as error:
            raise SourceError(
                f"{self.path.name}: not a readable XLSX workbook ({error})"
            ) from error
        try:
            if self.sheet is not None and self.sheet not in workbook.sheetnames:
                raise SourceError(
                    f"{self.path.name}: no sheet {self.sheet!r}; sheets: "
                    f"{', '.join(workbook.sheetnames)}"
                )
            worksheet = workbook[self.sheet] if self.sheet else workbook.worksheets[0]
            rows = [list(row) for row in worksheet.iter_rows(values_only=True)]
        finally:
            workbook.close()
        for index, row in enumerate(rows[:HEADER_SEARCH_ROWS]):
            names = {_canonical(cell) for cell in row if cell is not None}
            if "nse_code" in names or ("name" in names and len(names) > 2):
                headers = [
                    str(cell) if cell is not None else f"column_{i}" for i, cell in enumerate(row)
                ]
                body = [r for r in rows[index + 1 :] if any(c not in (None, "") for c in r)]
                if not body:
                    raise SourceError(f"{self.path.name}: has a header row but no data rows")
                width = len(headers)
                frame = pd.DataFrame(
                    [(list(r) + [None] * width)[:width] for r in body],
                    columns=headers,
                    dtype=object,
                )
                return frame, index + 2
        raise SourceError(
            f"{self.path.name}: no header row with 'Name' and 'NSE Code' in the first "
            f"{HEADER_SEARCH_ROWS} rows of sheet {worksheet.title!r}"
        )

    def _map_columns(self, headers: list[str]) -> dict[str, dict[str, Any]]:
        by_name = {_canonical(header): header for header in headers}
        text = {
            field: by_name[alias]
            for field, aliases in TEXT_HEADERS.items()
            for alias in aliases
            if alias in by_name
        }
        if "nse_code" not in text:
            raise SourceError(
                f"{self.path.name}: missing required column 'NSE Code' (add it to the screen's "
                f"columns before exporting); found columns: {', '.join(map(str, headers))}"
            )
        metrics: dict[str, tuple[str, Callable[[float], float]]] = {}
        for column, (aliases, convert) in METRIC_HEADERS.items():
            for alias in aliases:
                header = by_name.get(alias) or by_name.get(UNIT_SUFFIXES.sub("", alias))
                if header is not None:
                    metrics[column] = (header, convert)
                    break
        return {"text": text, "metrics": metrics}


def _text(value: Any) -> str | None:
    if value is None or (isinstance(value, float) and pd.isna(value)):
        return None
    if isinstance(value, float) and value.is_integer():
        value = int(value)  # a BSE code read as a number
    text = str(value).strip()
    return text or None


def _raw(record: Mapping[Any, Any]) -> dict[str, object]:
    return {
        str(key): (
            None
            if value is None or (isinstance(value, float) and pd.isna(value))
            else value
            if isinstance(value, str | int | float | bool)
            else str(value)
        )
        for key, value in record.items()
    }
