"""Web console (sign-in links, sessions, upload jobs) and curated answers.

Revision ID: 0007
Revises: 0006
"""

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def _ts(name: str, nullable: bool = True) -> sa.Column:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "web_login_links",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("token_hash", sa.String(64), nullable=False),
        sa.Column("channel", sa.String(20), nullable=False),
        sa.Column("user_id", sa.String(80), nullable=False),
        sa.Column("admin_grant", sa.Boolean(), nullable=False),
        sa.Column("issued_by", sa.String(120), nullable=False),
        _ts("created_at", False),
        _ts("expires_at", False),
        _ts("used_at"),
        sa.PrimaryKeyConstraint("id", name="pk_web_login_links"),
        sa.UniqueConstraint("token_hash", name="uq_web_login_links_token_hash"),
    )
    op.create_table(
        "web_sessions",
        sa.Column("token_hash", sa.String(64), nullable=False),
        sa.Column("channel", sa.String(20), nullable=False),
        sa.Column("user_id", sa.String(80), nullable=False),
        sa.Column("admin_grant", sa.Boolean(), nullable=False),
        sa.Column("csrf", sa.String(64), nullable=False),
        _ts("created_at", False),
        _ts("last_seen", False),
        _ts("expires_at", False),
        _ts("ended_at"),
        sa.PrimaryKeyConstraint("token_hash", name="pk_web_sessions"),
    )
    op.create_table(
        "web_jobs",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("kind", sa.String(20), nullable=False),
        sa.Column("filename", sa.String(300), nullable=False),
        sa.Column("path", sa.String(1000), nullable=False),
        sa.Column("status", sa.String(12), nullable=False),
        sa.Column("message", sa.Text()),
        sa.Column("doc_id", sa.String(80)),
        sa.Column("created_by", sa.String(120), nullable=False),
        _ts("created_at", False),
        _ts("started_at"),
        _ts("finished_at"),
        sa.PrimaryKeyConstraint("id", name="pk_web_jobs"),
    )
    op.create_index("ix_web_jobs_status", "web_jobs", ["status"])
    op.create_table(
        "curated_answers",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("question", sa.Text(), nullable=False),
        sa.Column("answer", sa.Text(), nullable=False),
        sa.Column("doc_id", sa.String(80), nullable=False),
        sa.Column("section", sa.Text(), nullable=False),
        sa.Column("status", sa.String(10), nullable=False),
        sa.Column("reviewed_by", sa.String(200), nullable=False),
        sa.Column("created_by", sa.String(120), nullable=False),
        _ts("created_at", False),
        _ts("updated_at", False),
        _ts("retired_at"),
        sa.PrimaryKeyConstraint("id", name="pk_curated_answers"),
    )
    op.create_index("ix_curated_answers_status", "curated_answers", ["status"])
    op.create_table(
        "curated_variants",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("curated_id", sa.Integer(), nullable=False),
        sa.Column("question", sa.Text(), nullable=False),
        sa.Column("question_key", sa.String(500), nullable=False),
        sa.Column("vector", sa.JSON()),
        sa.Column("vector_model", sa.String(120)),
        sa.PrimaryKeyConstraint("id", name="pk_curated_variants"),
        sa.ForeignKeyConstraint(
            ["curated_id"],
            ["curated_answers.id"],
            name="fk_curated_variants_curated_id_curated_answers",
            ondelete="CASCADE",
        ),
    )
    op.create_index("ix_curated_variants_curated_id", "curated_variants", ["curated_id"])
    op.create_index("ix_curated_variants_question_key", "curated_variants", ["question_key"])


def downgrade() -> None:
    op.drop_table("curated_variants")
    op.drop_table("curated_answers")
    op.drop_table("web_jobs")
    op.drop_table("web_sessions")
    op.drop_table("web_login_links")
