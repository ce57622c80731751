"""Indexes that keep progress dates and statistics fast on large provinces.

- completions (staff, status, date): recomputing one person's earliest
  verified completion used the (status, completed_on) index on SQLite and
  walked every verified completion of the province for each person: 26 s for
  10,000 staff, over 40 min for 100,000. With this index each lookup is a seek.
- staff (unit, active, job group, progress dates): the statistics query reads
  counts from the index alone (province-wide with 100,000 staff: 270 ms ->
  35 ms on SQLite). It replaces the two narrower staff indexes it prefixes.

Revision ID: 0004
Revises: 0003
"""

from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

PROGRESS_COLUMNS = ["unit_id", "active", "job_group", "done_on", "vneid_on", "verified_on"]


def upgrade() -> None:
    with op.batch_alter_table("completions", schema=None) as batch_op:
        batch_op.create_index(
            "ix_completions_staff_status_date", ["staff_id", "status", "completed_on"]
        )
    with op.batch_alter_table("staff", schema=None) as batch_op:
        batch_op.create_index("ix_staff_progress", PROGRESS_COLUMNS)
        batch_op.drop_index("ix_staff_unit_active_done")
        batch_op.drop_index("ix_staff_unit_active")


def downgrade() -> None:
    with op.batch_alter_table("staff", schema=None) as batch_op:
        batch_op.create_index("ix_staff_unit_active", ["unit_id", "active"])
        batch_op.create_index("ix_staff_unit_active_done", ["unit_id", "active", "done_on"])
        batch_op.drop_index("ix_staff_progress")
    with op.batch_alter_table("completions", schema=None) as batch_op:
        batch_op.drop_index("ix_completions_staff_status_date")
