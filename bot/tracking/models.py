"""Completion-tracking tables: units, staff, courses, completions, targets, audit.

Units form a tree (department -> hospital / health centre -> ward / office /
commune station). Each unit stores its materialised ``path`` ("/1/7/42/") so
"this unit and everything under it" is one indexed prefix match, which keeps
province-wide statistics fast on both SQLite and PostgreSQL.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    false,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from bot.db import Base, utcnow

# Job groups the plans count separately; the roster's free-text title maps to one.
JOB_GROUPS: dict[str, str] = {
    "doctor": "Bác sĩ",
    "nurse": "Điều dưỡng, hộ sinh",
    "technician": "Kỹ thuật viên",
    "pharmacist": "Dược sĩ",
    "administrative": "Hành chính, quản lý",
    "village_health_worker": "Nhân viên y tế thôn bản",
    "other": "Khác",
}

UNIT_KINDS: dict[str, str] = {
    "department": "Sở Y tế",
    "hospital": "Bệnh viện",
    "health_centre": "Trung tâm Y tế",
    "ward": "Khoa",
    "office": "Phòng",
    "commune_station": "Trạm Y tế",
    "other": "Đơn vị",
}

REPORTED, VERIFIED, REJECTED = "reported", "verified", "rejected"
STATUS_VI = {REPORTED: "chờ duyệt", VERIFIED: "đã duyệt", REJECTED: "bị từ chối"}


class Unit(Base):
    __tablename__ = "units"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    code: Mapped[str] = mapped_column(String(40), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    name_key: Mapped[str] = mapped_column(String(200), index=True)
    kind: Mapped[str] = mapped_column(String(20), default="other")
    parent_id: Mapped[int | None] = mapped_column(
        ForeignKey("units.id", ondelete="RESTRICT"), index=True
    )
    path: Mapped[str] = mapped_column(String(400), default="/", index=True)
    depth: Mapped[int] = mapped_column(Integer, default=0)


class Staff(Base):
    __tablename__ = "staff"
    __table_args__ = (
        # Covers the statistics query: counts per unit and job group are read
        # from the index alone (about 35 ms for 100,000 staff on SQLite).
        Index(
            "ix_staff_progress",
            "unit_id",
            "active",
            "job_group",
            "done_on",
            "vneid_on",
            "verified_on",
        ),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    code: Mapped[str] = mapped_column(String(40), unique=True)
    full_name: Mapped[str] = mapped_column(String(200))
    unit_id: Mapped[int] = mapped_column(ForeignKey("units.id", ondelete="RESTRICT"))
    title: Mapped[str | None] = mapped_column(String(200))
    job_group: Mapped[str] = mapped_column(String(30), default="other", index=True)
    phone: Mapped[str | None] = mapped_column(String(20), index=True)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    # Derived from completions (see bot.tracking.progress): the first date the
    # person counted as done / VNeID-confirmed / verified. Statistics "as of a
    # date" then scan one table instead of aggregating every completion.
    done_on: Mapped[date | None] = mapped_column(Date)
    vneid_on: Mapped[date | None] = mapped_column(Date)
    verified_on: Mapped[date | None] = mapped_column(Date)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), default=utcnow, onupdate=utcnow
    )

    unit: Mapped[Unit] = relationship(lazy="joined")


class UnitManager(Base):
    """A staff member who manages a unit (and everything under it)."""

    __tablename__ = "unit_managers"

    staff_id: Mapped[int] = mapped_column(
        ForeignKey("staff.id", ondelete="CASCADE"), primary_key=True
    )
    unit_id: Mapped[int] = mapped_column(
        ForeignKey("units.id", ondelete="CASCADE"), primary_key=True
    )


class Identity(Base):
    """A messenger account linked to a roster entry."""

    __tablename__ = "identities"

    channel: Mapped[str] = mapped_column(String(20), primary_key=True)
    user_id: Mapped[str] = mapped_column(String(80), primary_key=True)
    chat_id: Mapped[str] = mapped_column(String(80))
    staff_id: Mapped[int] = mapped_column(ForeignKey("staff.id", ondelete="CASCADE"), index=True)
    method: Mapped[str] = mapped_column(String(20))
    linked_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class LinkCode(Base):
    """One-time code a manager issues so a staff member can link an account.

    Stored as SHA-256 of a random per-code ``salt`` and the code. Issuing a new
    code for a person revokes the earlier ones; ``by_admin`` records whether an
    administrator issued it (only such codes may link a manager's record).
    """

    __tablename__ = "link_codes"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    staff_id: Mapped[int] = mapped_column(ForeignKey("staff.id", ondelete="CASCADE"), index=True)
    code_hash: Mapped[str] = mapped_column(String(64), index=True)
    salt: Mapped[str] = mapped_column(String(32), default="", server_default="")
    issued_by: Mapped[str] = mapped_column(String(120))
    by_admin: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    used_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class LinkGuard(Base):
    """Failed linking attempts per staff code (``kind="staff"``) and per
    messenger account (``kind="account"``), kept in the database so that a
    restart or a second worker does not reset them. ``locked_at`` is set at
    the limit and cleared only by an administrator."""

    __tablename__ = "link_guards"
    __table_args__ = (UniqueConstraint("kind", "key", name="uq_link_guards_kind_key"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    kind: Mapped[str] = mapped_column(String(10))
    key: Mapped[str] = mapped_column(String(120))
    failures: Mapped[int] = mapped_column(Integer, default=0)
    last_failure_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    locked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), index=True)


class Course(Base):
    __tablename__ = "courses"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    code: Mapped[str] = mapped_column(String(40), unique=True)
    name: Mapped[str] = mapped_column(String(300))
    name_key: Mapped[str] = mapped_column(String(300), index=True)
    provider: Mapped[str | None] = mapped_column(String(200))
    in_catalogue: Mapped[bool] = mapped_column(Boolean, default=True)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class Completion(Base):
    """One row per staff member and course (re-logging updates it)."""

    __tablename__ = "completions"
    __table_args__ = (
        UniqueConstraint("staff_id", "course_id", name="uq_completions_staff_course"),
        Index("ix_completions_status_date", "status", "completed_on"),
        # Progress dates are "earliest completion of this person with this
        # status": without it SQLite walks every verified completion per person.
        Index("ix_completions_staff_status_date", "staff_id", "status", "completed_on"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    staff_id: Mapped[int] = mapped_column(ForeignKey("staff.id", ondelete="CASCADE"), index=True)
    course_id: Mapped[int] = mapped_column(ForeignKey("courses.id", ondelete="RESTRICT"))
    completed_on: Mapped[date] = mapped_column(Date)
    certificate_code: Mapped[str | None] = mapped_column(String(100))
    evidence_path: Mapped[str | None] = mapped_column(String(500))
    vneid_confirmed: Mapped[bool] = mapped_column(Boolean, default=False)
    status: Mapped[str] = mapped_column(String(12), default=REPORTED)
    reject_reason: Mapped[str | None] = mapped_column(Text)
    verified_by: Mapped[str | None] = mapped_column(String(120))
    verified_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    reported_by: Mapped[str | None] = mapped_column(String(120))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), default=utcnow, onupdate=utcnow
    )

    staff: Mapped[Staff] = relationship(lazy="joined")
    course: Mapped[Course] = relationship(lazy="joined")


class Target(Base):
    """Share of active staff that must meet ``rule`` by ``deadline`` (one per year).

    ``rule`` is what counts a person (see :mod:`bot.tracking.targets`):
    ``done`` (a completion not rejected), ``vneid`` (one also confirmed on
    VNeID, as plan 2948/KH-SYT requires) or ``verified`` (one a manager verified).
    """

    __tablename__ = "targets"

    year: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    rate: Mapped[float] = mapped_column(Float)
    deadline: Mapped[date] = mapped_column(Date)
    source: Mapped[str | None] = mapped_column(String(200))
    rule: Mapped[str] = mapped_column(String(12), default="done", server_default="done")


class UnitSnapshot(Base):
    """One unit's figures on one day (active staff, done, VNeID, verified).

    Written once a day (and on demand) so managers see whether they are on
    pace: a trend drawn from today's roster alone would forget people who
    left or moved. ``estimated`` marks days reconstructed from progress dates
    when snapshots started, before any was stored.
    """

    __tablename__ = "unit_snapshots"

    day: Mapped[date] = mapped_column(Date, primary_key=True)
    unit_id: Mapped[int] = mapped_column(
        ForeignKey("units.id", ondelete="CASCADE"), primary_key=True, index=True
    )
    active: Mapped[int] = mapped_column(Integer)
    done: Mapped[int] = mapped_column(Integer)
    vneid: Mapped[int] = mapped_column(Integer)
    verified: Mapped[int] = mapped_column(Integer)
    estimated: Mapped[bool] = mapped_column(Boolean, default=False)


class AuditLog(Base):
    """Every change to tracking data: who, what, when, before/after."""

    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, index=True)
    actor: Mapped[str] = mapped_column(String(120))
    action: Mapped[str] = mapped_column(String(40))
    entity: Mapped[str] = mapped_column(String(30))
    entity_id: Mapped[str | None] = mapped_column(String(60))
    details: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


class Outbox(Base):
    """Messages queued for a staff member (e.g. a rejection reason, a reminder).

    ``key`` makes periodic messages idempotent: one weekly reminder per
    staff and week, whatever the number of workers polling.
    """

    __tablename__ = "outbox"
    __table_args__ = (UniqueConstraint("key", name="uq_outbox_key"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    key: Mapped[str] = mapped_column(String(120))
    staff_id: Mapped[int] = mapped_column(ForeignKey("staff.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(20))
    text: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), index=True)
