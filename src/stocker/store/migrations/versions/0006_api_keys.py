"""API keys, stored hashed, with their scopes.

The `api_keys` table itself came with the platform revision; this one makes its rules hold in
the database: scopes are a non-empty subset of read / research / trade / admin, a key's hash is
a sha256 hex digest and unique, and the key id has the form the API issues.

Revision ID: 0006_api_keys
Revises: 0005_reasons_and_splits
Create Date: 2026-11-28
"""

from alembic import op

revision = "0006_api_keys"
down_revision = "0005_reasons_and_splits"
branch_labels = None
depends_on = None

UPGRADE = """
ALTER TABLE api_keys
    ADD CONSTRAINT ck_api_keys_scopes
        CHECK (cardinality(scopes) > 0
               AND scopes <@ ARRAY['read', 'research', 'trade', 'admin']::TEXT[]),
    ADD CONSTRAINT ck_api_keys_key_hash CHECK (key_hash ~ '^[0-9a-f]{64}$'),
    ADD CONSTRAINT ck_api_keys_key_id CHECK (key_id ~ '^[0-9a-f]{12}$'),
    ADD CONSTRAINT uq_api_keys_key_hash UNIQUE (key_hash);
COMMENT ON COLUMN api_keys.scopes IS
    'read: every GET; research: screens, groups, portfolios, backtests, caches; '
    'trade: trading and quarantine; admin: everything.';
"""

DOWNGRADE = """
COMMENT ON COLUMN api_keys.scopes IS NULL;
ALTER TABLE api_keys
    DROP CONSTRAINT IF EXISTS uq_api_keys_key_hash,
    DROP CONSTRAINT IF EXISTS ck_api_keys_key_id,
    DROP CONSTRAINT IF EXISTS ck_api_keys_key_hash,
    DROP CONSTRAINT IF EXISTS ck_api_keys_scopes;
"""


def upgrade() -> None:
    op.execute(UPGRADE)


def downgrade() -> None:
    op.execute(DOWNGRADE)
