"""Courses, completions and their verification.

One row per person and course; re-logging updates it and sends it back for
verification. Every change of a completion (log, re-log, verify, reject,
delete) recomputes the person's progress dates in the same transaction, so
the figures of every screen follow at once (see :mod:`bot.tracking.progress`).
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from bot.core.actor import Actor
from bot.db import utcnow
from bot.errors import PermissionDenied, UserError
from bot.text import normalize_name
from bot.tracking.audit import actor_label, audit, reviewer_label
from bot.tracking.limits import LIMITS, clip
from bot.tracking.models import (
    REJECTED,
    REPORTED,
    VERIFIED,
    Completion,
    Course,
    Outbox,
    Staff,
    Unit,
)
from bot.tracking.normalize import EARLIEST, vi_date
from bot.tracking.progress import refresh as refresh_progress
from bot.tracking.targets import TargetBook


@dataclass(frozen=True)
class CompletionInput:
    """What a staff member reports about one course."""

    course_id: int
    completed_on: date
    certificate_code: str | None = None
    vneid_confirmed: bool = False
    evidence_path: str | None = None


def completion_not_found(completion_id: int) -> UserError:
    """Unknown and not-yours completions get the same answer."""
    return PermissionDenied(
        f"Không tìm thấy khai báo #{completion_id} trong các đơn vị bạn quản lý."
    )


class CompletionBook(TargetBook):
    """The course catalogue and the completions staff report."""

    # -- courses ---------------------------------------------------------------
    def courses(self, *, catalogue_only: bool = True) -> list[Course]:
        with self.db.session() as session:
            query = select(Course).where(Course.active.is_(True))
            if catalogue_only:
                query = query.where(Course.in_catalogue.is_(True))
            return list(session.scalars(query.order_by(Course.id)).all())

    def add_course(
        self,
        actor: Actor | str,
        code: str,
        name: str,
        *,
        provider: str | None = None,
        in_catalogue: bool = True,
    ) -> Course:
        code, name = code.strip(), " ".join(name.split())
        if not code or not name:
            raise UserError("Khóa học cần có mã và tên.")
        if len(code) > LIMITS.code or len(name) > LIMITS.course_name:
            raise UserError(
                f"Mã khóa học tối đa {LIMITS.code} ký tự, tên tối đa {LIMITS.course_name} ký tự."
            )
        if provider and len(provider) > LIMITS.provider:
            raise UserError(f"Tên đơn vị cung cấp tối đa {LIMITS.provider} ký tự.")
        with self.db.session() as session:
            course = session.scalar(select(Course).where(func.upper(Course.code) == code.upper()))
            created = course is None
            if course is None:
                course = Course(code=code)
                session.add(course)
            course.name, course.name_key = name, normalize_name(name)
            course.provider = provider or course.provider
            course.in_catalogue = in_catalogue
            course.active = True
            session.flush()
            audit(session, actor, "create" if created else "update", "course", code, name=name)
            return course

    def retire_course(self, actor: Actor | str, code: str) -> None:
        with self.db.session() as session:
            course = session.scalar(select(Course).where(func.upper(Course.code) == code.upper()))
            if course is None:
                raise UserError(f"Không có khóa học mã “{clip(code, 60)}”.")
            course.active = False
            audit(session, actor, "retire", "course", code)

    def find_course(self, text: str) -> Course | None:
        """A course by code or name as typed (folded); also a unique prefix of a name."""
        key = normalize_name(text)
        if not key:
            return None
        with self.db.session() as session:
            course = session.scalar(
                select(Course).where(
                    or_(func.upper(Course.code) == text.strip().upper(), Course.name_key == key),
                    Course.active.is_(True),
                )
            )
            if course is None:
                found = session.scalars(
                    select(Course).where(Course.name_key.like(f"{key}%"), Course.active.is_(True))
                ).all()
                course = found[0] if len(found) == 1 else None
            return course

    def course_for_name(self, actor: Actor | str, name: str) -> Course:
        """The catalogue course a typed name means, or a new off-catalogue course."""
        course = self.find_course(name)
        if course is not None:
            return course
        name = " ".join(name.split())
        if len(name) < 3 or len(name) > LIMITS.course_name:
            raise UserError(f"Tên khóa học cần từ 3 đến {LIMITS.course_name} ký tự.")
        code = "TD-" + hashlib.sha1(normalize_name(name).encode()).hexdigest()[:8].upper()
        return self.add_course(actor, code, name, in_catalogue=False)

    # -- completions -------------------------------------------------------------
    def log_completion(
        self, actor: Actor | str, staff_id: int, data: CompletionInput
    ) -> tuple[Completion, bool]:
        """Record or update (staff, course): returns the row and whether it is new."""
        # The last line of defence; the chat and the CLI check the date with the
        # local "today" first. One day of slack covers time zones.
        if data.completed_on > date.today() + timedelta(days=1):
            raise UserError("Ngày hoàn thành không thể ở tương lai.")
        if data.completed_on < EARLIEST:
            raise UserError("Ngày hoàn thành quá xa (trước năm 2020), có lẽ nhập nhầm năm.")
        if data.certificate_code and len(data.certificate_code) > LIMITS.certificate:
            raise UserError(f"Mã chứng nhận quá dài (tối đa {LIMITS.certificate} ký tự).")
        with self.db.session() as session:
            staff = session.get(Staff, staff_id)
            if staff is None or not staff.active:
                raise UserError("Không tìm thấy hồ sơ nhân viên đang hoạt động.")
            if isinstance(actor, Actor) and actor.staff_id != staff_id:
                self.require_unit(actor, staff.unit_id)
            row = session.scalar(
                select(Completion).where(
                    Completion.staff_id == staff_id, Completion.course_id == data.course_id
                )
            )
            created = row is None
            before: dict[str, Any] = {}
            if row is None:
                row = Completion(staff_id=staff_id, course_id=data.course_id)
                session.add(row)
            else:
                before = {
                    "completed_on": row.completed_on,
                    "certificate_code": row.certificate_code,
                    "vneid_confirmed": row.vneid_confirmed,
                    "status": row.status,
                }
            row.completed_on = data.completed_on
            row.certificate_code = data.certificate_code or (
                None if created else row.certificate_code
            )
            row.vneid_confirmed = data.vneid_confirmed
            if data.evidence_path:
                row.evidence_path = data.evidence_path
            # A changed report goes back to the managers for verification.
            row.status = REPORTED
            row.reject_reason = None
            row.verified_by = None
            row.verified_at = None
            row.reported_by = actor_label(actor)
            session.flush()
            refresh_progress(session, [staff_id])
            audit(
                session,
                actor,
                "log" if created else "relog",
                "completion",
                row.id,
                staff=staff.code,
                course_id=data.course_id,
                completed_on=data.completed_on,
                vneid=data.vneid_confirmed,
                before=before,
            )
            session.refresh(row)
            return row, created

    def my_completions(self, staff_id: int) -> list[Completion]:
        with self.db.session() as session:
            return list(
                session.scalars(
                    select(Completion)
                    .where(Completion.staff_id == staff_id)
                    .order_by(Completion.completed_on.desc(), Completion.id)
                ).unique()
            )

    def pending(self, actor: Actor, *, limit: int = 10) -> tuple[list[Completion], int]:
        """Reported completions a manager may verify, oldest first, and their total.

        A manager's own reports are not among them: nobody verifies themselves.
        """
        paths = self.visible_paths(actor)
        with self.db.session() as session:
            query = (
                select(Completion)
                .join(Staff, Staff.id == Completion.staff_id)
                .join(Unit, Unit.id == Staff.unit_id)
                .where(Completion.status == REPORTED, Staff.active.is_(True))
            )
            if actor.staff_id is not None:
                query = query.where(Completion.staff_id != actor.staff_id)
            if paths is not None:
                if not paths:
                    return [], 0
                query = query.where(or_(*(Unit.path.like(f"{p}%") for p in paths)))
            total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
            rows = session.scalars(
                query.order_by(Completion.created_at, Completion.id).limit(limit)
            ).unique()
            return list(rows), total

    def completion_for(self, actor: Actor | str, completion_id: int) -> Completion:
        """A completion ``actor`` may verify, reject or delete (detached)."""
        with self.db.session() as session:
            return self._completion_for(session, actor, completion_id)

    def _completion_for(
        self, session: Session, actor: Actor | str, completion_id: int
    ) -> Completion:
        row = session.get(Completion, completion_id)
        if not isinstance(actor, Actor) or actor.is_admin:
            if row is None:
                raise UserError(f"Không có khai báo #{completion_id}.")
        else:
            unit = None if row is None else session.get(Unit, row.staff.unit_id)
            if row is None or unit is None or not self.can_see_unit(actor, unit):
                raise completion_not_found(completion_id)
        assert row is not None
        if isinstance(actor, Actor) and actor.staff_id == row.staff_id:
            raise PermissionDenied("Bạn không thể tự duyệt kết quả của chính mình.")
        return row

    def verify(
        self, actor: Actor | str, completion_id: int, *, override_rejection: bool = False
    ) -> Completion:
        """Mark a completion verified.

        A rejected completion is verified only with ``override_rejection``: the
        usual way back is a fresh report by the person (which resets it to
        "reported"); a manager who changes their mind must say so.
        """
        with self.db.session() as session:
            row = self._completion_for(session, actor, completion_id)
            if row.status == REJECTED and not override_rejection:
                raise UserError(
                    f"Khai báo #{row.id} đã bị từ chối (lý do: {row.reject_reason or '—'}). "
                    "Nhân viên cần khai báo lại; nếu vẫn muốn duyệt, hãy xác nhận duyệt lại."
                )
            before = row.status
            row.status = VERIFIED
            row.reject_reason = None
            row.verified_by = reviewer_label(actor)
            row.verified_at = utcnow()
            session.flush()
            refresh_progress(session, [row.staff_id])
            audit(
                session,
                actor,
                "verify",
                "completion",
                row.id,
                staff=row.staff.code,
                before=before,
            )
            session.add(
                Outbox(
                    key=f"verified:{row.id}:{secrets.token_hex(4)}",
                    staff_id=row.staff_id,
                    kind="verdict",
                    text=(
                        f"✅ Kết quả khóa “{row.course.name}” (hoàn thành ngày "
                        f"{vi_date(row.completed_on)}) đã được xác nhận."
                    ),
                )
            )
            return row

    def reject(self, actor: Actor | str, completion_id: int, reason: str) -> Completion:
        reason = " ".join(reason.split())
        if len(reason) < 3:
            raise UserError("Hãy ghi lý do từ chối (ít nhất 3 ký tự) để nhân viên biết cần sửa gì.")
        reason = reason[: LIMITS.reason]
        with self.db.session() as session:
            row = self._completion_for(session, actor, completion_id)
            before = row.status
            row.status = REJECTED
            row.reject_reason = reason
            row.verified_by = reviewer_label(actor)
            row.verified_at = utcnow()
            session.flush()
            refresh_progress(session, [row.staff_id])
            audit(
                session,
                actor,
                "reject",
                "completion",
                row.id,
                staff=row.staff.code,
                reason=reason,
                before=before,
            )
            session.add(
                Outbox(
                    key=f"rejected:{row.id}:{secrets.token_hex(4)}",
                    staff_id=row.staff_id,
                    kind="verdict",
                    text=(
                        f"❌ Kết quả khóa “{row.course.name}” chưa được xác nhận. Lý do: {reason}\n"
                        "Bạn có thể gõ /ghinhan để khai lại sau khi bổ sung."
                    ),
                )
            )
            return row

    def delete_completion(self, actor: Actor | str, completion_id: int) -> None:
        """Remove a completion entered by mistake (the audit row keeps what it was)."""
        with self.db.session() as session:
            row = self._completion_for(session, actor, completion_id)
            staff_id, staff_code = row.staff_id, row.staff.code
            details = {
                "course_id": row.course_id,
                "completed_on": row.completed_on,
                "status": row.status,
                "vneid": row.vneid_confirmed,
            }
            session.delete(row)
            session.flush()
            refresh_progress(session, [staff_id])
            audit(
                session,
                actor,
                "delete",
                "completion",
                completion_id,
                staff=staff_code,
                **details,
            )
