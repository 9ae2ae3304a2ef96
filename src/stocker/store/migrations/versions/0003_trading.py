"""Strategy, execution and accounting: signals, targets, orders, fills, ledger, state, holdings.

Sections 2.5-2.7 of the Stocker data model, plus the audit links (signal -> target -> order), the
order event log, and a double-entry ledger the database itself keeps balanced and append-only.

Revision ID: 0003_trading
Revises: 0002_market_data
Create Date: 2026-11-21
"""

from alembic import op

revision = "0003_trading"
down_revision = "0002_market_data"
branch_labels = None
depends_on = None

UPGRADE = """
-- 2.5 Strategy & portfolio
CREATE TABLE signals (
    id               BIGSERIAL PRIMARY KEY,
    strategy_version VARCHAR(50) NOT NULL,
    symbol           VARCHAR(20) NOT NULL,
    date             DATE NOT NULL,
    lookback_return  NUMERIC(10, 6),
    ewma_vol         NUMERIC(10, 6),
    direction        SMALLINT CONSTRAINT ck_signals_direction CHECK (direction IN (-1, 0, 1)),
    target_weight    NUMERIC(10, 6),
    created_at       TIMESTAMPTZ DEFAULT NOW(),
    price_bar_id     BIGINT,
    UNIQUE (strategy_version, symbol, date)
);
COMMENT ON TABLE signals IS 'Signal engine output: one row per strategy version, symbol and day.';
COMMENT ON COLUMN signals.price_bar_id IS
    'prices_daily.id of the last bar the signal was computed through (no FK: prices may be '
    're-adjusted without touching history).';
CREATE INDEX ix_signals_symbol ON signals (symbol);
CREATE INDEX ix_signals_date ON signals (date);

CREATE TABLE target_exposures (
    id              BIGSERIAL PRIMARY KEY,
    portfolio_id    VARCHAR(50) NOT NULL,
    date            DATE NOT NULL,
    symbol          VARCHAR(20) NOT NULL,
    target_exposure NUMERIC(10, 6) NOT NULL,
    scaling_factor  NUMERIC(5, 4) DEFAULT 1.0,
    is_capped       BOOLEAN DEFAULT FALSE,
    reason          TEXT,
    created_at      TIMESTAMPTZ DEFAULT NOW(),
    signal_id       BIGINT REFERENCES signals (id),
    UNIQUE (portfolio_id, symbol, date)
);
COMMENT ON TABLE target_exposures IS 'Portfolio engine output: the exposure we want per symbol.';
COMMENT ON COLUMN target_exposures.signal_id IS 'The signal this target was computed from.';
CREATE INDEX ix_target_exposures_signal_id ON target_exposures (signal_id);

-- 2.6 Execution
CREATE TABLE orders (
    id                 BIGSERIAL PRIMARY KEY,
    order_id           UUID NOT NULL UNIQUE,
    portfolio_id       VARCHAR(50) NOT NULL,
    date               DATE NOT NULL,
    symbol             VARCHAR(20) NOT NULL,
    side               VARCHAR(10) CONSTRAINT ck_orders_side CHECK (side IN ('BUY', 'SELL')),
    qty                NUMERIC(12, 4) NOT NULL CONSTRAINT ck_orders_qty_positive CHECK (qty > 0),
    type               VARCHAR(20) DEFAULT 'MOO'
                       CONSTRAINT ck_orders_type CHECK (type IN ('MOO', 'MARKET', 'LIMIT')),
    status             VARCHAR(20)
                       CONSTRAINT ck_orders_status
                       CHECK (status IN ('PENDING', 'SHIPPED', 'FILLED', 'CANCELED')),
    broker_order_id    VARCHAR(100),
    created_at         TIMESTAMPTZ DEFAULT NOW(),
    updated_at         TIMESTAMPTZ,
    target_exposure_id BIGINT REFERENCES target_exposures (id)
);
COMMENT ON TABLE orders IS
    'Instructions sent to the broker; order_id is deterministic so a retried stage creates no '
    'second order. Status history lives in order_events.';
CREATE INDEX ix_orders_portfolio_date ON orders (portfolio_id, date);
CREATE INDEX ix_orders_target_exposure_id ON orders (target_exposure_id);

CREATE TABLE order_events (
    id              BIGSERIAL PRIMARY KEY,
    order_id        UUID NOT NULL REFERENCES orders (order_id),
    status          VARCHAR(20) NOT NULL
                    CONSTRAINT ck_order_events_status
                    CHECK (status IN ('PENDING', 'SHIPPED', 'PARTIALLY_FILLED', 'FILLED',
                                      'CANCELED', 'REJECTED')),
    broker_order_id VARCHAR(100),
    detail          JSONB,
    created_at      TIMESTAMPTZ NOT NULL DEFAULT NOW()
);
COMMENT ON TABLE order_events IS
    'Every status change of an order, appended (orders are facts; their history is events).';
CREATE INDEX ix_order_events_order_id ON order_events (order_id, id);

CREATE TABLE fills (
    id         BIGSERIAL PRIMARY KEY,
    fill_id    VARCHAR(100) NOT NULL UNIQUE,
    order_id   UUID REFERENCES orders (order_id),
    date       TIMESTAMPTZ NOT NULL,
    symbol     VARCHAR(20) NOT NULL,
    side       VARCHAR(10) NOT NULL CONSTRAINT ck_fills_side CHECK (side IN ('BUY', 'SELL')),
    qty        NUMERIC(12, 4) NOT NULL CONSTRAINT ck_fills_qty_positive CHECK (qty > 0),
    price      NUMERIC(14, 4) NOT NULL CONSTRAINT ck_fills_price_positive CHECK (price > 0),
    commission NUMERIC(10, 4) DEFAULT 0,
    exchange   VARCHAR(50)
);
COMMENT ON TABLE fills IS 'Executions confirmed by the broker; fill_id is the broker''s id.';
CREATE INDEX ix_fills_order_id ON fills (order_id);

-- 2.7 Accounting
CREATE TABLE portfolio_state (
    id              BIGSERIAL PRIMARY KEY,
    portfolio_id    VARCHAR(50) NOT NULL,
    date            DATE NOT NULL,
    nav             NUMERIC(18, 4) NOT NULL,
    cash            NUMERIC(18, 4) NOT NULL,
    gross_exposure  NUMERIC(10, 4) NOT NULL,
    net_exposure    NUMERIC(10, 4) NOT NULL,
    realized_pnl    NUMERIC(18, 4) NOT NULL,
    unrealized_pnl  NUMERIC(18, 4) NOT NULL,
    drawdown        NUMERIC(10, 4) NOT NULL,
    high_water_mark NUMERIC(18, 4) NOT NULL,
    UNIQUE (portfolio_id, date)
);
COMMENT ON TABLE portfolio_state IS 'Daily portfolio snapshot, derived from the ledger.';

CREATE TABLE holdings (
    id           BIGSERIAL PRIMARY KEY,
    portfolio_id VARCHAR(50) NOT NULL,
    date         DATE NOT NULL,
    symbol       VARCHAR(20) NOT NULL,
    qty          NUMERIC(12, 4) NOT NULL,
    cost_basis   NUMERIC(14, 4) NOT NULL,
    market_value NUMERIC(18, 4) NOT NULL,
    UNIQUE (portfolio_id, date, symbol)
);
COMMENT ON TABLE holdings IS 'Positions per portfolio and date, derived from the ledger.';

-- Double-entry ledger: the record the accounting tables are derived from.
CREATE TABLE ledger_entries (
    id                BIGSERIAL PRIMARY KEY,
    entry_id          UUID NOT NULL UNIQUE,
    portfolio_id      VARCHAR(50) NOT NULL,
    date              DATE NOT NULL,
    kind              VARCHAR(20) NOT NULL
                      CONSTRAINT ck_ledger_entries_kind
                      CHECK (kind IN ('FILL', 'DEPOSIT', 'WITHDRAWAL', 'DIVIDEND', 'FEE',
                                      'CORRECTION')),
    fill_id           VARCHAR(100) UNIQUE REFERENCES fills (fill_id),
    corrects_entry_id UUID REFERENCES ledger_entries (entry_id),
    description       TEXT,
    created_at        TIMESTAMPTZ DEFAULT NOW(),
    CONSTRAINT ck_ledger_entries_fill_iff_fill_kind CHECK ((kind = 'FILL') = (fill_id IS NOT NULL)),
    CONSTRAINT ck_ledger_entries_correction_iff_corrects
        CHECK ((kind = 'CORRECTION') = (corrects_entry_id IS NOT NULL))
);
COMMENT ON TABLE ledger_entries IS
    'Ledger transactions, append-only: a mistake is fixed by a CORRECTION entry, never an edit.';
CREATE INDEX ix_ledger_entries_portfolio_date ON ledger_entries (portfolio_id, date);

CREATE TABLE ledger_postings (
    id         BIGSERIAL PRIMARY KEY,
    entry_id   UUID NOT NULL REFERENCES ledger_entries (entry_id),
    account    VARCHAR(100) NOT NULL,
    symbol     VARCHAR(20),
    quantity   NUMERIC(18, 4),
    amount     NUMERIC(18, 4) NOT NULL,
    currency   VARCHAR(10) NOT NULL DEFAULT 'USD',
    created_at TIMESTAMPTZ DEFAULT NOW()
);
COMMENT ON TABLE ledger_postings IS
    'Legs of a ledger entry; each entry''s amounts sum to zero per currency (checked at commit).';
CREATE INDEX ix_ledger_postings_entry_id ON ledger_postings (entry_id);
CREATE INDEX ix_ledger_postings_account_symbol ON ledger_postings (account, symbol);

CREATE FUNCTION ledger_reject_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION '% is append-only: % is not allowed; record a CORRECTION entry instead',
        TG_TABLE_NAME, TG_OP
        USING ERRCODE = 'restrict_violation';
END;
$$;

CREATE TRIGGER ledger_entries_append_only
    BEFORE UPDATE OR DELETE ON ledger_entries
    FOR EACH ROW EXECUTE FUNCTION ledger_reject_change();
CREATE TRIGGER ledger_entries_no_truncate
    BEFORE TRUNCATE ON ledger_entries
    FOR EACH STATEMENT EXECUTE FUNCTION ledger_reject_change();
CREATE TRIGGER ledger_postings_append_only
    BEFORE UPDATE OR DELETE ON ledger_postings
    FOR EACH ROW EXECUTE FUNCTION ledger_reject_change();
CREATE TRIGGER ledger_postings_no_truncate
    BEFORE TRUNCATE ON ledger_postings
    FOR EACH STATEMENT EXECUTE FUNCTION ledger_reject_change();

-- Checked at commit, so an entry and its postings can be written in any order in one transaction.
CREATE FUNCTION ledger_check_entry_balanced() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    posting_count INTEGER;
    unbalanced    RECORD;
BEGIN
    SELECT count(*) INTO posting_count FROM ledger_postings WHERE entry_id = NEW.entry_id;
    IF posting_count < 2 THEN
        RAISE EXCEPTION 'ledger entry % has % posting(s); expected at least 2 that sum to zero',
            NEW.entry_id, posting_count
            USING ERRCODE = 'check_violation';
    END IF;
    SELECT currency, sum(amount) AS total INTO unbalanced
        FROM ledger_postings WHERE entry_id = NEW.entry_id
        GROUP BY currency HAVING sum(amount) <> 0
        ORDER BY currency LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION 'ledger entry % does not balance: % postings sum to %, expected 0',
            NEW.entry_id, unbalanced.currency, unbalanced.total
            USING ERRCODE = 'check_violation';
    END IF;
    RETURN NULL;
END;
$$;

CREATE CONSTRAINT TRIGGER ledger_entries_balanced
    AFTER INSERT ON ledger_entries
    DEFERRABLE INITIALLY DEFERRED
    FOR EACH ROW EXECUTE FUNCTION ledger_check_entry_balanced();
CREATE CONSTRAINT TRIGGER ledger_postings_balanced
    AFTER INSERT ON ledger_postings
    DEFERRABLE INITIALLY DEFERRED
    FOR EACH ROW EXECUTE FUNCTION ledger_check_entry_balanced();
"""

DOWNGRADE = """
DROP TABLE IF EXISTS ledger_postings;
DROP TABLE IF EXISTS ledger_entries;
DROP FUNCTION IF EXISTS ledger_check_entry_balanced();
DROP FUNCTION IF EXISTS ledger_reject_change();
DROP TABLE IF EXISTS holdings;
DROP TABLE IF EXISTS portfolio_state;
DROP TABLE IF EXISTS fills;
DROP TABLE IF EXISTS order_events;
DROP TABLE IF EXISTS orders;
DROP TABLE IF EXISTS target_exposures;
DROP TABLE IF EXISTS signals;
"""


def upgrade() -> None:
    op.execute(UPGRADE)


def downgrade() -> None:
    op.execute(DOWNGRADE)
