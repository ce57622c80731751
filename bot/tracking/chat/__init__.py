"""Tracking in the conversation engine.

- :mod:`.forms`: the completion form and the rejection reason (multi-step);
- :mod:`.staff`: linking, one's own progress, the course catalogue;
- :mod:`.manager`: statistics, not-done list, Excel report, verification;
- :mod:`.uploads`: rosters and unit lists sent by administrators.

Everything here speaks :class:`~bot.core.messages.Reply`; the same form runs
on Telegram (buttons), Zalo and the console (numbered choices).
"""

from __future__ import annotations

from bot.core.actor import STAFF
from bot.core.registry import Command, Registry
from bot.core.services import Services
from bot.core.uploads import UploadKind
from bot.tracking.chat import manager, staff
from bot.tracking.chat.common import MANAGERS, link_prompt
from bot.tracking.chat.forms import COMPLETION_FORM, REJECT_FORM
from bot.tracking.chat.uploads import roster_upload
from bot.tracking.evidence import EVIDENCE_SUFFIXES
from bot.tracking.reminders import TrackingNotifications
from bot.tracking.tabular import SUFFIXES as TABLE_SUFFIXES


def register(registry: Registry, services: Services) -> None:
    """Tracking's part of the chat: identity, forms, commands, files, reminders."""
    registry.provide_identity(services.tracking)
    registry.add_notifications(
        TrackingNotifications(services.tracking, services.stats, services.settings)
    )
    registry.on_start(staff.link_hint)
    registry.on_need_link(link_prompt)
    registry.add_flow(COMPLETION_FORM)
    registry.add_flow(REJECT_FORM)
    staff_only = frozenset({STAFF})
    for command in (
        Command(
            "ghinhan",
            "Khai báo khóa học đã hoàn thành",
            COMPLETION_FORM.start,
            aliases=("log", "hoanthanh"),
            phrases=("ghi nhận hoàn thành", "khai báo hoàn thành", "ghi nhận khóa học"),
            roles=staff_only,
        ),
        Command(
            "tiendo",
            "Tiến độ của tôi",
            staff.progress,
            aliases=("progress",),
            phrases=("tiến độ của tôi", "tiến độ"),
            roles=staff_only,
        ),
        Command(
            "khoahoc",
            "Danh mục khóa học",
            staff.courses,
            aliases=("courses",),
            phrases=("danh mục khóa học",),
        ),
        Command(
            "lienket",
            "Liên kết tài khoản: /lienket <mã NV> <mã liên kết>",
            staff.link,
            aliases=("link",),
        ),
        Command(
            "taomalienket",
            "Cấp mã liên kết cho nhân viên (quản lý)",
            manager.issue_code,
            aliases=("linkcode",),
            roles=MANAGERS,
        ),
        Command(
            "thongke",
            "Thống kê đơn vị, kèm biểu đồ (quản lý)",
            manager.stats,
            aliases=("stats",),
            phrases=("thống kê",),
            roles=MANAGERS,
        ),
        Command(
            "chuahoanthanh",
            "Danh sách chưa đạt (quản lý)",
            manager.missing,
            aliases=("missing",),
            phrases=("chưa hoàn thành", "ai chưa hoàn thành"),
            roles=MANAGERS,
        ),
        Command(
            "baocao",
            "Báo cáo Excel (quản lý)",
            manager.report,
            aliases=("report",),
            phrases=("báo cáo excel",),
            roles=MANAGERS,
            heavy=True,
        ),
        Command(
            "duyet",
            "Duyệt khai báo hoàn thành (quản lý)",
            manager.pending,
            aliases=("verify",),
            phrases=("duyệt",),
            roles=MANAGERS,
        ),
    ):
        registry.add_command(command)
    registry.on_payload("vr", manager.verdict)
    registry.on_contact(staff.on_contact)
    registry.accept_uploads(
        UploadKind("roster", "danh sách nhân viên/đơn vị", TABLE_SUFFIXES, roster_upload)
    )
    registry.accept_uploads(UploadKind("certificate", "giấy chứng nhận", EVIDENCE_SUFFIXES))
