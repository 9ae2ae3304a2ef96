"""Former home of the validation rules, now split by subject under `stocker.core.rules`.

Kept only so that modules not yet moved keep importing; new code imports from
`stocker.core.rules.<subject>` (and `stocker.core.tables` for which rules apply to which table).
"""

from stocker.core.rules.actions import ACTION_TYPES, check_corporate_actions
from stocker.core.rules.bars import (
    BAR_VALUE_COLUMNS,
    DAILY_KEY,
    DEFAULT_JUMP_THRESHOLD,
    PRICE_COLUMNS,
    check_daily_bars,
    typed_bars,
)
from stocker.core.rules.common import (
    SYMBOL_MAX_LENGTH,
    CalendarSessions,
    CheckResult,
    RuleOutcome,
    symbols_by_calendar,
    to_dates,
    to_timestamps,
    utc_nanoseconds,
)
from stocker.core.rules.instruments import check_instruments
from stocker.core.rules.intraday import (
    INTRADAY_KEY,
    check_intraday_bars,
    interval_length,
    interval_lengths,
    session_positions,
)
from stocker.core.rules.metrics import PERIOD_TYPES, check_metrics
from stocker.core.rules.sentiment import check_sentiment

__all__ = [
    "ACTION_TYPES",
    "BAR_VALUE_COLUMNS",
    "DAILY_KEY",
    "DEFAULT_JUMP_THRESHOLD",
    "INTRADAY_KEY",
    "PERIOD_TYPES",
    "PRICE_COLUMNS",
    "SYMBOL_MAX_LENGTH",
    "CalendarSessions",
    "CheckResult",
    "RuleOutcome",
    "check_corporate_actions",
    "check_daily_bars",
    "check_instruments",
    "check_intraday_bars",
    "check_metrics",
    "check_sentiment",
    "interval_length",
    "interval_lengths",
    "session_positions",
    "symbols_by_calendar",
    "to_dates",
    "to_timestamps",
    "typed_bars",
    "utc_nanoseconds",
]
