"""Targets say which completions count: done, done + VNeID, done + verified.

Plan 2948/KH-SYT (the 2026 target) counts a course only once it is confirmed
on VNeID; plan 789/KH-TTYT (2025) counts completion alone. Existing targets
from plan 2948 get the VNeID rule, every other target keeps "done".

Revision ID: 0005
Revises: 0004
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("targets", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("rule", sa.String(length=12), nullable=False, server_default="done")
        )
    op.execute("UPDATE targets SET rule = 'vneid' WHERE source LIKE '2948/%'")


def downgrade() -> None:
    with op.batch_alter_table("targets", schema=None) as batch_op:
        batch_op.drop_column("rule")
