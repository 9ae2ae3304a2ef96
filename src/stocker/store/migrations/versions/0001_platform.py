"""Platform tables the specs do not name: outbox and inbox for the bus, ingest batches and
quarantine, API keys.

Revision ID: 0001_platform
Revises:
Create Date: 2026-11-21
"""

from alembic import op

revision = "0001_platform"
down_revision = None
branch_labels = None
depends_on = None

UPGRADE = """
CREATE TABLE outbox (
    id                BIGSERIAL PRIMARY KEY,
    event_id          UUID NOT NULL UNIQUE DEFAULT gen_random_uuid(),
    stream            VARCHAR(100) NOT NULL,
    payload           JSON NOT NULL,
    created_at        TIMESTAMPTZ NOT NULL DEFAULT NOW(),
    published_at      TIMESTAMPTZ,
    stream_message_id VARCHAR(40),
    publish_attempts  INTEGER NOT NULL DEFAULT 0 CHECK (publish_attempts >= 0)
);
COMMENT ON TABLE outbox IS
    'Events written in the same transaction as the state change; '
    'the relay publishes them to Redis.';
COMMENT ON COLUMN outbox.payload IS 'The message JSON exactly as published (JSON keeps key order).';
CREATE INDEX ix_outbox_unpublished ON outbox (id) WHERE published_at IS NULL;
CREATE INDEX ix_outbox_stream_id ON outbox (stream, id);

CREATE TABLE bus_consumer_groups (
    stream         VARCHAR(100) NOT NULL,
    consumer_group VARCHAR(100) NOT NULL,
    created_at     TIMESTAMPTZ NOT NULL DEFAULT NOW(),
    PRIMARY KEY (stream, consumer_group)
);
COMMENT ON TABLE bus_consumer_groups IS
    'Every consumer group that ever subscribed, so the relay knows who has not processed an event.';

CREATE TABLE bus_inbox (
    consumer_group    VARCHAR(100) NOT NULL,
    event_id          UUID NOT NULL,
    stream            VARCHAR(100) NOT NULL,
    stream_message_id VARCHAR(40),
    processed_at      TIMESTAMPTZ NOT NULL DEFAULT NOW(),
    PRIMARY KEY (consumer_group, event_id)
);
COMMENT ON TABLE bus_inbox IS
    'Events a consumer group has processed, written in the consumer''s own transaction '
    '(exactly-once effects over an at-least-once bus).';
CREATE INDEX ix_bus_inbox_stream ON bus_inbox (stream, event_id);

CREATE TABLE ingest_batches (
    id           BIGSERIAL PRIMARY KEY,
    batch_id     UUID NOT NULL UNIQUE DEFAULT gen_random_uuid(),
    source       VARCHAR(50) NOT NULL,
    target_table VARCHAR(63) NOT NULL,
    source_hash  VARCHAR(64),
    description  TEXT,
    received     INTEGER NOT NULL DEFAULT 0 CHECK (received >= 0),
    inserted     INTEGER NOT NULL DEFAULT 0 CHECK (inserted >= 0),
    updated      INTEGER NOT NULL DEFAULT 0 CHECK (updated >= 0),
    unchanged    INTEGER NOT NULL DEFAULT 0 CHECK (unchanged >= 0),
    quarantined  INTEGER NOT NULL DEFAULT 0 CHECK (quarantined >= 0),
    created_at   TIMESTAMPTZ NOT NULL DEFAULT NOW()
);
COMMENT ON TABLE ingest_batches IS
    'One row per ingested batch: what arrived and what became of it.';

CREATE TABLE ingest_quarantine (
    id              BIGSERIAL PRIMARY KEY,
    batch_id        UUID NOT NULL,
    target_table    VARCHAR(63) NOT NULL,
    source          VARCHAR(50) NOT NULL,
    source_hash     VARCHAR(64),
    row_number      INTEGER,
    symbol          VARCHAR(100),
    row_key         TEXT,
    raw_row         JSONB NOT NULL,
    reasons         TEXT[] NOT NULL CHECK (cardinality(reasons) > 0),
    status          VARCHAR(20) NOT NULL DEFAULT 'QUARANTINED'
                    CHECK (status IN ('QUARANTINED', 'RELEASED', 'DISCARDED')),
    created_at      TIMESTAMPTZ NOT NULL DEFAULT NOW(),
    resolved_at     TIMESTAMPTZ,
    resolution_note TEXT
);
COMMENT ON TABLE ingest_quarantine IS
    'Rejected input rows, kept verbatim with every reason, until released or discarded.';
CREATE INDEX ix_ingest_quarantine_status ON ingest_quarantine (status, target_table);
CREATE INDEX ix_ingest_quarantine_batch ON ingest_quarantine (batch_id);
CREATE INDEX ix_ingest_quarantine_symbol ON ingest_quarantine (symbol);

CREATE TABLE api_keys (
    id           BIGSERIAL PRIMARY KEY,
    key_id       VARCHAR(32) NOT NULL UNIQUE,
    name         VARCHAR(100) NOT NULL,
    key_hash     VARCHAR(128) NOT NULL,
    scopes       TEXT[] NOT NULL DEFAULT '{}',
    created_at   TIMESTAMPTZ NOT NULL DEFAULT NOW(),
    last_used_at TIMESTAMPTZ,
    expires_at   TIMESTAMPTZ,
    revoked_at   TIMESTAMPTZ
);
COMMENT ON TABLE api_keys IS
    'API keys: only a hash of the secret is stored; key_id is the public prefix shown to users.';
"""

DOWNGRADE = """
DROP TABLE IF EXISTS api_keys;
DROP TABLE IF EXISTS ingest_quarantine;
DROP TABLE IF EXISTS ingest_batches;
DROP TABLE IF EXISTS bus_inbox;
DROP TABLE IF EXISTS bus_consumer_groups;
DROP TABLE IF EXISTS outbox;
"""


def upgrade() -> None:
    op.execute(UPGRADE)


def downgrade() -> None:
    op.execute(DOWNGRADE)
