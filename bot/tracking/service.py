"""Completion tracking: the operations every channel and the CLI share.

Permission rules live here, not in adapters: staff see only themselves,
managers only the units they manage (with everything under them), admins
everything. Every change writes an :class:`AuditLog` row in the same
transaction as the change.
"""

from __future__ import annotations

import hashlib
import logging
import secrets
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import delete, func, or_, select
from sqlalchemy.orm import Session

from bot.core.actor import ADMIN, GUEST, MANAGER, STAFF, Actor
from bot.db import Database, utcnow
from bot.errors import PermissionDenied, UserError
from bot.text import normalize_name
from bot.tracking.models import (
    REJECTED,
    REPORTED,
    VERIFIED,
    AuditLog,
    Completion,
    Course,
    Identity,
    LinkCode,
    Outbox,
    Staff,
    Target,
    Unit,
    UnitManager,
)
from bot.tracking.normalize import normalize_phone, vi_date
from bot.tracking.progress import refresh as refresh_progress

log = logging.getLogger(__name__)

LINK_CODE_TTL = timedelta(days=3)
SYSTEM = "system"


def actor_label(actor: Actor | str) -> str:
    """How an actor is written in audit rows ("telegram:123 (NV001)", "cli")."""
    if isinstance(actor, str):
        return actor
    label = f"{actor.channel}:{actor.user_id}"
    return f"{label} ({actor.staff_code})" if actor.staff_code else label


def audit(
    session: Session,
    actor: Actor | str,
    action: str,
    entity: str,
    entity_id: object = None,
    **details: Any,
) -> None:
    session.add(
        AuditLog(
            actor=actor_label(actor),
            action=action,
            entity=entity,
            entity_id=None if entity_id is None else str(entity_id),
            details={k: _jsonable(v) for k, v in details.items()},
        )
    )


def _jsonable(value: Any) -> Any:
    if isinstance(value, date | datetime):
        return value.isoformat()
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    return value


def _hash_code(code: str) -> str:
    return hashlib.sha256(code.strip().encode()).hexdigest()


@dataclass(frozen=True)
class CompletionInput:
    """What a staff member reports about one course."""

    course_id: int
    completed_on: date
    certificate_code: str | None = None
    vneid_confirmed: bool = False
    evidence_path: str | None = None


class TrackingService:
    """Roster, identities, courses, completions; one database, many channels."""

    def __init__(self, db: Database) -> None:
        self.db = db

    # -- identity (IdentityProvider) ------------------------------------------
    def resolve(self, channel: str, user_id: str, *, is_admin: bool) -> Actor:
        """Role and visible units of whoever sent a message."""
        roles = {ADMIN} if is_admin else set()
        with self.db.session() as session:
            row = session.execute(
                select(Staff)
                .join(Identity, Identity.staff_id == Staff.id)
                .where(Identity.channel == channel, Identity.user_id == user_id)
            ).scalar_one_or_none()
            if row is None or not row.active:
                return Actor(channel, user_id, frozenset(roles or {GUEST}))
            managed = frozenset(
                session.scalars(
                    select(UnitManager.unit_id).where(UnitManager.staff_id == row.id)
                ).all()
            )
            roles.add(STAFF)
            if managed:
                roles.add(MANAGER)
            return Actor(
                channel,
                user_id,
                frozenset(roles),
                staff_id=row.id,
                staff_code=row.code,
                name=row.full_name,
                managed_unit_ids=managed,
            )

    def link(
        self, staff: Staff, channel: str, user_id: str, chat_id: str | None, method: str
    ) -> None:
        with self.db.session() as session:
            identity = session.get(Identity, (channel, user_id))
            if identity is None:
                identity = Identity(channel=channel, user_id=user_id)
                session.add(identity)
            identity.staff_id = staff.id
            identity.chat_id = chat_id or user_id
            identity.method = method
            identity.linked_at = utcnow()
            audit(session, f"{channel}:{user_id}", "link", "staff", staff.code, method=method)

    def link_identity(
        self, staff_code: str, channel: str, user_id: str, chat_id: str | None = None
    ) -> Staff:
        """Link an account directly (operators, tests)."""
        staff = self.staff_by_code(staff_code)
        self.link(staff, channel, user_id, chat_id, "operator")
        return staff

    def link_by_phone(self, channel: str, user_id: str, chat_id: str | None, phone: str) -> Staff:
        """Link by a contact the messenger verified as the sender's own."""
        try:
            normalized = normalize_phone(phone)
        except ValueError:
            normalized = None
        if not normalized:
            raise UserError("Số điện thoại không hợp lệ.")
        with self.db.session() as session:
            matches = session.scalars(
                select(Staff).where(Staff.phone == normalized, Staff.active.is_(True))
            ).all()
        if not matches:
            raise UserError(
                "Số điện thoại này chưa có trong danh sách nhân viên. Hãy nhờ người quản lý "
                "cập nhật số, hoặc xin mã liên kết và gõ /lienket <mã nhân viên> <mã liên kết>."
            )
        if len(matches) > 1:
            raise UserError(
                "Số điện thoại này gắn với nhiều nhân viên. Hãy xin người quản lý mã liên kết "
                "và gõ /lienket <mã nhân viên> <mã liên kết>."
            )
        self.link(matches[0], channel, user_id, chat_id, "phone")
        return matches[0]

    def issue_link_code(self, actor: Actor | str, staff_code: str) -> str:
        """A 6-digit one-time code for ``staff_code``, valid three days."""
        staff = self.staff_by_code(staff_code)
        if isinstance(actor, Actor):
            self.require_unit(actor, staff.unit_id)
        code = f"{secrets.randbelow(1_000_000):06d}"
        with self.db.session() as session:
            session.add(
                LinkCode(
                    staff_id=staff.id,
                    code_hash=_hash_code(code),
                    issued_by=actor_label(actor),
                    expires_at=utcnow() + LINK_CODE_TTL,
                )
            )
            audit(session, actor, "issue_link_code", "staff", staff.code)
        return code

    def link_by_code(
        self, channel: str, user_id: str, chat_id: str | None, staff_code: str, code: str
    ) -> Staff:
        wrong = UserError(
            "Mã nhân viên hoặc mã liên kết không đúng, hoặc mã đã hết hạn. "
            "Hãy kiểm tra lại hoặc xin người quản lý mã mới."
        )
        with self.db.session() as session:
            staff = session.scalar(
                select(Staff).where(func.upper(Staff.code) == staff_code.strip().upper())
            )
            if staff is None or not staff.active:
                raise wrong
            row = session.scalar(
                select(LinkCode).where(
                    LinkCode.staff_id == staff.id,
                    LinkCode.code_hash == _hash_code(code),
                    LinkCode.used_at.is_(None),
                )
            )
            now = utcnow()
            if row is None or _aware(row.expires_at) < now:
                raise wrong
            row.used_at = now
        self.link(staff, channel, user_id, chat_id, "code")
        return staff

    # -- lookups ---------------------------------------------------------------
    def staff_by_code(self, code: str) -> Staff:
        with self.db.session() as session:
            staff = session.scalar(
                select(Staff).where(func.upper(Staff.code) == code.strip().upper())
            )
        if staff is None:
            raise UserError(f"Không có nhân viên mã “{code.strip()}”.")
        return staff

    def unit_by_ref(self, ref: str) -> Unit:
        """A unit by code or by name typed in any case, with or without diacritics."""
        key = normalize_name(ref)
        with self.db.session() as session:
            unit = session.scalar(select(Unit).where(func.upper(Unit.code) == ref.strip().upper()))
            if unit is None:
                units = session.scalars(select(Unit).where(Unit.name_key == key)).all()
                if len(units) == 1:
                    unit = units[0]
                elif len(units) > 1:
                    raise UserError(f"Có nhiều đơn vị tên “{ref}”; hãy dùng mã đơn vị.")
        if unit is None:
            raise UserError(f"Không tìm thấy đơn vị “{ref.strip()}”.")
        return unit

    def units(self) -> list[Unit]:
        with self.db.session() as session:
            return list(session.scalars(select(Unit).order_by(Unit.path)).all())

    def root_units(self) -> list[Unit]:
        with self.db.session() as session:
            return list(session.scalars(select(Unit).where(Unit.parent_id.is_(None))).all())

    # -- units -------------------------------------------------------------------
    def upsert_unit(
        self,
        actor: Actor | str,
        code: str,
        name: str,
        *,
        kind: str = "other",
        parent_code: str | None = None,
    ) -> Unit:
        code = code.strip()
        if not code or not name.strip():
            raise UserError("Đơn vị cần có mã và tên.")
        with self.db.session() as session:
            parent = None
            if parent_code:
                parent = session.scalar(
                    select(Unit).where(func.upper(Unit.code) == parent_code.strip().upper())
                )
                if parent is None:
                    raise UserError(f"Không có đơn vị cấp trên mã “{parent_code}”.")
            unit = session.scalar(select(Unit).where(func.upper(Unit.code) == code.upper()))
            created = unit is None
            if unit is None:
                unit = Unit(code=code, path="/")
                session.add(unit)
            if parent is not None and unit.id is not None and f"/{unit.id}/" in parent.path:
                raise UserError("Đơn vị cấp trên không thể là chính nó hoặc đơn vị con của nó.")
            unit.name = " ".join(name.split())
            unit.name_key = normalize_name(name)
            unit.kind = kind
            unit.parent_id = parent.id if parent else None
            session.flush()
            old_path = unit.path
            unit.path = f"{parent.path if parent else '/'}{unit.id}/"
            unit.depth = unit.path.count("/") - 2
            if not created and old_path != unit.path and old_path != "/":
                for child in session.scalars(
                    select(Unit).where(Unit.path.like(f"{old_path}%"), Unit.id != unit.id)
                ):
                    child.path = unit.path + child.path[len(old_path) :]
                    child.depth = child.path.count("/") - 2
            audit(session, actor, "create" if created else "update", "unit", code, name=name)
            return unit

    def add_manager(self, actor: Actor | str, staff_code: str, unit_ref: str) -> None:
        staff = self.staff_by_code(staff_code)
        unit = self.unit_by_ref(unit_ref)
        with self.db.session() as session:
            if session.get(UnitManager, (staff.id, unit.id)) is None:
                session.add(UnitManager(staff_id=staff.id, unit_id=unit.id))
                audit(session, actor, "add_manager", "unit", unit.code, staff=staff.code)

    def remove_manager(self, actor: Actor | str, staff_code: str, unit_ref: str) -> None:
        staff = self.staff_by_code(staff_code)
        unit = self.unit_by_ref(unit_ref)
        with self.db.session() as session:
            session.execute(
                delete(UnitManager).where(
                    UnitManager.staff_id == staff.id, UnitManager.unit_id == unit.id
                )
            )
            audit(session, actor, "remove_manager", "unit", unit.code, staff=staff.code)

    # -- permissions ---------------------------------------------------------------
    def visible_paths(self, actor: Actor) -> list[str] | None:
        """Path prefixes of the units ``actor`` may see; None means everything."""
        if actor.is_admin:
            return None
        if not actor.managed_unit_ids:
            return []
        with self.db.session() as session:
            return list(
                session.scalars(select(Unit.path).where(Unit.id.in_(actor.managed_unit_ids)))
            )

    def can_see_unit(self, actor: Actor, unit: Unit) -> bool:
        paths = self.visible_paths(actor)
        return paths is None or any(unit.path.startswith(p) for p in paths)

    def require_unit(self, actor: Actor, unit_id: int) -> Unit:
        with self.db.session() as session:
            unit = session.get(Unit, unit_id)
        if unit is None or not self.can_see_unit(actor, unit):
            raise PermissionDenied("Bạn chỉ xem và duyệt được dữ liệu của đơn vị mình quản lý.")
        return unit

    def default_units(self, actor: Actor) -> list[Unit]:
        """The units a manager's statistics start from (admins: the top units)."""
        if actor.is_admin:
            return self.root_units()
        with self.db.session() as session:
            units = list(
                session.scalars(select(Unit).where(Unit.id.in_(actor.managed_unit_ids))).all()
            )
        # A manager of a hospital and one of its wards sees the hospital only.
        return [
            u for u in units if not any(o.id != u.id and u.path.startswith(o.path) for o in units)
        ]

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
                raise UserError(f"Không có khóa học mã “{code}”.")
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
        if len(name) < 3 or len(name) > 300:
            raise UserError("Tên khóa học cần từ 3 đến 300 ký tự.")
        code = "TD-" + hashlib.sha1(normalize_name(name).encode()).hexdigest()[:8].upper()
        return self.add_course(actor, code, name, in_catalogue=False)

    # -- completions ---------------------------------------------------------------
    def log_completion(
        self, actor: Actor | str, staff_id: int, data: CompletionInput
    ) -> tuple[Completion, bool]:
        """Record or update (staff, course): returns the row and whether it is new."""
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
                    .order_by(Completion.completed_on.desc())
                ).unique()
            )

    def pending(self, actor: Actor, *, limit: int = 10) -> tuple[list[Completion], int]:
        """Reported completions in the actor's units, oldest first, and their total."""
        paths = self.visible_paths(actor)
        with self.db.session() as session:
            query = (
                select(Completion)
                .join(Staff, Staff.id == Completion.staff_id)
                .join(Unit, Unit.id == Staff.unit_id)
                .where(Completion.status == REPORTED, Staff.active.is_(True))
            )
            if paths is not None:
                if not paths:
                    return [], 0
                query = query.where(or_(*(Unit.path.like(f"{p}%") for p in paths)))
            total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
            rows = session.scalars(
                query.order_by(Completion.created_at, Completion.id).limit(limit)
            ).unique()
            return list(rows), total

    def _completion_for(
        self, session: Session, actor: Actor | str, completion_id: int
    ) -> Completion:
        row = session.get(Completion, completion_id)
        if row is None:
            raise UserError(f"Không có bản ghi hoàn thành số {completion_id}.")
        if isinstance(actor, Actor):
            unit = session.get(Unit, row.staff.unit_id)
            if unit is None or not self.can_see_unit(actor, unit):
                raise PermissionDenied("Bạn chỉ duyệt được nhân viên thuộc đơn vị mình quản lý.")
            if actor.staff_id == row.staff_id and not actor.is_admin:
                raise PermissionDenied("Bạn không thể tự duyệt kết quả của chính mình.")
        return row

    def verify(self, actor: Actor | str, completion_id: int) -> Completion:
        with self.db.session() as session:
            row = self._completion_for(session, actor, completion_id)
            row.status = VERIFIED
            row.reject_reason = None
            row.verified_by = actor_label(actor)
            row.verified_at = utcnow()
            session.flush()
            refresh_progress(session, [row.staff_id])
            audit(session, actor, "verify", "completion", row.id, staff=row.staff.code)
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
        with self.db.session() as session:
            row = self._completion_for(session, actor, completion_id)
            row.status = REJECTED
            row.reject_reason = reason[:500]
            row.verified_by = actor_label(actor)
            row.verified_at = utcnow()
            audit(
                session, actor, "reject", "completion", row.id, staff=row.staff.code, reason=reason
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

    # -- targets ---------------------------------------------------------------
    def target_for(self, day: date) -> Target | None:
        """The target of ``day``'s year, or the latest earlier one."""
        with self.db.session() as session:
            return session.scalar(
                select(Target).where(Target.year <= day.year).order_by(Target.year.desc()).limit(1)
            )

    def set_target(
        self, actor: Actor | str, year: int, rate: float, deadline: date, source: str | None
    ) -> Target:
        if not 0 < rate <= 1:
            raise UserError("Chỉ tiêu phải trong khoảng 1–100%.")
        with self.db.session() as session:
            target = session.get(Target, year)
            if target is None:
                target = Target(year=year)
                session.add(target)
            target.rate, target.deadline, target.source = rate, deadline, source
            audit(session, actor, "set", "target", year, rate=rate, deadline=deadline)
            return target


def _aware(value: datetime) -> datetime:
    """SQLite returns naive datetimes for timezone-aware columns: treat them as UTC."""
    from datetime import UTC

    return value if value.tzinfo else value.replace(tzinfo=UTC)
