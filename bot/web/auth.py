"""Who may open the web console, and for how long.

- A one-time link is issued to a manager or admin from the chat (``/web``) or
  by the operator (``hocvuso web link``). It is valid :data:`LINK_TTL`; its
  secret is stored only as a SHA-256.
- Opening the link shows a sign-in button; pressing it (a POST) redeems the
  link, so the link previews messengers fetch do not use it up.
- A session is a random cookie secret (stored hashed) bound to the chat
  identity that asked for the link: every request resolves that identity's
  role and units afresh, so the console always has the chat's scope, and a
  manager who loses a unit loses it here too.
- Sessions end after :data:`SESSION_IDLE` without use, after
  :data:`SESSION_MAX` in any case, or at logout. Each carries its own CSRF
  token, which every form posts back.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from sqlalchemy import delete, or_, select

from bot.core.actor import ADMIN, Actor
from bot.db import Database, utcnow
from bot.errors import PermissionDenied, UserError
from bot.web.models import WebLoginLink, WebSession

LINK_TTL = timedelta(minutes=10)
SESSION_IDLE = timedelta(hours=2)
SESSION_MAX = timedelta(hours=12)
COOKIE = "hocvuso_phien"

NOT_FOR_STAFF = (
    "Bảng điều khiển web chỉ dành cho người quản lý đơn vị và quản trị viên. "
    "Bạn vẫn có thể hỏi đáp và khai báo khóa học trong khung chat."
)
LINK_USED = (
    "Liên kết đăng nhập này đã được dùng. Mỗi liên kết chỉ dùng được một lần: "
    "gõ /web trong khung chat để nhận liên kết mới."
)
LINK_EXPIRED = (
    "Liên kết đăng nhập này đã hết hạn (liên kết chỉ có hiệu lực 10 phút). "
    "Gõ /web trong khung chat để nhận liên kết mới."
)
LINK_UNKNOWN = (
    "Liên kết đăng nhập không hợp lệ. Hãy mở đúng liên kết được gửi, "
    "hoặc gõ /web trong khung chat để nhận liên kết mới."
)

Clock = Callable[[], datetime]


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def _aware(value: datetime) -> datetime:
    """SQLite returns naive datetimes for timezone-aware columns: they are UTC."""
    from datetime import UTC

    return value if value.tzinfo else value.replace(tzinfo=UTC)


class LinkError(UserError):
    """A link that cannot be used; ``state`` is "used", "expired" or "unknown"."""

    def __init__(self, state: str) -> None:
        message = {"used": LINK_USED, "expired": LINK_EXPIRED}.get(state, LINK_UNKNOWN)
        super().__init__(message, detail=f"sign-in link {state}")
        self.state = state


@dataclass(frozen=True)
class Visit:
    """A recognised session: who (chat identity) and the CSRF token of its forms."""

    channel: str
    user_id: str
    admin_grant: bool
    csrf: str
    token_hash: str


def console_actor(actor: Actor, admin_grant: bool) -> Actor:
    """The actor as the console sees it: the operator's link may add the admin role."""
    if admin_grant and not actor.is_admin:
        return replace(actor, roles=actor.roles | {ADMIN})
    return actor


def may_open_console(actor: Actor) -> bool:
    """Managers (of at least one unit) and admins; never plain staff or guests."""
    return actor.is_admin or bool(actor.is_manager and actor.managed_unit_ids)


class WebAuth:
    """Links and sessions in the database (any web worker can serve any request)."""

    def __init__(self, db: Database, clock: Clock = utcnow) -> None:
        self.db = db
        self.clock = clock

    # -- links ------------------------------------------------------------------------
    def issue_link(
        self,
        actor: Actor,
        *,
        admin_grant: bool = False,
        issued_by: str | None = None,
    ) -> str:
        """A new one-time secret for ``actor``'s chat identity (refused to staff)."""
        if not (admin_grant or may_open_console(actor)):
            raise PermissionDenied(NOT_FOR_STAFF)
        secret = secrets.token_urlsafe(32)
        now = self.clock()
        with self.db.session() as s:
            # Housekeeping: links that can no longer be used are of no interest.
            s.execute(
                delete(WebLoginLink).where(WebLoginLink.expires_at < now - LINK_TTL),
                execution_options={"synchronize_session": False},
            )
            s.add(
                WebLoginLink(
                    token_hash=_digest(secret),
                    channel=actor.channel,
                    user_id=actor.user_id,
                    admin_grant=admin_grant,
                    issued_by=issued_by or f"{actor.channel}:{actor.user_id}",
                    created_at=now,
                    expires_at=now + LINK_TTL,
                )
            )
        return secret

    def link_state(self, secret: str) -> str:
        """ "ok", "used", "expired" or "unknown", without using the link up."""
        with self.db.session() as s:
            row = s.scalar(select(WebLoginLink).where(WebLoginLink.token_hash == _digest(secret)))
            return self._state(row)

    def _state(self, row: WebLoginLink | None) -> str:
        if row is None:
            return "unknown"
        if row.used_at is not None:
            return "used"
        if _aware(row.expires_at) <= self.clock():
            return "expired"
        return "ok"

    def redeem(self, secret: str) -> tuple[str, WebLoginLink]:
        """Use the link up and open a session; returns the cookie secret and the link."""
        now = self.clock()
        with self.db.session() as s:
            row = s.scalar(
                select(WebLoginLink)
                .where(WebLoginLink.token_hash == _digest(secret))
                .with_for_update()
            )
            state = self._state(row)
            if row is None or state != "ok":
                raise LinkError(state)
            row.used_at = now
            cookie = secrets.token_urlsafe(32)
            s.add(
                WebSession(
                    token_hash=_digest(cookie),
                    channel=row.channel,
                    user_id=row.user_id,
                    admin_grant=row.admin_grant,
                    csrf=secrets.token_urlsafe(32),
                    created_at=now,
                    last_seen=now,
                    expires_at=now + SESSION_MAX,
                )
            )
            s.flush()
            s.expunge(row)
            return cookie, row

    # -- sessions ------------------------------------------------------------------------
    def visit(self, cookie: str | None) -> Visit | None:
        """The live session behind a cookie (its idle clock restarted), or None."""
        if not cookie:
            return None
        now = self.clock()
        with self.db.session() as s:
            row = s.get(WebSession, _digest(cookie))
            if row is None or row.ended_at is not None:
                return None
            if _aware(row.expires_at) <= now or _aware(row.last_seen) + SESSION_IDLE <= now:
                row.ended_at = now
                return None
            # Writing last_seen on every request costs a commit; once a minute is enough.
            if now - _aware(row.last_seen) > timedelta(minutes=1):
                row.last_seen = now
            return Visit(row.channel, row.user_id, row.admin_grant, row.csrf, row.token_hash)

    def end(self, cookie: str | None) -> None:
        """Logout: the session stops working at once, on every worker."""
        if not cookie:
            return
        now = self.clock()
        with self.db.session() as s:
            row = s.get(WebSession, _digest(cookie))
            if row is not None and row.ended_at is None:
                row.ended_at = now
            s.execute(
                delete(WebSession).where(
                    or_(
                        WebSession.expires_at < now - SESSION_MAX,
                        WebSession.ended_at < now - SESSION_MAX,
                    )
                ),
                execution_options={"synchronize_session": False},
            )


def csrf_ok(visit: Visit, sent: str | None) -> bool:
    return bool(sent) and hmac.compare_digest(visit.csrf, sent or "")
