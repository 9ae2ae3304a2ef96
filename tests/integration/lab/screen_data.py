"""Test data for the screener: instruments, fundamentals snapshots, factor and risk rows written
straight into the tables (`instrument_info`, `instrument_metrics`, `factor_exposures`,
`risk_model`), so the screener's tests need no factor or risk code.

Loaded by path (`load_helper`) from the lab and store tests (tests are not a package)."""

from __future__ import annotations

import datetime as dt
import importlib.util
from collections.abc import Iterable, Mapping
from pathlib import Path
from types import ModuleType
from typing import Any

from sqlalchemy import Engine, text

# fundamentals_snapshot name -> instrument_metrics column
METRIC_COLUMNS = {
    "market_cap": "market_cap", "pe": "pe_ttm", "pb": "price_to_book", "ps": "price_to_sales",
    "roe": "roe", "roce": "roce", "debt_to_equity": "debt_to_equity",
    "sales_growth_yoy": "revenue_growth_yoy", "profit_growth_yoy": "earnings_growth_yoy",
    "eps_growth_3y": "eps_growth_3y", "operating_margin": "operating_margin",
    "net_margin": "net_margin", "interest_coverage": "interest_coverage",
    "promoter_holding": "promoter_holding", "fii_holding": "fii_holding",
    "dii_holding": "dii_holding", "sector": "sector", "industry": "industry",
}  # fmt: skip
FACTOR_COLUMNS = ("value", "quality", "momentum", "low_vol", "size", "composite_score")
RISK_COLUMNS = ("volatility", "beta", "tail_beta", "skew", "kurtosis")


def load_helper() -> ModuleType:
    """This module, importable from any test file."""
    spec = importlib.util.spec_from_file_location("screen_data", Path(__file__))
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def add_instruments(engine: Engine, rows: Iterable[Mapping[str, Any]]) -> None:
    """instrument_info rows: symbol, optional name, sector, industry, exchange."""
    with engine.begin() as conn:
        for row in rows:
            conn.execute(
                text(
                    "INSERT INTO instrument_info (symbol, name, sector, industry, exchange)"
                    " VALUES (:symbol, :name, :sector, :industry, :exchange)"
                    " ON CONFLICT (symbol) DO UPDATE SET name = EXCLUDED.name,"
                    " sector = EXCLUDED.sector, industry = EXCLUDED.industry,"
                    " exchange = EXCLUDED.exchange"
                ),
                {
                    "symbol": row["symbol"],
                    "name": row.get("name"),
                    "sector": row.get("sector"),
                    "industry": row.get("industry"),
                    "exchange": row.get("exchange"),
                },
            )


def add_fundamentals(
    engine: Engine, rows: Iterable[Mapping[str, Any]], *, period_type: str = "TTM"
) -> None:
    """instrument_metrics rows by fundamentals_snapshot names (symbol, as_of_date, pe, …);
    a repeated (symbol, as_of_date) overwrites the stored row."""
    with engine.begin() as conn:
        for row in rows:
            fields = {METRIC_COLUMNS[k]: v for k, v in row.items() if k in METRIC_COLUMNS}
            columns = ["symbol", "as_of_date", "period_type", "source", *fields]
            values = {
                "symbol": row["symbol"],
                "as_of_date": row["as_of_date"],
                "period_type": period_type,
                "source": "test",
                **fields,
            }
            updates = ", ".join(f"{c} = EXCLUDED.{c}" for c in fields) or "source = 'test'"
            conn.execute(
                text(
                    f"INSERT INTO instrument_metrics ({', '.join(columns)})"
                    f" VALUES ({', '.join(':' + c for c in columns)})"
                    " ON CONFLICT (symbol, as_of_date, period_type, source)"
                    f" DO UPDATE SET {updates}"
                ),
                values,
            )


def _add(
    engine: Engine, table: str, names: tuple[str, ...], rows: Iterable[Mapping[str, Any]]
) -> None:
    columns = ["symbol", "as_of_date", *names]
    updates = ", ".join(f"{c} = EXCLUDED.{c}" for c in names)
    with engine.begin() as conn:
        for row in rows:
            conn.execute(
                text(
                    f"INSERT INTO {table} ({', '.join(columns)})"
                    f" VALUES ({', '.join(':' + c for c in columns)})"
                    f" ON CONFLICT (symbol, as_of_date) DO UPDATE SET {updates}"
                ),
                {c: row.get(c) for c in columns},
            )


def add_factors(engine: Engine, rows: Iterable[Mapping[str, Any]]) -> None:
    """factor_exposures rows (symbol, as_of_date, value, …, composite_score)."""
    _add(engine, "factor_exposures", FACTOR_COLUMNS, rows)


def add_risk(engine: Engine, rows: Iterable[Mapping[str, Any]]) -> None:
    """risk_model rows (symbol, as_of_date, volatility, beta, …)."""
    _add(engine, "risk_model", RISK_COLUMNS, rows)


def day(text_date: str) -> dt.date:
    return dt.date.fromisoformat(text_date)
