"""Live trading: broker order events, reconciliation breaks, halts and daemon sessions.

- `broker_events`: every trade update or lookup result seen from a live broker, once per
  (broker order, event, execution id) however often it is delivered.
- `reconciliation_breaks`: a disagreement with the broker, both sides and a reason; open until
  resolved (an open break halts its portfolio).
- `trading_halts`: the kill switch, one row per halted portfolio.
- `daemon_sessions`: each portfolio's daily cycle, one row per session, so a restarted daemon
  neither runs a day twice nor skips one.
- `order_events.status` also takes ACCEPTED and EXPIRED (a broker's own transitions).

Revision ID: 0007_live_trading
Revises: 0006_api_keys
Create Date: 2026-11-28
"""

from alembic import op

revision = "0007_live_trading"
down_revision = "0006_api_keys"
branch_labels = None
depends_on = None

OLD_EVENT_STATUSES = "'PENDING', 'SHIPPED', 'PARTIALLY_FILLED', 'FILLED', 'CANCELED', 'REJECTED'"
NEW_EVENT_STATUSES = OLD_EVENT_STATUSES + ", 'ACCEPTED', 'EXPIRED'"


def upgrade() -> None:
    op.execute(
        f"""
ALTER TABLE order_events DROP CONSTRAINT ck_order_events_status;
ALTER TABLE order_events ADD CONSTRAINT ck_order_events_status
    CHECK (status IN ({NEW_EVENT_STATUSES}));

CREATE INDEX ix_orders_broker_order_id ON orders (broker_order_id);

CREATE TABLE broker_events (
    id              BIGSERIAL PRIMARY KEY,
    broker          VARCHAR(30) NOT NULL,
    broker_order_id VARCHAR(100) NOT NULL,
    order_id        UUID REFERENCES orders (order_id),
    event           VARCHAR(30) NOT NULL,
    execution_id    VARCHAR(100) NOT NULL DEFAULT '',
    filled_qty      NUMERIC(12, 4),
    payload         JSONB,
    received_at     TIMESTAMPTZ NOT NULL DEFAULT NOW(),
    UNIQUE (broker, broker_order_id, event, execution_id)
);
COMMENT ON TABLE broker_events IS
    'What a live broker said about an order, once per (order, event, execution) however often '
    'it was delivered; order_id is null for an order placed outside Stocker.';
CREATE INDEX ix_broker_events_order_id ON broker_events (order_id);

CREATE TABLE reconciliation_breaks (
    id                  BIGSERIAL PRIMARY KEY,
    portfolio_id        VARCHAR(50) NOT NULL,
    kind                VARCHAR(40) NOT NULL,
    key                 VARCHAR(200) NOT NULL,
    symbol              VARCHAR(20),
    order_id            UUID,
    broker_order_id     VARCHAR(100),
    ours                JSONB NOT NULL,
    broker              JSONB NOT NULL,
    reason              TEXT NOT NULL,
    found_at            TIMESTAMPTZ NOT NULL DEFAULT NOW(),
    resolved_at         TIMESTAMPTZ,
    resolution          VARCHAR(10) CONSTRAINT ck_breaks_resolution
                        CHECK (resolution IN ('broker', 'ours')),
    note                TEXT,
    correcting_entry_id UUID
);
COMMENT ON TABLE reconciliation_breaks IS
    'A disagreement with the broker (both sides and why); an open break halts its portfolio.';
CREATE UNIQUE INDEX ux_breaks_open ON reconciliation_breaks (portfolio_id, key)
    WHERE resolved_at IS NULL;

CREATE TABLE trading_halts (
    portfolio_id VARCHAR(50) PRIMARY KEY,
    reason       TEXT NOT NULL,
    halted_at    TIMESTAMPTZ NOT NULL DEFAULT NOW()
);
COMMENT ON TABLE trading_halts IS 'The kill switch: no new orders for these portfolios.';

CREATE TABLE daemon_sessions (
    id           BIGSERIAL PRIMARY KEY,
    portfolio_id VARCHAR(50) NOT NULL,
    session_date DATE NOT NULL,
    status       VARCHAR(10) NOT NULL DEFAULT 'running'
                 CONSTRAINT ck_daemon_sessions_status CHECK (status IN ('running', 'done')),
    attempts     INTEGER NOT NULL DEFAULT 1,
    started_at   TIMESTAMPTZ NOT NULL DEFAULT NOW(),
    finished_at  TIMESTAMPTZ,
    detail       JSONB,
    UNIQUE (portfolio_id, session_date)
);
COMMENT ON TABLE daemon_sessions IS
    'One row per portfolio and session the daemon ran: a restart resumes, never repeats.';
"""
    )


def downgrade() -> None:
    op.execute(
        f"""
DROP TABLE IF EXISTS daemon_sessions;
DROP TABLE IF EXISTS trading_halts;
DROP TABLE IF EXISTS reconciliation_breaks;
DROP TABLE IF EXISTS broker_events;
DROP INDEX IF EXISTS ix_orders_broker_order_id;
DELETE FROM order_events WHERE status IN ('ACCEPTED', 'EXPIRED');
ALTER TABLE order_events DROP CONSTRAINT ck_order_events_status;
ALTER TABLE order_events ADD CONSTRAINT ck_order_events_status
    CHECK (status IN ({OLD_EVENT_STATUSES}));
"""
    )
