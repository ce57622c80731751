"""Who is talking, and how a messenger account gets linked to the roster.

Two ways in: a phone number the messenger verified as the sender's own, or a
one-time code a manager issues (``/lienket <mã NV> <mã liên kết>``). Codes are
six digits, so guessing is bounded in the database: after
:data:`MAX_FAILURES` wrong attempts on a staff code, or from one messenger
account, linking is locked for that code or account until an administrator
lifts the lock (``hocvuso staff unlock``). Every failure is audited.

Manager records are linked only with a code an administrator issued: a
manager's code handed over (or guessed) would otherwise grant whoever types it
the statistics and verification of the manager's units. Managers can still
link by the phone number on the roster, which the messenger verifies.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, func, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from bot.core.actor import ADMIN, GUEST, MANAGER, STAFF, Actor
from bot.db import utcnow
from bot.errors import PermissionDenied, UserError
from bot.tracking.audit import actor_label, audit
from bot.tracking.models import Identity, LinkCode, LinkGuard, Staff, UnitManager
from bot.tracking.normalize import normalize_phone
from bot.tracking.units import UnitDirectory

log = logging.getLogger(__name__)

LINK_CODE_TTL = timedelta(days=3)
MAX_FAILURES = 5
# Failures older than this no longer count towards a lock (a lock stays until lifted).
FAILURE_WINDOW = timedelta(days=1)

WRONG_CODE = (
    "Mã nhân viên hoặc mã liên kết không đúng, hoặc mã đã hết hạn. "
    "Hãy kiểm tra lại hoặc xin người quản lý mã mới."
)
LOCKED = (
    "Liên kết bằng mã đã bị tạm khóa vì nhập sai quá {n} lần. "
    "Hãy nhờ quản trị viên mở khóa, hoặc liên kết bằng số điện thoại."
)


def hash_code(code: str, salt: str) -> str:
    return hashlib.sha256((salt + code.strip()).encode()).hexdigest()


def _aware(value: datetime) -> datetime:
    """SQLite returns naive datetimes for timezone-aware columns: treat them as UTC."""
    from datetime import UTC

    return value if value.tzinfo else value.replace(tzinfo=UTC)


@dataclass(frozen=True)
class LinkLock:
    """A locked staff code or messenger account, for the admin's list."""

    kind: str  # "staff" or "account"
    key: str
    failures: int
    locked_at: datetime


class IdentityRegistry(UnitDirectory):
    """The :class:`~bot.core.actor.IdentityProvider` of the roster, and linking."""

    # -- who is this -------------------------------------------------------------
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

    # -- linking -----------------------------------------------------------------
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

    def is_manager_record(self, staff_id: int) -> bool:
        with self.db.session() as session:
            return (
                session.scalar(select(UnitManager.unit_id).where(UnitManager.staff_id == staff_id))
                is not None
            )

    def issue_link_code(self, actor: Actor | str, staff_code: str) -> str:
        """A 6-digit one-time code for ``staff_code``, valid three days.

        Earlier codes of the same person stop working. Only administrators (and
        the operator's command line) issue codes for managers.
        """
        staff = self.visible_staff(actor, staff_code)
        by_admin = not isinstance(actor, Actor) or actor.is_admin
        if not by_admin and self.is_manager_record(staff.id):
            raise PermissionDenied(
                f"{staff.full_name} ({staff.code}) là người quản lý đơn vị: chỉ quản trị viên "
                "mới cấp được mã liên kết cho người quản lý."
            )
        code = f"{secrets.randbelow(1_000_000):06d}"
        salt = secrets.token_hex(16)
        now = utcnow()
        with self.db.session() as session:
            session.execute(
                update(LinkCode)
                .where(
                    LinkCode.staff_id == staff.id,
                    LinkCode.used_at.is_(None),
                    LinkCode.revoked_at.is_(None),
                )
                .values(revoked_at=now)
            )
            session.add(
                LinkCode(
                    staff_id=staff.id,
                    code_hash=hash_code(code, salt),
                    salt=salt,
                    issued_by=actor_label(actor)[:120],
                    by_admin=by_admin,
                    expires_at=now + LINK_CODE_TTL,
                )
            )
            audit(session, actor, "issue_link_code", "staff", staff.code)
        return code

    def link_by_code(
        self, channel: str, user_id: str, chat_id: str | None, staff_code: str, code: str
    ) -> Staff:
        """Link with a one-time code; wrong attempts count towards a lock."""
        account = f"{channel}:{user_id}"[:120]
        staff_key = staff_code.strip().upper()[:120]
        now = utcnow()
        with self.db.session() as session:
            if self._locked(session, account, staff_key):
                raise UserError(LOCKED.format(n=MAX_FAILURES))
            staff = session.scalar(select(Staff).where(func.upper(Staff.code) == staff_key))
            row = None
            reason = "unknown staff code"
            if staff is not None and staff.active:
                reason = "wrong or expired code"
                for candidate in session.scalars(
                    select(LinkCode).where(
                        LinkCode.staff_id == staff.id,
                        LinkCode.used_at.is_(None),
                        LinkCode.revoked_at.is_(None),
                    )
                ):
                    if hmac.compare_digest(
                        candidate.code_hash, hash_code(code, candidate.salt)
                    ) and (_aware(candidate.expires_at) >= now):
                        row = candidate
                        break
            manager_refused = (
                row is not None
                and staff is not None
                and not row.by_admin
                and self._manages(session, staff.id)
            )
            if row is not None and staff is not None and not manager_refused:
                row.used_at = now
                self._clear(session, account, staff_key)
                staff_id = staff.id
            else:
                staff_id = None
        if staff_id is None:
            why = "manager code not issued by an admin" if manager_refused else reason
            self._record_failure(account, staff_key, why)
            raise UserError(WRONG_CODE)
        assert staff is not None
        self.link(staff, channel, user_id, chat_id, "code")
        return staff

    # -- attempt counters and locks ------------------------------------------------
    @staticmethod
    def _manages(session: Session, staff_id: int) -> bool:
        return (
            session.scalar(select(UnitManager.unit_id).where(UnitManager.staff_id == staff_id))
            is not None
        )

    @staticmethod
    def _locked(session: Session, account: str, staff_key: str) -> bool:
        found = session.scalar(
            select(LinkGuard.id).where(
                LinkGuard.locked_at.is_not(None),
                or_(
                    (LinkGuard.kind == "account") & (LinkGuard.key == account),
                    (LinkGuard.kind == "staff") & (LinkGuard.key == staff_key),
                ),
            )
        )
        return found is not None

    @staticmethod
    def _clear(session: Session, account: str, staff_key: str) -> None:
        session.execute(
            delete(LinkGuard).where(
                or_(
                    (LinkGuard.kind == "account") & (LinkGuard.key == account),
                    (LinkGuard.kind == "staff") & (LinkGuard.key == staff_key),
                )
            )
        )

    def _record_failure(self, account: str, staff_key: str, reason: str) -> None:
        """Count a wrong attempt (its own transaction: the attempt itself fails).

        Two workers counting the first failure of the same key at once collide
        on the unique (kind, key): the loser retries and finds the row.
        """
        for attempt in range(2):
            try:
                self._count_failure(account, staff_key, reason)
                return
            except IntegrityError:
                if attempt:
                    raise

    def _count_failure(self, account: str, staff_key: str, reason: str) -> None:
        now = utcnow()
        with self.db.session() as session:
            for kind, key in (("account", account), ("staff", staff_key)):
                guard = session.scalar(
                    select(LinkGuard)
                    .where(LinkGuard.kind == kind, LinkGuard.key == key)
                    .with_for_update()
                )
                if guard is None:
                    guard = LinkGuard(kind=kind, key=key, failures=0)
                    session.add(guard)
                elif (
                    guard.last_failure_at is not None
                    and guard.locked_at is None
                    and now - _aware(guard.last_failure_at) > FAILURE_WINDOW
                ):
                    guard.failures = 0
                guard.failures += 1
                guard.last_failure_at = now
                if guard.failures >= MAX_FAILURES and guard.locked_at is None:
                    guard.locked_at = now
                    log.warning(
                        "linking locked for %s %s after %d failures", kind, key, MAX_FAILURES
                    )
            audit(session, account, "link_failed", "staff", staff_key, reason=reason)

    def link_locks(self) -> list[LinkLock]:
        """Locked staff codes and accounts, oldest first."""
        with self.db.session() as session:
            rows = session.scalars(
                select(LinkGuard).where(LinkGuard.locked_at.is_not(None)).order_by(LinkGuard.id)
            ).all()
            return [
                LinkLock(g.kind, g.key, g.failures, _aware(g.locked_at))
                for g in rows
                if g.locked_at
            ]

    def unlock(self, actor: Actor | str, key: str) -> int:
        """Lift the lock on a staff code or a ``channel:user_id`` account; how many lifted."""
        key = key.strip()
        with self.db.session() as session:
            result = session.execute(
                delete(LinkGuard).where(
                    or_(
                        (LinkGuard.kind == "staff") & (LinkGuard.key == key.upper()),
                        (LinkGuard.kind == "account") & (LinkGuard.key == key),
                    )
                )
            )
            lifted = int(getattr(result, "rowcount", 0) or 0)
            if lifted:
                audit(session, actor, "unlock", "link", key)
            return lifted
