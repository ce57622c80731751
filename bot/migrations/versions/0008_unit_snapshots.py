"""Daily snapshots of each unit's completion figures (the trend).

Revision ID: 0008
Revises: 0007
"""

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "unit_snapshots",
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("unit_id", sa.Integer(), nullable=False),
        sa.Column("active", sa.Integer(), nullable=False),
        sa.Column("done", sa.Integer(), nullable=False),
        sa.Column("vneid", sa.Integer(), nullable=False),
        sa.Column("verified", sa.Integer(), nullable=False),
        sa.Column("estimated", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(
            ["unit_id"],
            ["units.id"],
            name="fk_unit_snapshots_unit_id_units",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("day", "unit_id", name="pk_unit_snapshots"),
    )
    op.create_index("ix_unit_snapshots_unit_id", "unit_snapshots", ["unit_id"])


def downgrade() -> None:
    op.drop_index("ix_unit_snapshots_unit_id", table_name="unit_snapshots")
    op.drop_table("unit_snapshots")
