"""Research schema of SigmaQLab (sections 11.3-11.8) on top of the Stocker tables.

Facts both specs name are stored once: `market_data_ohlcv`, `symbols`, `fundamentals_snapshot`,
`groups` and `group_members` are views over the Stocker tables, so SigmaQLab's query patterns run
unchanged. Everything only SigmaQLab has is a table here: returns, factors, risk model, covariance
and HRP snapshots, portfolios with constraints and weights, and backtest outputs.

Revision ID: 0004_research
Revises: 0003_trading
Create Date: 2026-11-21
"""

from alembic import op

revision = "0004_research"
down_revision = "0003_trading"
branch_labels = None
depends_on = None

UPGRADE = """
-- Views over the Stocker tables (11.3.1, 11.3.2, 11.5, 11.8.1).
CREATE VIEW symbols AS
    SELECT symbol, name, sector, industry, exchange FROM instrument_info;
COMMENT ON VIEW symbols IS 'SigmaQLab name of instrument_info (updatable).';

CREATE VIEW market_data_ohlcv AS
    SELECT id, symbol, date, open, high, low, close, volume, adj_close FROM prices_daily;
COMMENT ON VIEW market_data_ohlcv IS 'SigmaQLab name of prices_daily.';

-- One row per (symbol, as_of_date): TTM first, then DAILY, FQ, FY, then the most recently written.
CREATE VIEW fundamentals_snapshot AS
    SELECT DISTINCT ON (m.symbol, m.as_of_date)
        m.id,
        m.symbol,
        m.as_of_date,
        m.market_cap,
        m.pe_ttm AS pe,
        m.price_to_book AS pb,
        m.price_to_sales AS ps,
        m.roe,
        m.roce,
        m.debt_to_equity,
        m.revenue_growth_yoy AS sales_growth_yoy,
        m.earnings_growth_yoy AS profit_growth_yoy,
        m.eps_growth_3y,
        m.operating_margin,
        m.net_margin,
        m.interest_coverage,
        m.promoter_holding,
        m.fii_holding,
        m.dii_holding,
        COALESCE(m.sector, i.sector) AS sector,
        COALESCE(m.industry, i.industry) AS industry,
        m.created_at,
        m.period_type,
        m.source
    FROM instrument_metrics AS m
    JOIN instrument_info AS i ON i.symbol = m.symbol
    ORDER BY
        m.symbol,
        m.as_of_date,
        CASE m.period_type WHEN 'TTM' THEN 0 WHEN 'DAILY' THEN 1 WHEN 'FQ' THEN 2 ELSE 3 END,
        COALESCE(m.updated_at, m.created_at) DESC NULLS LAST,
        m.id DESC;
COMMENT ON VIEW fundamentals_snapshot IS
    'SigmaQLab name of instrument_metrics: one row per symbol and as-of date, preferring TTM, then '
    'DAILY, FQ, FY, then the most recently written row.';

CREATE VIEW groups AS
    SELECT id, name, description, created_at, updated_at
    FROM instrument_universe
    WHERE is_deleted IS NOT TRUE;
COMMENT ON VIEW groups IS 'SigmaQLab name of instrument_universe, live rows only (updatable).';

CREATE VIEW group_members AS
    SELECT id, universe_id AS group_id, symbol, position
    FROM instrument_universe_member
    WHERE is_deleted IS NOT TRUE
      AND universe_id IN (SELECT id FROM instrument_universe WHERE is_deleted IS NOT TRUE);
COMMENT ON VIEW group_members IS
    'SigmaQLab name of instrument_universe_member, live rows of live universes (updatable).';

-- 11.3.3
CREATE TABLE price_returns (
    id         BIGSERIAL PRIMARY KEY,
    symbol     VARCHAR(20) NOT NULL REFERENCES instrument_info (symbol) ON UPDATE CASCADE,
    date       DATE NOT NULL,
    "return"   DOUBLE PRECISION NOT NULL,
    created_at TIMESTAMPTZ NOT NULL DEFAULT NOW(),
    UNIQUE (symbol, date)
);
COMMENT ON TABLE price_returns IS
    'Daily simple returns from adjusted closes, precomputed for speed.';
CREATE INDEX ix_price_returns_date ON price_returns (date);

-- 11.4 Factors and risk
CREATE TABLE factor_exposures (
    id              BIGSERIAL PRIMARY KEY,
    symbol          VARCHAR(20) NOT NULL REFERENCES instrument_info (symbol) ON UPDATE CASCADE,
    as_of_date      DATE NOT NULL,
    value           DOUBLE PRECISION,
    quality         DOUBLE PRECISION,
    momentum        DOUBLE PRECISION,
    low_vol         DOUBLE PRECISION,
    size            DOUBLE PRECISION,
    composite_score DOUBLE PRECISION,
    created_at      TIMESTAMPTZ NOT NULL DEFAULT NOW(),
    UNIQUE (symbol, as_of_date)
);
COMMENT ON TABLE factor_exposures IS
    'Normalized factor exposures per symbol and as-of date '
    '(NULL only where fundamentals are missing).';
CREATE INDEX ix_factor_exposures_as_of_date ON factor_exposures (as_of_date);

CREATE TABLE risk_model (
    id         BIGSERIAL PRIMARY KEY,
    symbol     VARCHAR(20) NOT NULL REFERENCES instrument_info (symbol) ON UPDATE CASCADE,
    as_of_date DATE NOT NULL,
    volatility DOUBLE PRECISION CONSTRAINT ck_risk_model_volatility CHECK (volatility >= 0),
    beta       DOUBLE PRECISION,
    tail_beta  DOUBLE PRECISION,
    skew       DOUBLE PRECISION,
    kurtosis   DOUBLE PRECISION,
    created_at TIMESTAMPTZ NOT NULL DEFAULT NOW(),
    UNIQUE (symbol, as_of_date)
);
COMMENT ON TABLE risk_model IS 'Single-asset risk quantities per symbol and as-of date.';
CREATE INDEX ix_risk_model_as_of_date ON risk_model (as_of_date);

-- Rule 11.10.3: a matrix belongs to exactly the universe it was computed on.
CREATE TABLE covariance_matrices (
    id            BIGSERIAL PRIMARY KEY,
    as_of_date    DATE NOT NULL,
    universe_hash VARCHAR(64) NOT NULL,
    symbols       TEXT[] NOT NULL
                  CONSTRAINT ck_covariance_matrices_symbols_not_empty
                  CHECK (cardinality(symbols) > 0),
    method        VARCHAR(50) NOT NULL DEFAULT 'ledoit_wolf',
    matrix_blob   BYTEA NOT NULL,
    created_at    TIMESTAMPTZ NOT NULL DEFAULT NOW(),
    CONSTRAINT ck_covariance_matrices_universe_hash CHECK (
        universe_hash = encode(sha256(convert_to(array_to_string(symbols, ','), 'UTF8')), 'hex')
    ),
    UNIQUE (as_of_date, universe_hash, method)
);
COMMENT ON TABLE covariance_matrices IS
    'Covariance snapshots; rows and columns follow symbols, and universe_hash = sha256 hex of the '
    'comma-joined symbols.';
COMMENT ON COLUMN covariance_matrices.matrix_blob IS 'Compressed matrix (len(symbols) squared).';

CREATE TABLE hrp_trees (
    id            BIGSERIAL PRIMARY KEY,
    as_of_date    DATE NOT NULL,
    universe_hash VARCHAR(64) NOT NULL,
    symbols       TEXT[] NOT NULL
                  CONSTRAINT ck_hrp_trees_symbols_not_empty CHECK (cardinality(symbols) > 0),
    linkage       VARCHAR(20) NOT NULL DEFAULT 'single',
    tree_json     JSONB NOT NULL,
    created_at    TIMESTAMPTZ NOT NULL DEFAULT NOW(),
    CONSTRAINT ck_hrp_trees_universe_hash CHECK (
        universe_hash = encode(sha256(convert_to(array_to_string(symbols, ','), 'UTF8')), 'hex')
    ),
    UNIQUE (as_of_date, universe_hash, linkage)
);
COMMENT ON TABLE hrp_trees IS 'Hierarchical clustering used by HRP, per universe and linkage.';

-- 11.6 Portfolios
CREATE TABLE portfolios (
    id                   BIGSERIAL PRIMARY KEY,
    code                 VARCHAR(50) NOT NULL UNIQUE,
    name                 VARCHAR(255) NOT NULL,
    description          TEXT,
    group_id             BIGINT REFERENCES instrument_universe (id) ON DELETE RESTRICT,
    optimizer_type       VARCHAR(50),
    expected_return_mode VARCHAR(50),
    initial_capital      NUMERIC(18, 4)
                         CONSTRAINT ck_portfolios_initial_capital_positive
                         CHECK (initial_capital > 0),
    created_at           TIMESTAMPTZ NOT NULL DEFAULT NOW(),
    updated_at           TIMESTAMPTZ
);
COMMENT ON TABLE portfolios IS 'Research portfolios built from a group with an optimizer.';
CREATE INDEX ix_portfolios_group_id ON portfolios (group_id);

CREATE TABLE portfolio_constraints (
    id                      BIGSERIAL PRIMARY KEY,
    portfolio_id            BIGINT NOT NULL UNIQUE REFERENCES portfolios (id) ON DELETE CASCADE,
    min_weight              DOUBLE PRECISION NOT NULL DEFAULT 0,
    max_weight              DOUBLE PRECISION NOT NULL DEFAULT 1,
    turnover_limit          DOUBLE PRECISION
                            CONSTRAINT ck_portfolio_constraints_turnover_limit
                            CHECK (turnover_limit >= 0),
    target_volatility       DOUBLE PRECISION
                            CONSTRAINT ck_portfolio_constraints_target_volatility
                            CHECK (target_volatility > 0),
    max_beta                DOUBLE PRECISION,
    sector_caps_json        JSONB NOT NULL DEFAULT '{}'
                            CONSTRAINT ck_portfolio_constraints_sector_caps_object
                            CHECK (jsonb_typeof(sector_caps_json) = 'object'),
    factor_constraints_json JSONB NOT NULL DEFAULT '{}'
                            CONSTRAINT ck_portfolio_constraints_factor_constraints_object
                            CHECK (jsonb_typeof(factor_constraints_json) = 'object'),
    created_at              TIMESTAMPTZ NOT NULL DEFAULT NOW(),
    updated_at              TIMESTAMPTZ,
    CONSTRAINT ck_portfolio_constraints_weight_bounds
        CHECK (0 <= min_weight AND min_weight <= max_weight AND max_weight <= 1)
);
COMMENT ON TABLE portfolio_constraints IS 'Constraint settings of a portfolio (one row each).';

CREATE TABLE portfolio_weights (
    id           BIGSERIAL PRIMARY KEY,
    portfolio_id BIGINT NOT NULL REFERENCES portfolios (id) ON DELETE CASCADE,
    date         DATE NOT NULL,
    symbol       VARCHAR(20) NOT NULL REFERENCES instrument_info (symbol) ON UPDATE CASCADE,
    weight       DOUBLE PRECISION NOT NULL,
    created_at   TIMESTAMPTZ NOT NULL DEFAULT NOW(),
    UNIQUE (portfolio_id, date, symbol)
);
COMMENT ON TABLE portfolio_weights IS
    'Optimized weights per rebalance date; each (portfolio, date) sums to 1 within 1e-6 at commit.';
-- (portfolio_id, date) of 11.9: served by the UNIQUE (portfolio_id, date, symbol) index.

-- Rule 11.10.6, checked at commit so a rebalance can be written row by row. Deferred row events
-- fire after every statement of the transaction has run, so a (portfolio, date) needs checking only
-- once per firing: the check remembers the last key it passed (transaction-local), and every
-- statement that writes weights forgets it before it starts, so rows changed after an early
-- `SET CONSTRAINTS ... IMMEDIATE` are checked again. A bulk insert of a rebalance costs one check.
CREATE FUNCTION portfolio_weights_check_date(checked_portfolio BIGINT, checked_date DATE)
RETURNS void LANGUAGE plpgsql AS $$
DECLARE
    checked_key  TEXT := checked_portfolio || '/' || checked_date;
    weight_count INTEGER;
    weight_sum   DOUBLE PRECISION;
BEGIN
    IF current_setting('stocker.portfolio_weights_checked', true) = checked_key THEN
        RETURN;
    END IF;
    SELECT count(*), sum(weight) INTO weight_count, weight_sum
        FROM portfolio_weights
        WHERE portfolio_id = checked_portfolio AND date = checked_date;
    IF weight_count > 0 AND abs(weight_sum - 1) > 1e-6 THEN
        RAISE EXCEPTION 'portfolio_weights of portfolio % on % sum to %, expected 1 within 1e-6',
            checked_portfolio, checked_date, weight_sum
            USING ERRCODE = 'check_violation';
    END IF;
    PERFORM set_config('stocker.portfolio_weights_checked', checked_key, true);
END;
$$;

CREATE FUNCTION portfolio_weights_check_sum() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP <> 'DELETE' THEN
        PERFORM portfolio_weights_check_date(NEW.portfolio_id, NEW.date);
    END IF;
    IF TG_OP = 'DELETE' OR (
        TG_OP = 'UPDATE'
        AND (OLD.portfolio_id, OLD.date) IS DISTINCT FROM (NEW.portfolio_id, NEW.date)
    ) THEN
        PERFORM portfolio_weights_check_date(OLD.portfolio_id, OLD.date);
    END IF;
    RETURN NULL;
END;
$$;

CREATE FUNCTION portfolio_weights_forget_checks() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM set_config('stocker.portfolio_weights_checked', '', true);
    RETURN NULL;
END;
$$;

CREATE CONSTRAINT TRIGGER portfolio_weights_sum_to_one
    AFTER INSERT OR UPDATE OR DELETE ON portfolio_weights
    DEFERRABLE INITIALLY DEFERRED
    FOR EACH ROW EXECUTE FUNCTION portfolio_weights_check_sum();
CREATE TRIGGER portfolio_weights_forget_checks
    BEFORE INSERT OR UPDATE OR DELETE OR TRUNCATE ON portfolio_weights
    FOR EACH STATEMENT EXECUTE FUNCTION portfolio_weights_forget_checks();

-- 11.7 Backtests
CREATE TABLE backtest_runs (
    id                  BIGSERIAL PRIMARY KEY,
    portfolio_id        BIGINT NOT NULL REFERENCES portfolios (id) ON DELETE CASCADE,
    start_date          DATE NOT NULL,
    end_date            DATE NOT NULL,
    rebalance_frequency VARCHAR(20) NOT NULL
                        CONSTRAINT ck_backtest_runs_rebalance_frequency
                        CHECK (rebalance_frequency IN ('DAILY', 'WEEKLY', 'MONTHLY', 'QUARTERLY',
                                                       'ANNUALLY')),
    transaction_cost    DOUBLE PRECISION NOT NULL DEFAULT 0
                        CONSTRAINT ck_backtest_runs_transaction_cost CHECK (transaction_cost >= 0),
    initial_capital     NUMERIC(18, 4) NOT NULL
                        CONSTRAINT ck_backtest_runs_initial_capital_positive
                        CHECK (initial_capital > 0),
    status              VARCHAR(20) NOT NULL DEFAULT 'PENDING'
                        CONSTRAINT ck_backtest_runs_status
                        CHECK (status IN ('PENDING', 'RUNNING', 'COMPLETED', 'FAILED')),
    created_at          TIMESTAMPTZ NOT NULL DEFAULT NOW(),
    config              JSONB NOT NULL DEFAULT '{}',
    error               TEXT,
    finished_at         TIMESTAMPTZ,
    CONSTRAINT ck_backtest_runs_dates CHECK (end_date >= start_date)
);
COMMENT ON TABLE backtest_runs IS 'Configuration and status of one backtest.';
COMMENT ON COLUMN backtest_runs.transaction_cost IS
    'Cost as a fraction of traded value (0.001 = 10 bps).';
COMMENT ON COLUMN backtest_runs.config IS 'Every other setting the run used, for reproducibility.';
CREATE INDEX ix_backtest_runs_portfolio_id ON backtest_runs (portfolio_id);

CREATE TABLE backtest_holdings (
    id          BIGSERIAL PRIMARY KEY,
    backtest_id BIGINT NOT NULL REFERENCES backtest_runs (id) ON DELETE CASCADE,
    date        DATE NOT NULL,
    symbol      VARCHAR(20) NOT NULL REFERENCES instrument_info (symbol) ON UPDATE CASCADE,
    shares      DOUBLE PRECISION NOT NULL,
    weight      DOUBLE PRECISION NOT NULL,
    sector      VARCHAR(100),
    UNIQUE (backtest_id, date, symbol)
);
COMMENT ON TABLE backtest_holdings IS 'Shares and weight per backtest day and symbol.';
COMMENT ON COLUMN backtest_holdings.sector IS
    'Sector of the symbol on that date, so sector sums need no join (11.11 analytics query).';

CREATE TABLE backtest_timeseries (
    id                 BIGSERIAL PRIMARY KEY,
    backtest_id        BIGINT NOT NULL REFERENCES backtest_runs (id) ON DELETE CASCADE,
    date               DATE NOT NULL,
    nav                NUMERIC(18, 4) NOT NULL,
    "return"           DOUBLE PRECISION,
    cumulative_return  DOUBLE PRECISION,
    drawdown           DOUBLE PRECISION,
    volatility_rolling DOUBLE PRECISION,
    UNIQUE (backtest_id, date)
);
COMMENT ON TABLE backtest_timeseries IS 'Daily NAV and performance of a backtest.';

CREATE TABLE backtest_factor_exposures (
    id          BIGSERIAL PRIMARY KEY,
    backtest_id BIGINT NOT NULL REFERENCES backtest_runs (id) ON DELETE CASCADE,
    date        DATE NOT NULL,
    value       DOUBLE PRECISION,
    quality     DOUBLE PRECISION,
    momentum    DOUBLE PRECISION,
    low_vol     DOUBLE PRECISION,
    size        DOUBLE PRECISION,
    UNIQUE (backtest_id, date)
);
COMMENT ON TABLE backtest_factor_exposures IS 'Portfolio factor exposures per backtest day.';

CREATE TABLE backtest_sector_exposures (
    id          BIGSERIAL PRIMARY KEY,
    backtest_id BIGINT NOT NULL REFERENCES backtest_runs (id) ON DELETE CASCADE,
    date        DATE NOT NULL,
    sector      VARCHAR(100) NOT NULL,
    weight      DOUBLE PRECISION NOT NULL,
    UNIQUE (backtest_id, date, sector)
);
COMMENT ON TABLE backtest_sector_exposures IS 'Sector weights per backtest day.';

CREATE TABLE backtest_trades (
    id               BIGSERIAL PRIMARY KEY,
    backtest_id      BIGINT NOT NULL REFERENCES backtest_runs (id) ON DELETE CASCADE,
    rebalance_date   DATE NOT NULL,
    symbol           VARCHAR(20) NOT NULL REFERENCES instrument_info (symbol) ON UPDATE CASCADE,
    shares_delta     DOUBLE PRECISION NOT NULL,
    trade_value      NUMERIC(18, 4) NOT NULL,
    transaction_cost NUMERIC(18, 4) NOT NULL DEFAULT 0
                     CONSTRAINT ck_backtest_trades_transaction_cost CHECK (transaction_cost >= 0),
    UNIQUE (backtest_id, rebalance_date, symbol)
);
COMMENT ON TABLE backtest_trades IS 'Trades executed at each rebalance of a backtest.';
COMMENT ON COLUMN backtest_trades.trade_value IS 'Signed value traded (positive = bought).';
-- (backtest_id, rebalance_date): served by the UNIQUE (backtest_id, rebalance_date, symbol) index.
"""

DOWNGRADE = """
DROP TABLE IF EXISTS backtest_trades;
DROP TABLE IF EXISTS backtest_sector_exposures;
DROP TABLE IF EXISTS backtest_factor_exposures;
DROP TABLE IF EXISTS backtest_timeseries;
DROP TABLE IF EXISTS backtest_holdings;
DROP TABLE IF EXISTS backtest_runs;
DROP TABLE IF EXISTS portfolio_weights;
DROP FUNCTION IF EXISTS portfolio_weights_forget_checks();
DROP FUNCTION IF EXISTS portfolio_weights_check_sum();
DROP FUNCTION IF EXISTS portfolio_weights_check_date(BIGINT, DATE);
DROP TABLE IF EXISTS portfolio_constraints;
DROP TABLE IF EXISTS portfolios;
DROP TABLE IF EXISTS hrp_trees;
DROP TABLE IF EXISTS covariance_matrices;
DROP TABLE IF EXISTS risk_model;
DROP TABLE IF EXISTS factor_exposures;
DROP TABLE IF EXISTS price_returns;
DROP VIEW IF EXISTS group_members;
DROP VIEW IF EXISTS groups;
DROP VIEW IF EXISTS fundamentals_snapshot;
DROP VIEW IF EXISTS market_data_ohlcv;
DROP VIEW IF EXISTS symbols;
"""


def upgrade() -> None:
    op.execute(UPGRADE)


def downgrade() -> None:
    op.execute(DOWNGRADE)
