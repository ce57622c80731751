"""Completion tracking: units, staff, identities, courses, completions, targets, audit.

Seeds the targets the plans set (plan 789/KH-TTYT: 90% in 2025; plan
2948/KH-SYT: 100% before 30/6/2026) and the two topics the MOOC platform ran
for public staff before launch plus the personal-data example course
(knowledge-facts.md, fact 6).

Revision ID: 0002
Revises: 0001
"""

from datetime import UTC, date, datetime

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "audit_log",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("actor", sa.String(length=120), nullable=False),
        sa.Column("action", sa.String(length=40), nullable=False),
        sa.Column("entity", sa.String(length=30), nullable=False),
        sa.Column("entity_id", sa.String(length=60), nullable=True),
        sa.Column("details", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_log")),
    )
    with op.batch_alter_table("audit_log", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_audit_log_at"), ["at"], unique=False)

    op.create_table(
        "courses",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("code", sa.String(length=40), nullable=False),
        sa.Column("name", sa.String(length=300), nullable=False),
        sa.Column("name_key", sa.String(length=300), nullable=False),
        sa.Column("provider", sa.String(length=200), nullable=True),
        sa.Column("in_catalogue", sa.Boolean(), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_courses")),
        sa.UniqueConstraint("code", name=op.f("uq_courses_code")),
    )
    with op.batch_alter_table("courses", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_courses_name_key"), ["name_key"], unique=False)

    op.create_table(
        "targets",
        sa.Column("year", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("rate", sa.Float(), nullable=False),
        sa.Column("deadline", sa.Date(), nullable=False),
        sa.Column("source", sa.String(length=200), nullable=True),
        sa.PrimaryKeyConstraint("year", name=op.f("pk_targets")),
    )
    op.create_table(
        "units",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("code", sa.String(length=40), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("name_key", sa.String(length=200), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("parent_id", sa.Integer(), nullable=True),
        sa.Column("path", sa.String(length=400), nullable=False),
        sa.Column("depth", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["parent_id"], ["units.id"], name=op.f("fk_units_parent_id_units"), ondelete="RESTRICT"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_units")),
        sa.UniqueConstraint("code", name=op.f("uq_units_code")),
    )
    with op.batch_alter_table("units", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_units_name_key"), ["name_key"], unique=False)
        batch_op.create_index(batch_op.f("ix_units_parent_id"), ["parent_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_units_path"), ["path"], unique=False)

    op.create_table(
        "staff",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("code", sa.String(length=40), nullable=False),
        sa.Column("full_name", sa.String(length=200), nullable=False),
        sa.Column("unit_id", sa.Integer(), nullable=False),
        sa.Column("title", sa.String(length=200), nullable=True),
        sa.Column("job_group", sa.String(length=30), nullable=False),
        sa.Column("phone", sa.String(length=20), nullable=True),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["unit_id"], ["units.id"], name=op.f("fk_staff_unit_id_units"), ondelete="RESTRICT"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_staff")),
        sa.UniqueConstraint("code", name=op.f("uq_staff_code")),
    )
    with op.batch_alter_table("staff", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_staff_job_group"), ["job_group"], unique=False)
        batch_op.create_index(batch_op.f("ix_staff_phone"), ["phone"], unique=False)
        batch_op.create_index("ix_staff_unit_active", ["unit_id", "active"], unique=False)

    op.create_table(
        "completions",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("staff_id", sa.Integer(), nullable=False),
        sa.Column("course_id", sa.Integer(), nullable=False),
        sa.Column("completed_on", sa.Date(), nullable=False),
        sa.Column("certificate_code", sa.String(length=100), nullable=True),
        sa.Column("evidence_path", sa.String(length=500), nullable=True),
        sa.Column("vneid_confirmed", sa.Boolean(), nullable=False),
        sa.Column("status", sa.String(length=12), nullable=False),
        sa.Column("reject_reason", sa.Text(), nullable=True),
        sa.Column("verified_by", sa.String(length=120), nullable=True),
        sa.Column("verified_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("reported_by", sa.String(length=120), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["course_id"],
            ["courses.id"],
            name=op.f("fk_completions_course_id_courses"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["staff_id"],
            ["staff.id"],
            name=op.f("fk_completions_staff_id_staff"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_completions")),
        sa.UniqueConstraint("staff_id", "course_id", name="uq_completions_staff_course"),
    )
    with op.batch_alter_table("completions", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_completions_staff_id"), ["staff_id"], unique=False)
        batch_op.create_index(
            "ix_completions_status_date", ["status", "completed_on"], unique=False
        )

    op.create_table(
        "identities",
        sa.Column("channel", sa.String(length=20), nullable=False),
        sa.Column("user_id", sa.String(length=80), nullable=False),
        sa.Column("chat_id", sa.String(length=80), nullable=False),
        sa.Column("staff_id", sa.Integer(), nullable=False),
        sa.Column("method", sa.String(length=20), nullable=False),
        sa.Column("linked_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["staff_id"],
            ["staff.id"],
            name=op.f("fk_identities_staff_id_staff"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("channel", "user_id", name=op.f("pk_identities")),
    )
    with op.batch_alter_table("identities", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_identities_staff_id"), ["staff_id"], unique=False)

    op.create_table(
        "link_codes",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("staff_id", sa.Integer(), nullable=False),
        sa.Column("code_hash", sa.String(length=64), nullable=False),
        sa.Column("issued_by", sa.String(length=120), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("used_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["staff_id"],
            ["staff.id"],
            name=op.f("fk_link_codes_staff_id_staff"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_link_codes")),
    )
    with op.batch_alter_table("link_codes", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_link_codes_code_hash"), ["code_hash"], unique=False)
        batch_op.create_index(batch_op.f("ix_link_codes_staff_id"), ["staff_id"], unique=False)

    op.create_table(
        "outbox",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("key", sa.String(length=120), nullable=False),
        sa.Column("staff_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["staff_id"], ["staff.id"], name=op.f("fk_outbox_staff_id_staff"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_outbox")),
        sa.UniqueConstraint("key", name="uq_outbox_key"),
    )
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_outbox_sent_at"), ["sent_at"], unique=False)
        batch_op.create_index(batch_op.f("ix_outbox_staff_id"), ["staff_id"], unique=False)

    op.create_table(
        "unit_managers",
        sa.Column("staff_id", sa.Integer(), nullable=False),
        sa.Column("unit_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["staff_id"],
            ["staff.id"],
            name=op.f("fk_unit_managers_staff_id_staff"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["unit_id"],
            ["units.id"],
            name=op.f("fk_unit_managers_unit_id_units"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("staff_id", "unit_id", name=op.f("pk_unit_managers")),
    )

    targets = sa.table(
        "targets",
        sa.column("year", sa.Integer),
        sa.column("rate", sa.Float),
        sa.column("deadline", sa.Date),
        sa.column("source", sa.String),
    )
    op.bulk_insert(
        targets,
        [
            {"year": 2025, "rate": 0.9, "deadline": date(2025, 12, 31), "source": "789/KH-TTYT"},
            {"year": 2026, "rate": 1.0, "deadline": date(2026, 6, 30), "source": "2948/KH-SYT"},
        ],
    )
    courses = sa.table(
        "courses",
        sa.column("code", sa.String),
        sa.column("name", sa.String),
        sa.column("name_key", sa.String),
        sa.column("provider", sa.String),
        sa.column("in_catalogue", sa.Boolean),
        sa.column("active", sa.Boolean),
        sa.column("created_at", sa.DateTime(timezone=True)),
    )
    now = datetime.now(UTC)
    provider = "Nền tảng Bình dân học vụ số"
    op.bulk_insert(
        courses,
        [
            dict(row, provider=provider, in_catalogue=True, active=True, created_at=now)
            for row in (
                {"code": "BDHVS-CDS", "name": "Chuyển đổi số", "name_key": "chuyen doi so"},
                {
                    "code": "BDHVS-ANKGS",
                    "name": "An ninh an toàn trên không gian số",
                    "name_key": "an ninh an toan tren khong gian so",
                },
                {
                    "code": "BDHVS-BVDLCN",
                    "name": "Bảo vệ dữ liệu cá nhân trực tuyến",
                    "name_key": "bao ve du lieu ca nhan truc tuyen",
                },
            )
        ],
    )


def downgrade() -> None:
    op.drop_table("unit_managers")
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_outbox_staff_id"))
        batch_op.drop_index(batch_op.f("ix_outbox_sent_at"))

    op.drop_table("outbox")
    with op.batch_alter_table("link_codes", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_link_codes_staff_id"))
        batch_op.drop_index(batch_op.f("ix_link_codes_code_hash"))

    op.drop_table("link_codes")
    with op.batch_alter_table("identities", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_identities_staff_id"))

    op.drop_table("identities")
    with op.batch_alter_table("completions", schema=None) as batch_op:
        batch_op.drop_index("ix_completions_status_date")
        batch_op.drop_index(batch_op.f("ix_completions_staff_id"))

    op.drop_table("completions")
    with op.batch_alter_table("staff", schema=None) as batch_op:
        batch_op.drop_index("ix_staff_unit_active")
        batch_op.drop_index(batch_op.f("ix_staff_phone"))
        batch_op.drop_index(batch_op.f("ix_staff_job_group"))

    op.drop_table("staff")
    with op.batch_alter_table("units", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_units_path"))
        batch_op.drop_index(batch_op.f("ix_units_parent_id"))
        batch_op.drop_index(batch_op.f("ix_units_name_key"))

    op.drop_table("units")
    op.drop_table("targets")
    with op.batch_alter_table("courses", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_courses_name_key"))

    op.drop_table("courses")
    with op.batch_alter_table("audit_log", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_audit_log_at"))

    op.drop_table("audit_log")
