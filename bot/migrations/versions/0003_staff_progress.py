"""Per-staff progress dates derived from completions, for fast statistics.

Revision ID: 0003
Revises: 0002
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("staff", schema=None) as batch_op:
        batch_op.add_column(sa.Column("done_on", sa.Date(), nullable=True))
        batch_op.add_column(sa.Column("vneid_on", sa.Date(), nullable=True))
        batch_op.add_column(sa.Column("verified_on", sa.Date(), nullable=True))
    op.execute(
        "UPDATE staff SET "
        "done_on = (SELECT min(c.completed_on) FROM completions c "
        "WHERE c.staff_id = staff.id AND c.status <> 'rejected'), "
        "vneid_on = (SELECT min(c.completed_on) FROM completions c "
        "WHERE c.staff_id = staff.id AND c.status <> 'rejected' AND c.vneid_confirmed), "
        "verified_on = (SELECT min(c.completed_on) FROM completions c "
        "WHERE c.staff_id = staff.id AND c.status = 'verified')"
    )
    with op.batch_alter_table("staff", schema=None) as batch_op:
        batch_op.create_index("ix_staff_unit_active_done", ["unit_id", "active", "done_on"])


def downgrade() -> None:
    with op.batch_alter_table("staff", schema=None) as batch_op:
        batch_op.drop_index("ix_staff_unit_active_done")
        batch_op.drop_column("verified_on")
        batch_op.drop_column("vneid_on")
        batch_op.drop_column("done_on")
