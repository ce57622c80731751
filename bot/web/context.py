"""What every console page shares: the services, who is asking, and rendering.

:func:`page` wraps each endpoint: it recognises the session, resolves the chat
identity to an actor (the same role and units as in chat), refuses staff,
checks the CSRF token of every POST, and turns errors into Vietnamese pages
(another unit's page is a 404, exactly like a page that does not exist).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.templating import Jinja2Templates

from bot.core.actor import Actor
from bot.core.engine import Engine
from bot.core.services import Services
from bot.errors import PermissionDenied, UserError
from bot.web.auth import (
    COOKIE,
    NOT_FOR_STAFF,
    Clock,
    Visit,
    WebAuth,
    console_actor,
    csrf_ok,
    may_open_console,
)
from bot.web.jobs import IngestJobs

log = logging.getLogger(__name__)

T = TypeVar("T")
TEMPLATES = Path(__file__).parent / "templates"
MAX_FORM_MB = 2
MAX_UPLOAD_FILES = 20

SIGNED_OUT = (
    "Bạn chưa đăng nhập hoặc phiên làm việc đã hết hạn. Gõ /web trong khung chat "
    "(Telegram, Zalo hoặc bảng điều khiển) để nhận liên kết đăng nhập mới."
)
BAD_CSRF = (
    "Biểu mẫu đã hết hiệu lực hoặc không được gửi từ bảng điều khiển. "
    "Hãy tải lại trang rồi thử lại; chưa có gì thay đổi."
)
APOLOGY = "Xin lỗi, hệ thống vừa gặp sự cố. Vui lòng thử lại sau ít phút."


class WebContext:
    """Long-lived objects of one web process."""

    def __init__(self, engine: Engine, clock: Clock | None = None) -> None:
        self.engine = engine
        self.services: Services = engine.services
        self.settings = self.services.settings
        self.auth = WebAuth(self.services.db, clock) if clock else WebAuth(self.services.db)
        self.jobs = IngestJobs(self.services)
        self.templates = Jinja2Templates(directory=str(TEMPLATES))
        self.templates.env.globals["vi_number"] = vi_number
        zone = ZoneInfo(self.settings.timezone)
        self.templates.env.filters["vi_day"] = lambda value: vi_day(value, zone)
        self.secure_cookies = self.settings.web_url.startswith("https://")

    def today(self) -> date:
        return datetime.now(ZoneInfo(self.settings.timezone)).date()

    def actor(self, visit: Visit) -> Actor:
        return console_actor(self.engine.actor(visit.channel, visit.user_id), visit.admin_grant)

    def same_origin(self, request: Request) -> bool:
        """A POST's Origin, when the browser names one, must be the console itself.

        Browsers send "null" under some privacy settings: the session's CSRF
        token is then the whole check (it is the main one anyway).
        """
        origin = request.headers.get("origin")
        if not origin or origin == "null":
            return True
        allowed = {urlsplit(self.settings.web_url).netloc, request.headers.get("host", "")}
        return urlsplit(origin).netloc in allowed


def vi_number(value: float | int) -> str:
    """1234567 -> "1.234.567"; 12.5 -> "12,5" (Vietnamese separators)."""
    if isinstance(value, float) and not value.is_integer():
        return f"{value:,.1f}".replace(",", "X").replace(".", ",").replace("X", ".")
    return f"{int(value):,}".replace(",", ".")


def vi_day(value: date | datetime | None, zone: ZoneInfo) -> str:
    """dd/mm/yyyy, with the local time (HOCVUSO_TIMEZONE) for moments."""
    if value is None:
        return "—"
    if isinstance(value, datetime):
        aware = value if value.tzinfo else value.replace(tzinfo=UTC)
        return aware.astimezone(zone).strftime("%d/%m/%Y %H:%M")
    return value.strftime("%d/%m/%Y")


@dataclass
class Visitor:
    """The signed-in person for one request."""

    actor: Actor
    visit: Visit

    @property
    def csrf(self) -> str:
        return self.visit.csrf

    @property
    def label(self) -> str:
        if self.actor.name:
            return self.actor.name
        return "Quản trị viên" if self.actor.is_admin else self.actor.user_id


def web(request: Request) -> WebContext:
    ctx: WebContext = request.app.state.web
    return ctx


async def blocking(fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """Run a service call (SQL, embeddings) off the event loop."""
    return await run_in_threadpool(fn, *args, **kwargs)


def render(
    request: Request,
    template: str,
    visitor: Visitor | None = None,
    status: int = 200,
    **context: Any,
) -> Response:
    ctx = web(request)
    context.update(request=request, visitor=visitor, path=request.url.path)
    return ctx.templates.TemplateResponse(request, template, context, status_code=status)


def message(request: Request, text: str, status: int, visitor: Visitor | None = None) -> Response:
    titles = {
        400: "Chưa thực hiện được",
        401: "Cần đăng nhập",
        403: "Không có quyền",
        404: "Không tìm thấy",
    }
    return render(
        request,
        "message.html",
        visitor,
        status=status,
        title=titles.get(status, "Có lỗi"),
        text=text,
    )


Endpoint = Callable[[Request], Awaitable[Response]]
Handler = Callable[[Request, Visitor], Awaitable[Response]]


def page(*, admin: bool = False) -> Callable[[Handler], Endpoint]:
    """Wrap a console endpoint with sign-in, role, CSRF and error handling."""

    def wrap(handler: Handler) -> Endpoint:
        async def endpoint(request: Request) -> Response:
            ctx = web(request)
            visit = await blocking(ctx.auth.visit, request.cookies.get(COOKIE))
            if visit is None:
                return message(request, SIGNED_OUT, 401)
            actor = await blocking(ctx.actor, visit)
            visitor = Visitor(actor, visit)
            if not may_open_console(actor):
                return message(request, NOT_FOR_STAFF, 403)
            if admin and not actor.is_admin:
                return message(request, "Trang này chỉ dành cho quản trị viên.", 404, visitor)
            try:
                if request.method == "POST":
                    limit = (ctx.settings.max_upload_mb * MAX_UPLOAD_FILES + MAX_FORM_MB) << 20
                    if int_param(request.headers.get("content-length")) > limit:
                        raise UserError("Dữ liệu gửi lên quá lớn.")
                    form = await request.form(max_part_size=MAX_FORM_MB * 1024 * 1024)
                    sent = form.get("csrf")
                    origin_ok = ctx.same_origin(request)
                    token_ok = csrf_ok(visit, sent if isinstance(sent, str) else None)
                    if not (origin_ok and token_ok):
                        log.warning(
                            "CSRF check failed for %s:%s (origin %s %s, token %s)",
                            visit.channel,
                            visit.user_id,
                            request.headers.get("origin"),
                            "ok" if origin_ok else "refused",
                            "ok" if token_ok else "wrong or missing",
                        )
                        return message(request, BAD_CSRF, 403, visitor)
                return await handler(request, visitor)
            except PermissionDenied as exc:
                log.info("not found/denied for %s: %s", actor.user_id, exc)
                return message(
                    request,
                    "Không tìm thấy trang này, hoặc trang thuộc đơn vị bạn không quản lý.",
                    404,
                    visitor,
                )
            except UserError as exc:
                return message(request, exc.message, 400, visitor)
            except Exception:
                log.exception("console page %s failed", request.url.path)
                return message(request, APOLOGY, 500, visitor)

        endpoint.__name__ = handler.__name__
        endpoint.__doc__ = handler.__doc__
        return endpoint

    return wrap


def form_text(form: Any, name: str, default: str = "") -> str:
    value = form.get(name)
    return value.strip() if isinstance(value, str) else default


def int_param(value: str | None, default: int = 0) -> int:
    try:
        return max(int(value or default), 0)
    except ValueError:
        return default
