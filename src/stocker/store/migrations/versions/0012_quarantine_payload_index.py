"""An index on the payload a quarantined row came from, for the re-run check of every ingest.

Re-running a file keeps its refused rows once: before storing a chunk's rejects, the ingest
looks for each one among the rows already kept from the same payload (target table, source,
source hash, row number; `stocker.store.quarantine._kept_before`). Without this index that
check read every quarantined row of the table per chunk (about 100 ms per chunk at 185,000
quarantined rows); with it, a chunk with nothing kept in its line range costs one index probe
and each reject of a re-run one index lookup. `raw_row` is not indexed: it is compared only on
the few rows a lookup finds, and a large row would not fit a btree entry.

Downgrade drops the index; nothing else changes.

Revision ID: 0012_quarantine_payload_index
Revises: 0011_order_adjustments
Create Date: 2026-11-28
"""

from alembic import op

revision = "0012_quarantine_payload_index"
down_revision = "0011_order_adjustments"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(
        "CREATE INDEX IF NOT EXISTS ix_ingest_quarantine_payload "
        "ON ingest_quarantine (target_table, source, source_hash, row_number)"
    )


def downgrade() -> None:
    op.execute("DROP INDEX IF EXISTS ix_ingest_quarantine_payload")
