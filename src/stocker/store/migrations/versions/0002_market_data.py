"""Market data, instrument metadata and fundamentals, universes, market intelligence.

Sections 2.1-2.4 of the Stocker data model, column for column, with the additions listed in
docs/schema.md (payload tracing, natural keys, price sanity checks, symbol foreign keys, and the
SigmaQLab fundamentals columns and group rank that the research views expose).

Revision ID: 0002_market_data
Revises: 0001_platform
Create Date: 2026-11-21
"""

from alembic import op

revision = "0002_market_data"
down_revision = "0001_platform"
branch_labels = None
depends_on = None

UPGRADE = """
-- 2.2 instrument_info comes first: every symbol column references it.
CREATE TABLE instrument_info (
    symbol      VARCHAR(20) PRIMARY KEY,
    name        VARCHAR(255),
    asset_class VARCHAR(20) DEFAULT 'US_EQUITY',
    sector      VARCHAR(100),
    industry    VARCHAR(100),
    exchange    VARCHAR(50),
    currency    VARCHAR(10) DEFAULT 'USD',
    active      BOOLEAN DEFAULT TRUE,
    updated_at  TIMESTAMPTZ DEFAULT NOW(),
    source      VARCHAR(50),
    source_hash VARCHAR(64)
);
COMMENT ON TABLE instrument_info IS
    'Master table of tradable instruments; every symbol column references it '
    '(SigmaQLab view: symbols).';

-- 2.1 Market data
CREATE TABLE prices_daily (
    id          BIGSERIAL PRIMARY KEY,
    symbol      VARCHAR(20) NOT NULL
                REFERENCES instrument_info (symbol) ON UPDATE CASCADE,
    date        DATE NOT NULL,
    open        NUMERIC(14, 4) NOT NULL,
    high        NUMERIC(14, 4) NOT NULL,
    low         NUMERIC(14, 4) NOT NULL,
    close       NUMERIC(14, 4) NOT NULL,
    adj_close   NUMERIC(14, 4) NOT NULL,
    volume      BIGINT NOT NULL,
    source      VARCHAR(50) NOT NULL,
    source_hash VARCHAR(64),
    created_at  TIMESTAMPTZ DEFAULT NOW(),
    UNIQUE (symbol, date),
    CONSTRAINT ck_prices_daily_prices_positive
        CHECK (open > 0 AND high > 0 AND low > 0 AND close > 0 AND adj_close > 0),
    CONSTRAINT ck_prices_daily_high_is_highest CHECK (high >= GREATEST(open, close, low)),
    CONSTRAINT ck_prices_daily_low_is_lowest CHECK (low <= LEAST(open, close)),
    CONSTRAINT ck_prices_daily_volume_not_negative CHECK (volume >= 0)
);
COMMENT ON TABLE prices_daily IS
    'Daily bars, source of truth for history and daily intake (SigmaQLab view: market_data_ohlcv).';
-- symbol: served by the UNIQUE (symbol, date) index, whose leading column it is.
CREATE INDEX ix_prices_daily_date ON prices_daily (date);

CREATE TABLE prices_intraday (
    id          BIGSERIAL PRIMARY KEY,
    symbol      VARCHAR(20) NOT NULL
                REFERENCES instrument_info (symbol) ON UPDATE CASCADE,
    "timestamp" TIMESTAMPTZ NOT NULL,
    "interval"  VARCHAR(10) NOT NULL,
    open        NUMERIC(14, 4) NOT NULL,
    high        NUMERIC(14, 4) NOT NULL,
    low         NUMERIC(14, 4) NOT NULL,
    close       NUMERIC(14, 4) NOT NULL,
    volume      BIGINT NOT NULL,
    created_at  TIMESTAMPTZ DEFAULT NOW(),
    updated_at  TIMESTAMPTZ,
    source      VARCHAR(50),
    source_hash VARCHAR(64),
    UNIQUE (symbol, "timestamp", "interval"),
    CONSTRAINT ck_prices_intraday_prices_positive
        CHECK (open > 0 AND high > 0 AND low > 0 AND close > 0),
    CONSTRAINT ck_prices_intraday_high_is_highest CHECK (high >= GREATEST(open, close, low)),
    CONSTRAINT ck_prices_intraday_low_is_lowest CHECK (low <= LEAST(open, close)),
    CONSTRAINT ck_prices_intraday_volume_not_negative CHECK (volume >= 0)
);
COMMENT ON TABLE prices_intraday IS 'Intraday bars (1m, 5m, 1h, ...), bar start time in UTC.';
CREATE INDEX ix_prices_intraday_timestamp ON prices_intraday ("timestamp");

CREATE TABLE corporate_actions (
    id          BIGSERIAL PRIMARY KEY,
    symbol      VARCHAR(20) NOT NULL
                REFERENCES instrument_info (symbol) ON UPDATE CASCADE,
    date        DATE NOT NULL,
    action_type VARCHAR(20) NOT NULL
                CONSTRAINT ck_corporate_actions_action_type
                CHECK (action_type IN ('SPLIT', 'DIVIDEND')),
    value       NUMERIC(14, 4) NOT NULL
                CONSTRAINT ck_corporate_actions_value_positive CHECK (value > 0),
    created_at  TIMESTAMPTZ DEFAULT NOW(),
    source      VARCHAR(50),
    source_hash VARCHAR(64),
    UNIQUE (symbol, date, action_type)
);
COMMENT ON TABLE corporate_actions IS
    'Splits (value = new shares per old share) and dividends (value = cash per share), by ex-date.';
CREATE INDEX ix_corporate_actions_date ON corporate_actions (date);

CREATE TABLE instrument_metrics (
    id                  BIGSERIAL PRIMARY KEY,
    symbol              VARCHAR(20) NOT NULL
                        REFERENCES instrument_info (symbol) ON UPDATE CASCADE,
    as_of_date          DATE NOT NULL,
    period_type         VARCHAR(10) NOT NULL
                        CONSTRAINT ck_instrument_metrics_period_type
                        CHECK (period_type IN ('DAILY', 'TTM', 'FQ', 'FY')),
    period_end          DATE,
    fiscal_year         INTEGER,
    fiscal_quarter      INTEGER,
    source              VARCHAR(50) NOT NULL,
    currency            VARCHAR(10) DEFAULT 'USD',
    market_cap          NUMERIC(20, 2),
    enterprise_value    NUMERIC(20, 2),
    shares_outstanding  BIGINT,
    float_shares        BIGINT,
    beta                NUMERIC(6, 4),
    pe_ttm              NUMERIC(12, 4),
    pe_forward          NUMERIC(12, 4),
    price_to_book       NUMERIC(12, 4),
    price_to_sales      NUMERIC(12, 4),
    peg_ratio           NUMERIC(12, 4),
    ev_to_ebitda        NUMERIC(12, 4),
    ev_to_ebit          NUMERIC(12, 4),
    fcf_yield           NUMERIC(12, 6),
    dividend_yield      NUMERIC(12, 6),
    dividend_rate       NUMERIC(14, 6),
    payout_ratio        NUMERIC(12, 6),
    revenue             NUMERIC(20, 2),
    ebitda              NUMERIC(20, 2),
    net_income          NUMERIC(20, 2),
    free_cash_flow      NUMERIC(20, 2),
    gross_margin        NUMERIC(12, 6),
    operating_margin    NUMERIC(12, 6),
    net_margin          NUMERIC(12, 6),
    ebitda_margin       NUMERIC(12, 6),
    roe                 NUMERIC(12, 6),
    roa                 NUMERIC(12, 6),
    roic                NUMERIC(12, 6),
    revenue_growth_yoy  NUMERIC(12, 6),
    earnings_growth_yoy NUMERIC(12, 6),
    eps_growth_yoy      NUMERIC(12, 6),
    fcf_growth_yoy      NUMERIC(12, 6),
    debt_to_equity      NUMERIC(12, 6),
    net_debt_to_ebitda  NUMERIC(12, 6),
    interest_coverage   NUMERIC(12, 6),
    current_ratio       NUMERIC(12, 6),
    quick_ratio         NUMERIC(12, 6),
    created_at          TIMESTAMPTZ DEFAULT NOW(),
    updated_at          TIMESTAMPTZ,
    -- SigmaQLab fundamentals_snapshot fields the Stocker table lacks.
    roce                NUMERIC(12, 6),
    eps_growth_3y       NUMERIC(12, 6),
    promoter_holding    NUMERIC(8, 4)
                        CONSTRAINT ck_instrument_metrics_promoter_holding_percent
                        CHECK (promoter_holding BETWEEN 0 AND 100),
    fii_holding         NUMERIC(8, 4)
                        CONSTRAINT ck_instrument_metrics_fii_holding_percent
                        CHECK (fii_holding BETWEEN 0 AND 100),
    dii_holding         NUMERIC(8, 4)
                        CONSTRAINT ck_instrument_metrics_dii_holding_percent
                        CHECK (dii_holding BETWEEN 0 AND 100),
    sector              VARCHAR(100),
    industry            VARCHAR(100),
    UNIQUE (symbol, as_of_date, period_type, source)
);
COMMENT ON TABLE instrument_metrics IS
    'Fundamentals and valuation per symbol per as-of date '
    '(SigmaQLab view: fundamentals_snapshot).';
COMMENT ON COLUMN instrument_metrics.promoter_holding IS
    'Percent of shares held by promoters (0-100).';
COMMENT ON COLUMN instrument_metrics.fii_holding IS
    'Percent held by foreign institutions (0-100).';
COMMENT ON COLUMN instrument_metrics.dii_holding IS
    'Percent held by domestic institutions (0-100).';
COMMENT ON COLUMN instrument_metrics.sector IS
    'Sector as of as_of_date (point-in-time classification).';
CREATE INDEX ix_instrument_metrics_as_of_date ON instrument_metrics (as_of_date);

-- 2.3 Trading universe
CREATE TABLE instrument_universe (
    id          BIGSERIAL PRIMARY KEY,
    name        VARCHAR(100) NOT NULL UNIQUE,
    description TEXT,
    is_global   BOOLEAN DEFAULT FALSE,
    is_deleted  BOOLEAN DEFAULT FALSE,
    created_at  TIMESTAMPTZ DEFAULT NOW(),
    updated_at  TIMESTAMPTZ
);
COMMENT ON TABLE instrument_universe IS
    'User-managed universes, global and per strategy (SigmaQLab view: groups).';
CREATE UNIQUE INDEX ux_instrument_universe_one_global ON instrument_universe ((TRUE))
    WHERE is_global AND is_deleted IS NOT TRUE;
COMMENT ON INDEX ux_instrument_universe_one_global IS
    'At most one live global master universe.';

CREATE TABLE instrument_universe_member (
    id          BIGSERIAL PRIMARY KEY,
    universe_id INT REFERENCES instrument_universe (id) ON DELETE CASCADE,
    symbol      VARCHAR(20) NOT NULL
                REFERENCES instrument_info (symbol) ON UPDATE CASCADE,
    is_deleted  BOOLEAN DEFAULT FALSE,
    created_at  TIMESTAMPTZ DEFAULT NOW(),
    updated_at  TIMESTAMPTZ,
    position    INTEGER CONSTRAINT ck_instrument_universe_member_position CHECK (position >= 1),
    UNIQUE (universe_id, symbol)
);
COMMENT ON TABLE instrument_universe_member IS
    'Members of a universe (SigmaQLab view: group_members).';
COMMENT ON COLUMN instrument_universe_member.position IS
    'Rank order from the screener, 1 = first; unique among live members of a universe.';
CREATE INDEX ix_instrument_universe_member_symbol ON instrument_universe_member (symbol);
CREATE UNIQUE INDEX ux_instrument_universe_member_position
    ON instrument_universe_member (universe_id, position)
    WHERE is_deleted IS NOT TRUE AND position IS NOT NULL;

CREATE TABLE strategy_universe (
    id          BIGSERIAL PRIMARY KEY,
    strategy_id VARCHAR(100) NOT NULL UNIQUE,
    universe_id INT REFERENCES instrument_universe (id),
    created_at  TIMESTAMPTZ DEFAULT NOW(),
    updated_at  TIMESTAMPTZ
);
COMMENT ON TABLE strategy_universe IS 'The universe each strategy trades.';

CREATE TABLE trading_universe (
    id                BIGSERIAL PRIMARY KEY,
    as_of_date        DATE NOT NULL,
    symbol            VARCHAR(20) NOT NULL
                      REFERENCES instrument_info (symbol) ON UPDATE CASCADE,
    rank              INTEGER NOT NULL,
    avg_dollar_volume NUMERIC(20, 2),
    source            VARCHAR(50) NOT NULL,
    lookback_days     INTEGER,
    created_at        TIMESTAMPTZ DEFAULT NOW(),
    updated_at        TIMESTAMPTZ,
    UNIQUE (as_of_date, symbol, source)
);
COMMENT ON TABLE trading_universe IS
    'Legacy daily snapshot of the dynamic universe (top N by dollar volume), kept for history.';
CREATE INDEX ix_trading_universe_symbol ON trading_universe (symbol);

-- 2.4 Market intelligence
CREATE TABLE market_sentiment (
    id                  BIGSERIAL PRIMARY KEY,
    symbol              VARCHAR(20),
    date                DATE NOT NULL,
    source              VARCHAR(50) NOT NULL,
    sentiment_score     NUMERIC(5, 4) NOT NULL
                        CONSTRAINT ck_market_sentiment_score_range
                        CHECK (sentiment_score BETWEEN -1 AND 1),
    sentiment_magnitude NUMERIC(10, 4),
    article_count       INTEGER,
    UNIQUE NULLS NOT DISTINCT (symbol, date, source)
);
COMMENT ON TABLE market_sentiment IS
    'Aggregated news/social sentiment; symbol NULL means market-wide.';
-- symbol: served by the UNIQUE (symbol, date, source) index.
CREATE INDEX ix_market_sentiment_date ON market_sentiment (date);

CREATE TABLE market_breadth (
    id     BIGSERIAL PRIMARY KEY,
    date   DATE NOT NULL,
    metric VARCHAR(50) NOT NULL,
    scope  VARCHAR(50) DEFAULT 'US_ALL',
    value  NUMERIC(14, 4) NOT NULL,
    UNIQUE NULLS NOT DISTINCT (date, metric, scope)
);
COMMENT ON TABLE market_breadth IS 'Broad market health indicators per date, metric and scope.';
-- date: served by the UNIQUE (date, metric, scope) index.
"""

DOWNGRADE = """
DROP TABLE IF EXISTS market_breadth;
DROP TABLE IF EXISTS market_sentiment;
DROP TABLE IF EXISTS trading_universe;
DROP TABLE IF EXISTS strategy_universe;
DROP TABLE IF EXISTS instrument_universe_member;
DROP TABLE IF EXISTS instrument_universe;
DROP TABLE IF EXISTS instrument_metrics;
DROP TABLE IF EXISTS corporate_actions;
DROP TABLE IF EXISTS prices_intraday;
DROP TABLE IF EXISTS prices_daily;
DROP TABLE IF EXISTS instrument_info;
"""


def upgrade() -> None:
    op.execute(UPGRADE)


def downgrade() -> None:
    op.execute(DOWNGRADE)
