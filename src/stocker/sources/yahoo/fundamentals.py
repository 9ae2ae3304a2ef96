"""A Yahoo quoteSummary response as an instrument profile and an `instrument_metrics` row."""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from datetime import date
from typing import Any

from stocker.core.errors import SourceError
from stocker.sources.base import payload_hash
from stocker.sources.http import decode_json
from stocker.sources.yahoo.common import SOURCE_NAME, VENDOR, exchange_name


def _percent_to_fraction(value: float) -> float:
    return value / 100.0


def _yield_to_fraction(value: float) -> float:
    # summaryDetail gives a fraction; Yahoo's v7 quote (and so recent `Ticker.info`) a percent.
    # No dividend yield exceeds 100 %, so a value above 1 can only be a percent.
    return value / 100.0 if value > 1.0 else value


# instrument_metrics column <- (Yahoo field as in `Ticker.info`, modules to look in, transform)
METRIC_FIELDS: tuple[tuple[str, str, tuple[str, ...], Callable[[float], float] | None], ...] = (
    ("market_cap", "marketCap", ("price", "summaryDetail"), None),
    ("enterprise_value", "enterpriseValue", ("defaultKeyStatistics",), None),
    ("shares_outstanding", "sharesOutstanding", ("defaultKeyStatistics",), None),
    ("float_shares", "floatShares", ("defaultKeyStatistics",), None),
    ("beta", "beta", ("summaryDetail", "defaultKeyStatistics"), None),
    ("pe_ttm", "trailingPE", ("summaryDetail",), None),
    ("pe_forward", "forwardPE", ("summaryDetail", "defaultKeyStatistics"), None),
    ("price_to_book", "priceToBook", ("defaultKeyStatistics",), None),
    ("price_to_sales", "priceToSalesTrailing12Months", ("summaryDetail",), None),
    ("peg_ratio", "pegRatio", ("defaultKeyStatistics",), None),
    ("peg_ratio", "trailingPegRatio", ("defaultKeyStatistics",), None),
    ("ev_to_ebitda", "enterpriseToEbitda", ("defaultKeyStatistics",), None),
    ("dividend_yield", "dividendYield", ("summaryDetail",), _yield_to_fraction),
    ("dividend_rate", "dividendRate", ("summaryDetail",), None),
    ("payout_ratio", "payoutRatio", ("summaryDetail",), None),
    ("revenue", "totalRevenue", ("financialData",), None),
    ("ebitda", "ebitda", ("financialData",), None),
    ("net_income", "netIncomeToCommon", ("defaultKeyStatistics",), None),
    ("free_cash_flow", "freeCashflow", ("financialData",), None),
    ("gross_margin", "grossMargins", ("financialData",), None),
    ("operating_margin", "operatingMargins", ("financialData",), None),
    ("net_margin", "profitMargins", ("financialData", "defaultKeyStatistics"), None),
    ("ebitda_margin", "ebitdaMargins", ("financialData",), None),
    ("roe", "returnOnEquity", ("financialData",), None),
    ("roa", "returnOnAssets", ("financialData",), None),
    ("revenue_growth_yoy", "revenueGrowth", ("financialData",), None),
    ("earnings_growth_yoy", "earningsGrowth", ("financialData",), None),
    ("debt_to_equity", "debtToEquity", ("financialData",), _percent_to_fraction),
    ("current_ratio", "currentRatio", ("financialData",), None),
    ("quick_ratio", "quickRatio", ("financialData",), None),
)
METRIC_COLUMNS = (
    "symbol",
    "as_of_date",
    "period_type",
    "source",
    "currency",
    *dict.fromkeys(column for column, *_ in METRIC_FIELDS),
    "fcf_yield",
    "sector",
    "industry",
    "source_hash",
)


def _raw(value: Any) -> Any:
    """A quoteSummary value: plain with `formatted=false`, `{"raw":..,"fmt":..}` otherwise."""
    if isinstance(value, Mapping):
        return value.get("raw")
    return value


def _number(value: Any) -> float | None:
    value = _raw(value)
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    number = float(value)
    return number if math.isfinite(number) else None


def parse_quote_summary(
    symbol: str, body: bytes, as_of: date | None
) -> tuple[dict[str, object], dict[str, object]]:
    """The profile (name, sector, industry, exchange, currency) and the metrics row (dated
    `as_of`, default today) of one quoteSummary response."""
    what = f"{symbol} quoteSummary"
    payload = decode_json(vendor=VENDOR, body=body, what=what)
    source_hash = payload_hash(body)
    try:
        modules: Mapping[str, Any] = payload["quoteSummary"]["result"][0]
    except (KeyError, IndexError, TypeError) as error:
        raise SourceError(f"{VENDOR} {what} lacks quoteSummary.result[0]") from error

    def field(key: str, module_names: tuple[str, ...]) -> Any:
        for module_name in module_names:
            module = modules.get(module_name) or {}
            value = _raw(module.get(key))
            if value is not None and value != {}:
                return value
        return None

    profile = modules.get("assetProfile") or {}
    currency = field("currency", ("price", "summaryDetail")) or field(
        "financialCurrency", ("financialData",)
    )
    info: dict[str, object] = {
        "name": field("longName", ("price", "quoteType"))
        or field("shortName", ("price", "quoteType")),
        "sector": profile.get("sector"),
        "industry": profile.get("industry"),
        "exchange": exchange_name(field("exchange", ("price", "quoteType"))),
        "currency": currency,
        "source_hash": source_hash,
    }
    row: dict[str, object] = {
        "symbol": symbol,
        "as_of_date": as_of or date.today(),
        "period_type": "DAILY",
        "source": SOURCE_NAME,
        "currency": currency,
        "sector": profile.get("sector"),
        "industry": profile.get("industry"),
        "source_hash": source_hash,
    }
    for column, key, module_names, transform in METRIC_FIELDS:
        if row.get(column) is not None:
            continue
        number = _number(field(key, module_names))
        if number is not None and transform is not None:
            number = transform(number)
        row[column] = number
    for column in ("shares_outstanding", "float_shares"):
        if row.get(column) is not None:
            row[column] = int(row[column])  # type: ignore[call-overload]
    free_cash_flow, market_cap = row.get("free_cash_flow"), row.get("market_cap")
    row["fcf_yield"] = (
        free_cash_flow / market_cap  # type: ignore[operator]
        if free_cash_flow is not None and market_cap
        else None
    )
    return info, row
