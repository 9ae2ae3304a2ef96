"""Why a factor or risk value is null, and splits as their own kind of ledger entry.

- `factor_exposures.null_reasons`, `risk_model.null_reasons` (JSONB, field → reason): SigmaQLab
  rule 11.10.2 allows NULL only where an input is missing; the reason is stored with the row so
  a reader sees why (`{"value": "no fundamentals as of 2022-12-28"}`), not only a report did.
- `ledger_entries.kind` admits `SPLIT`: a split changes quantity and cost basis without P&L and
  was booked under `DIVIDEND` for want of a kind of its own.

Revision ID: 0005_reasons_and_splits
Revises: 0004_research
Create Date: 2026-11-28
"""

from alembic import op

revision = "0005_reasons_and_splits"
down_revision = "0004_research"
branch_labels = None
depends_on = None

KINDS = "'FILL', 'DEPOSIT', 'WITHDRAWAL', 'DIVIDEND', 'FEE', 'CORRECTION'"

UPGRADE = f"""
ALTER TABLE factor_exposures ADD COLUMN null_reasons JSONB NOT NULL DEFAULT '{{}}'::jsonb;
COMMENT ON COLUMN factor_exposures.null_reasons IS
    'Why each NULL field is NULL (field -> reason); rule 11.10.2.';
ALTER TABLE risk_model ADD COLUMN null_reasons JSONB NOT NULL DEFAULT '{{}}'::jsonb;
COMMENT ON COLUMN risk_model.null_reasons IS
    'Why each NULL field is NULL (field -> reason); rule 11.10.2.';
ALTER TABLE ledger_entries DROP CONSTRAINT ck_ledger_entries_kind;
ALTER TABLE ledger_entries ADD CONSTRAINT ck_ledger_entries_kind
    CHECK (kind IN ({KINDS}, 'SPLIT'));
"""

DOWNGRADE = f"""
ALTER TABLE ledger_entries DROP CONSTRAINT ck_ledger_entries_kind;
ALTER TABLE ledger_entries ADD CONSTRAINT ck_ledger_entries_kind CHECK (kind IN ({KINDS}));
ALTER TABLE risk_model DROP COLUMN null_reasons;
ALTER TABLE factor_exposures DROP COLUMN null_reasons;
"""


def upgrade() -> None:
    op.execute(UPGRADE)


def downgrade() -> None:
    op.execute(DOWNGRADE)
