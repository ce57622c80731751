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


LINK_SYNTAX = (
    "/lienket <mã nhân viên> <mã liên kết>, ví dụ /lienket NV001 123456 "
    "(mã liên kết do người quản lý đơn vị cấp bằng lệnh /taomalienket)"
)


def link_prompt(ctx: Context) -> list[Reply]:
    """How to link, written for what this chat can do: the phone-sharing button is
    offered only where it exists; everywhere the /lienket syntax is given in full."""
    head = "Để ghi nhận khóa học và xem tiến độ, hãy liên kết tài khoản với danh sách nhân viên: "
    if ctx.msg.capabilities.share_contact:
        return [
            Reply(
                f"{head}bấm nút chia sẻ số điện thoại bên dưới, hoặc gõ {LINK_SYNTAX}.",
                request_contact=True,
            )
        ]
    return [Reply(f"{head}gõ {LINK_SYNTAX}.")]
