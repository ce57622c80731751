"""Linking codes that cannot be brute-forced.

Per-code salt, revocation of earlier codes, whether an administrator issued
the code (manager records need that), and failure counters with locks per
staff code and per messenger account.

Revision ID: 0006
Revises: 0005
"""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("link_codes", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("salt", sa.String(length=32), nullable=False, server_default="")
        )
        batch_op.add_column(
            sa.Column("by_admin", sa.Boolean(), nullable=False, server_default=sa.false())
        )
        batch_op.add_column(sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True))
    op.create_table(
        "link_guards",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("kind", sa.String(length=10), nullable=False),
        sa.Column("key", sa.String(length=120), nullable=False),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.Column("last_failure_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("locked_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_link_guards")),
        sa.UniqueConstraint("kind", "key", name="uq_link_guards_kind_key"),
    )
    with op.batch_alter_table("link_guards", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_link_guards_locked_at"), ["locked_at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("link_guards", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_link_guards_locked_at"))
    op.drop_table("link_guards")
    with op.batch_alter_table("link_codes", schema=None) as batch_op:
        batch_op.drop_column("revoked_at")
        batch_op.drop_column("by_admin")
        batch_op.drop_column("salt")
