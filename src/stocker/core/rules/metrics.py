"""The rules of point-in-time fundamentals (`instrument_metrics`)."""

from __future__ import annotations

from datetime import date

import pandas as pd

from stocker.core.rules.common import (
    CheckResult,
    column_of,
    row_check,
    rule_allowed_values,
    rule_bad_date,
    rule_duplicate_key,
    rule_future_date,
    rule_required_text,
    symbol_rules,
    to_dates,
    typed_symbols,
)

PERIOD_TYPES = ("DAILY", "TTM", "FQ", "FY")


def check_metrics(frame: pd.DataFrame, *, today: date) -> CheckResult:
    """Fundamentals: symbol, an as-of date not in the future, a period type and a source."""
    raw = frame.reset_index(drop=True)
    typed = raw.copy()
    typed["symbol"] = typed_symbols(raw)
    typed["as_of_date"] = to_dates(column_of(raw, "as_of_date"))
    typed["period_type"] = column_of(raw, "period_type").astype(object).astype(str).str.upper()
    outcomes = [
        *symbol_rules(raw),
        rule_bad_date(column_of(raw, "as_of_date"), typed["as_of_date"], column="as_of_date"),
        rule_future_date(typed["as_of_date"], today),
        rule_allowed_values(raw, "period_type", PERIOD_TYPES),
        rule_required_text(raw, "source"),
        rule_duplicate_key(typed, ("symbol", "as_of_date", "period_type", "source")),
    ]
    return row_check(raw, typed, outcomes)
