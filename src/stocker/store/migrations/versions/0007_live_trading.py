"""Live trading: broker order events, reconciliation breaks, halts and daemon sessions.

Revision ID: 0007_live_trading
Revises: 0006_api_keys
Create Date: 2026-11-28
"""

from alembic import op

revision = "0007_live_trading"
down_revision = "0006_api_keys"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("SELECT 1")


def downgrade() -> None:
    op.execute("SELECT 1")
