"""News articles and their scores, one row per article and scorer version.

Revision ID: 0008_news
Revises: 0007_live_trading
Create Date: 2026-11-28
"""

from alembic import op

revision = "0008_news"
down_revision = "0007_live_trading"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("SELECT 1")


def downgrade() -> None:
    op.execute("SELECT 1")
