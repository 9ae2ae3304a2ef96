"""Order events of kind ADJUSTED: an open order carried across a split before it executes.

A broker adjusts its open orders when a split goes ex (quantity × ratio, whole shares toward
zero). The paper broker stage does the same from the stored corporate actions and records it as
an `order_events` row of status ADJUSTED, its detail the ratio, the quantity before and after
and the remainder (docs/ledger.md, "Open orders across a split"). The order row keeps the
quantity the order manager decided.

Downgrade keeps the history: an ADJUSTED event becomes a PENDING one whose detail says
`"event": "ADJUSTED"`, and upgrading turns it back.

Revision ID: 0011_order_adjustments
Revises: 0009_compact_holdings
Create Date: 2026-11-28
"""

from alembic import op

revision = "0011_order_adjustments"
down_revision = "0009_compact_holdings"
branch_labels = None
depends_on = None

OLD_EVENT_STATUSES = (
    "'PENDING', 'SHIPPED', 'PARTIALLY_FILLED', 'FILLED', 'CANCELED', 'REJECTED', "
    "'ACCEPTED', 'EXPIRED'"
)
NEW_EVENT_STATUSES = OLD_EVENT_STATUSES + ", 'ADJUSTED'"


def upgrade() -> None:
    op.execute(
        f"""
ALTER TABLE order_events DROP CONSTRAINT ck_order_events_status;
ALTER TABLE order_events ADD CONSTRAINT ck_order_events_status
    CHECK (status IN ({NEW_EVENT_STATUSES}));
UPDATE order_events SET status = 'ADJUSTED', detail = detail - 'event'
    WHERE status = 'PENDING' AND detail ->> 'event' = 'ADJUSTED';
"""
    )


def downgrade() -> None:
    op.execute(
        f"""
UPDATE order_events
    SET status = 'PENDING', detail = COALESCE(detail, '{{}}'::jsonb) || '{{"event": "ADJUSTED"}}'
    WHERE status = 'ADJUSTED';
ALTER TABLE order_events DROP CONSTRAINT ck_order_events_status;
ALTER TABLE order_events ADD CONSTRAINT ck_order_events_status
    CHECK (status IN ({OLD_EVENT_STATUSES}));
"""
    )
