"""What the tracking chat handlers share: the local date, roles, the link prompt."""

from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

from bot.core.actor import ADMIN, MANAGER
from bot.core.messages import Reply
from bot.core.registry import Context

MANAGERS = frozenset({MANAGER, ADMIN})


def today(ctx: Context) -> date:
    """Today where the assistant runs (``HOCVUSO_TIMEZONE``), not on the server."""
    return datetime.now(ZoneInfo(ctx.services.settings.timezone)).date()


def link_prompt(ctx: Context) -> list[Reply]:
    return [
        Reply(
            "Để ghi nhận khóa học và xem tiến độ, hãy liên kết tài khoản với danh sách nhân "
            "viên: bấm nút chia sẻ số điện thoại bên dưới, hoặc gõ "
            "/lienket <mã nhân viên> <mã liên kết> (mã liên kết do người quản lý cấp).",
            request_contact=True,
        )
    ]
