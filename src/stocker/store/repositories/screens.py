"""The screener's reads: compiled, parameterized filters over fundamentals, factors and risk.

A screen as of day D sees one row per symbol (`screened`), built only from rows dated on or
before D:

- fundamentals: per symbol, the latest `fundamentals_snapshot` row with ``as_of_date <= D`` (the
  date a figure became known, so a later restatement never changes what D saw);
- factors and risk: the rows of the latest ``as_of_date <= D`` of `factor_exposures` and of
  `risk_model` (one cross-section each: z-scores of different dates are not comparable);
- news sentiment (`sentiment_1d`, `sentiment_5d`, `sentiment_20d`, `news_count_5d`): the
  symbol's `market_sentiment` rows of one source (default ``lm_news``) over the last 1, 5 or 20
  news sessions on or before D, a news session being a date with a market-wide row of that
  source (with a live feed, every exchange session); ``sentiment_Nd`` is the plain mean of the
  symbol's daily scores in the window (sessions without its news do not count), NULL when it
  had none; rows are dated by the session an article counted for, so D sees only news published
  before D's close;
- sector and industry: the snapshot's own classification, else `instrument_info`'s (current);
- the universe: the live members of the group. Membership history is not stored (members are
  soft-deleted and revived in place), so a universe filter uses today's members on any D.

A symbol is in `screened` when it has a fundamentals snapshot, factor row, risk row or news
sentiment as of D.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import pandas as pd
from sqlalchemy import Connection, text

from stocker.core.screener import FIELDS
from stocker.store.screen_sql import CompiledScreen

_NUMBERS = {
    source: [
        name for name, info in FIELDS.items() if info.source == source and info.type == "number"
    ]
    for source in ("fundamentals", "factors", "risk")
}
_FUNDAMENTALS = ", ".join(f'"{name}"::float8 AS "{name}"' for name in _NUMBERS["fundamentals"])
_FACTORS = ", ".join(f'fe."{name}"' for name in _NUMBERS["factors"])
_RISK = ", ".join(f'rm."{name}"' for name in _NUMBERS["risk"])
_FUNDAMENTAL_COLUMNS = ", ".join(f'fs."{name}"' for name in _NUMBERS["fundamentals"])
_SENTIMENT = ", ".join(f'ms."{name}"' for name in FIELDS if FIELDS[name].source == "sentiment")
DEFAULT_SENTIMENT_SOURCE = "lm_news"
"""The `market_sentiment` source the sentiment fields read (Loughran–McDonald news scores)."""

SCREENED_SQL = f"""
WITH fs AS (
    SELECT DISTINCT ON (symbol) symbol, as_of_date, {_FUNDAMENTALS}, sector, industry
    FROM fundamentals_snapshot
    WHERE as_of_date <= :as_of
    ORDER BY symbol, as_of_date DESC
), fe AS (
    SELECT * FROM factor_exposures
    WHERE as_of_date = (SELECT max(as_of_date) FROM factor_exposures WHERE as_of_date <= :as_of)
), rm AS (
    SELECT * FROM risk_model
    WHERE as_of_date = (SELECT max(as_of_date) FROM risk_model WHERE as_of_date <= :as_of)
), news_days AS (
    SELECT date, row_number() OVER (ORDER BY date DESC) AS back
    FROM market_sentiment
    WHERE source = :sentiment_source AND symbol IS NULL AND date <= :as_of
    ORDER BY date DESC
    LIMIT 20
), ms AS (
    SELECT m.symbol,
        (avg(m.sentiment_score) FILTER (WHERE d.back = 1))::float8 AS "sentiment_1d",
        (avg(m.sentiment_score) FILTER (WHERE d.back <= 5))::float8 AS "sentiment_5d",
        avg(m.sentiment_score)::float8 AS "sentiment_20d",
        (sum(m.article_count) FILTER (WHERE d.back <= 5))::float8 AS "news_count_5d"
    FROM market_sentiment AS m
    JOIN news_days AS d ON d.date = m.date
    WHERE m.source = :sentiment_source AND m.symbol IS NOT NULL
    GROUP BY m.symbol
), screened AS (
    SELECT
        i.symbol AS "symbol", i.name AS "name", i.exchange AS "exchange",
        COALESCE(fs.sector, i.sector) AS "sector",
        COALESCE(fs.industry, i.industry) AS "industry",
        {_FUNDAMENTAL_COLUMNS}, {_FACTORS}, {_RISK}, {_SENTIMENT},
        fs.as_of_date AS fundamentals_date, fe.as_of_date AS factors_date,
        rm.as_of_date AS risk_date
    FROM instrument_info AS i
    LEFT JOIN fs ON fs.symbol = i.symbol
    LEFT JOIN fe ON fe.symbol = i.symbol
    LEFT JOIN rm ON rm.symbol = i.symbol
    LEFT JOIN ms ON ms.symbol = i.symbol
    WHERE (fs.symbol IS NOT NULL OR fe.symbol IS NOT NULL OR rm.symbol IS NOT NULL
           OR ms.symbol IS NOT NULL)
      AND {{universe}}
)
SELECT * FROM screened
WHERE {{where}}
ORDER BY {{order_by}}"symbol"
{{limit}}
"""
"""The whole query; only `CompiledScreen`'s fragments (catalogue names, fixed keywords and
parameter names) and fixed text are put into the braces."""

_IN_UNIVERSE = "i.symbol IN (SELECT symbol FROM group_members WHERE group_id = :universe_id)"


class ScreenRepository:
    """Runs a compiled screen as of a date (read model)."""

    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    def run(
        self,
        compiled: CompiledScreen,
        as_of: dt.date,
        *,
        universe_id: int | None = None,
        sentiment_source: str = DEFAULT_SENTIMENT_SOURCE,
    ) -> pd.DataFrame:
        """The rows passing the screen as of `as_of`, in screen order (ties by symbol).

        Columns: every catalogue field, then ``fundamentals_date, factors_date, risk_date``
        (the as-of dates the row's values come from). Numbers are float64.
        """
        parameters: dict[str, Any] = {
            **compiled.parameters,
            "as_of": as_of,
            "sentiment_source": sentiment_source,
        }
        if universe_id is not None:
            parameters["universe_id"] = universe_id
        statement = SCREENED_SQL.format(
            universe="TRUE" if universe_id is None else _IN_UNIVERSE,
            where=compiled.where,
            order_by=f"{compiled.order_by}, " if compiled.order_by else "",
            limit=f"LIMIT :{compiled.limit_parameter}" if compiled.limit_parameter else "",
        )
        result = self._conn.execute(text(statement), parameters)
        frame = pd.DataFrame(result.fetchall(), columns=list(result.keys()))
        for name, info in FIELDS.items():
            if info.type == "number":
                frame[name] = frame[name].astype("float64")
        return frame

    def latest_dates(self, as_of: dt.date) -> dict[str, dt.date | None]:
        """The as-of dates a screen on `as_of` reads: the latest fundamentals snapshot date (any
        symbol), factor date and risk date on or before it."""
        row = self._conn.execute(
            text(
                "SELECT (SELECT max(as_of_date) FROM instrument_metrics WHERE as_of_date <= :d)"
                " AS fundamentals, (SELECT max(as_of_date) FROM factor_exposures"
                " WHERE as_of_date <= :d) AS factors, (SELECT max(as_of_date) FROM risk_model"
                " WHERE as_of_date <= :d) AS risk"
            ),
            {"d": as_of},
        ).one()
        return {"fundamentals": row.fundamentals, "factors": row.factors, "risk": row.risk}
