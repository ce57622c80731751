"""What staff do in the chat: link their account, see their progress, the catalogue."""

from __future__ import annotations

from datetime import date

from bot.core.messages import Reply
from bot.core.registry import Context
from bot.tracking.chat.common import link_prompt, today
from bot.tracking.models import REJECTED, STATUS_VI, VERIFIED, Completion
from bot.tracking.normalize import vi_date
from bot.tracking.service import TrackingService
from bot.tracking.targets import rule_of


# -- linking ----------------------------------------------------------------------
def _linked_reply(name: str, code: str) -> list[Reply]:
    return [
        Reply(
            f"Đã liên kết tài khoản với nhân viên {name} ({code}). Gõ /ghinhan để khai báo "
            "khóa học đã hoàn thành, /tiendo để xem tiến độ của bạn."
        )
    ]


def on_contact(ctx: Context) -> list[Reply]:
    phone = ctx.msg.contact_phone or ""
    staff = ctx.services.tracking.link_by_phone(
        ctx.msg.channel, ctx.msg.user_id, ctx.msg.chat_id, phone
    )
    return _linked_reply(staff.full_name, staff.code)


def link(ctx: Context, args: str) -> list[Reply]:
    parts = args.split()
    if len(parts) != 2:
        return [
            Reply(
                "Cách dùng: /lienket <mã nhân viên> <mã liên kết>, ví dụ /lienket NV001 123456. "
                "Mã liên kết do người quản lý đơn vị cấp (lệnh /taomalienket)."
            )
        ]
    staff = ctx.services.tracking.link_by_code(
        ctx.msg.channel, ctx.msg.user_id, ctx.msg.chat_id, parts[0], parts[1]
    )
    return _linked_reply(staff.full_name, staff.code)


def link_hint(ctx: Context) -> list[Reply] | None:
    """The greeting tells people who are not linked yet how to link."""
    return None if ctx.actor.is_linked else link_prompt(ctx)


# -- progress ---------------------------------------------------------------------
def _qualifying(rows: list[Completion], rule: str) -> list[Completion]:
    counted = [r for r in rows if r.status != REJECTED]
    if rule == "vneid":
        return [r for r in counted if r.vneid_confirmed]
    if rule == "verified":
        return [r for r in counted if r.status == VERIFIED]
    return counted


def progress_lines(tracking: TrackingService, staff_id: int, day: date) -> list[str]:
    """A person's completions and where they stand against the year's target."""
    rows = tracking.my_completions(staff_id)
    lines: list[str] = []
    if not rows:
        lines.append("Bạn chưa khai báo khóa học nào. Gõ /ghinhan khi hoàn thành một khóa.")
    for row in rows:
        status = STATUS_VI.get(row.status, row.status)
        extra = f" — lý do: {row.reject_reason}" if row.reject_reason else ""
        vneid = "VNeID: có" if row.vneid_confirmed else "VNeID: chưa"
        lines.append(
            f"• {row.course.name} — {vi_date(row.completed_on)} — {vneid} — {status}{extra}"
        )
    target = tracking.target_for(day)
    if target is None:
        return lines
    rule = rule_of(target.rule)
    deadline = vi_date(target.deadline)
    qualifying = _qualifying(rows, target.rule)
    first = min((r.completed_on for r in qualifying), default=None)
    if first is not None and first <= target.deadline:
        state = "bạn đã đạt."
    elif first is not None:
        state = f"bạn đạt nhưng muộn (ngày {vi_date(first)}, sau hạn)."
    elif any(r.status != REJECTED for r in rows) and rule.lacking_vi:
        state = f"bạn chưa đạt: {rule.lacking_vi}."
    else:
        state = "bạn chưa đạt."
    lines.append(f"Yêu cầu: {rule.long_vi}, hạn {deadline} — {state}")
    if day > target.deadline:
        lines.append(f"Hạn {deadline} đã qua.")
    return lines


def progress(ctx: Context, _args: str) -> list[Reply]:
    if not ctx.actor.is_linked:
        return link_prompt(ctx)
    assert ctx.actor.staff_id is not None
    head = f"Tiến độ của {ctx.actor.name} ({ctx.actor.staff_code}):"
    lines = progress_lines(ctx.services.tracking, ctx.actor.staff_id, today(ctx))
    return [Reply("\n".join([head, *lines]))]


def courses(ctx: Context, _args: str) -> list[Reply]:
    found = ctx.services.tracking.courses()
    if not found:
        return [Reply("Danh mục khóa học đang trống.")]
    lines = ["Danh mục khóa học (gõ /ghinhan để khai báo khi hoàn thành):"]
    lines += [f"• {c.name} ({c.code})" for c in found]
    return [Reply("\n".join(lines))]
