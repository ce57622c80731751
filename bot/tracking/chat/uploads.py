"""Rosters and unit lists an administrator sends in the chat."""

from __future__ import annotations

from pathlib import Path

from bot.core.messages import Reply
from bot.core.registry import Context
from bot.errors import UserError
from bot.tracking.roster import import_staff, import_units
from bot.tracking.tabular import SUFFIXES as TABLE_SUFFIXES


def roster_upload(ctx: Context) -> list[Reply] | None:
    att = ctx.msg.attachment
    if att is None or Path(att.filename).suffix.lower() not in TABLE_SUFFIXES:
        return None
    if not ctx.actor.is_admin:
        return [Reply("Chỉ quản trị viên mới nhập được danh sách nhân viên hoặc đơn vị.")]
    tracking = ctx.services.tracking
    try:
        report = import_staff(tracking, att.path, ctx.actor)
        kind = "nhân viên"
    except UserError as staff_error:
        try:
            report = import_units(tracking, att.path, ctx.actor)
            kind = "đơn vị"
        except UserError:
            raise staff_error from None
    return [Reply(f"Tệp “{att.filename}” ({kind}):\n{report.summary_vi(for_chat=True)}")]
