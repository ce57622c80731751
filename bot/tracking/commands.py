"""Tracking in the conversation engine: linking, the completion form,
progress, statistics, reports and verification.

Everything here speaks :class:`Reply`; the same form runs on Telegram
(buttons), Zalo and the console (numbered choices).
"""

from __future__ import annotations

import shutil
import uuid
from datetime import date
from pathlib import Path

from bot.core.actor import ADMIN, MANAGER, STAFF
from bot.core.messages import Button, OutFile, Reply
from bot.core.registry import Command, Context, Flow, Registry
from bot.core.services import Services
from bot.core.uploads import UploadKind
from bot.errors import PermissionDenied, UserError
from bot.text import normalize_name
from bot.tracking.models import JOB_GROUPS, STATUS_VI
from bot.tracking.normalize import parse_day, vi_date, yes_no
from bot.tracking.reminders import TrackingNotifications
from bot.tracking.reports import build_chart, build_xlsx
from bot.tracking.roster import import_staff, import_units
from bot.tracking.service import CompletionInput
from bot.tracking.tabular import SUFFIXES as TABLE_SUFFIXES

EVIDENCE_SUFFIXES = frozenset({".jpg", ".jpeg", ".png", ".webp", ".pdf", ".heic"})
MANAGERS = frozenset({MANAGER, ADMIN})
CANCEL_WORDS = {"huy", "thoi", "cancel", "dung"}
MISSING_SHOWN = 30


def _today(ctx: Context) -> date:
    from datetime import datetime
    from zoneinfo import ZoneInfo

    return datetime.now(ZoneInfo(ctx.services.settings.timezone)).date()


# -- linking ----------------------------------------------------------------------
def link_prompt(ctx: Context) -> list[Reply]:
    return [
        Reply(
            "Để ghi nhận khóa học và xem tiến độ, hãy liên kết tài khoản với danh sách nhân "
            "viên: bấm nút chia sẻ số điện thoại bên dưới, hoặc gõ "
            "/lienket <mã nhân viên> <mã liên kết> (mã liên kết do người quản lý cấp).",
            request_contact=True,
        )
    ]


def _linked_reply(name: str, code: str) -> list[Reply]:
    return [
        Reply(
            f"Đã liên kết tài khoản với nhân viên {name} ({code}). Gõ /ghinhan để khai báo "
            "khóa học đã hoàn thành, /tiendo để xem tiến độ của bạn."
        )
    ]


def _on_contact(ctx: Context) -> list[Reply]:
    phone = ctx.msg.contact_phone or ""
    staff = ctx.services.tracking.link_by_phone(
        ctx.msg.channel, ctx.msg.user_id, ctx.msg.chat_id, phone
    )
    return _linked_reply(staff.full_name, staff.code)


def _link(ctx: Context, args: str) -> list[Reply]:
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


def _issue_code(ctx: Context, args: str) -> list[Reply]:
    code = args.strip()
    if not code:
        return [Reply("Cách dùng: /taomalienket <mã nhân viên>")]
    tracking = ctx.services.tracking
    staff = tracking.staff_by_code(code)
    secret = tracking.issue_link_code(ctx.actor, code)
    return [
        Reply(
            f"Mã liên kết cho {staff.full_name} ({staff.code}): {secret}\n"
            f"Mã dùng một lần, hết hạn sau 3 ngày. Nhân viên gõ: /lienket {staff.code} {secret}"
        )
    ]


# -- the completion form ------------------------------------------------------------
class CompletionFlow(Flow):
    """Course -> date -> certificate code -> VNeID -> evidence -> saved."""

    name = "ghinhan"

    def start(self, ctx: Context, args: str) -> list[Reply]:
        if not ctx.actor.is_linked:
            return link_prompt(ctx)
        ctx.flow, ctx.step, ctx.data = self.name, "course", {}
        courses = ctx.services.tracking.courses()
        buttons = [[Button(c.name, f"{self.name}:course:{c.id}")] for c in courses[:10]]
        buttons.append([Button("Hủy", f"{self.name}:cancel")])
        return [
            Reply(
                "Bước 1/5 — Bạn đã hoàn thành khóa học nào trên nền tảng “Bình dân học vụ số”? "
                "Chọn trong danh mục hoặc gõ tên khóa học. (Gõ /huy để dừng bất cứ lúc nào.)",
                buttons=buttons,
            )
        ]

    def handle(self, ctx: Context) -> list[Reply]:
        msg = ctx.msg
        payload = (msg.payload or "").partition(":")[2]
        if payload == "cancel" or (
            not payload and normalize_name(msg.text) in CANCEL_WORDS and msg.attachment is None
        ):
            ctx.finish()
            return [Reply("Đã hủy khai báo. Chưa có gì thay đổi.")]
        step = ctx.step
        if step == "course":
            return self._course(ctx, payload)
        if step == "date":
            return self._date(ctx, payload)
        if step == "cert":
            return self._cert(ctx, payload)
        if step == "vneid":
            return self._vneid(ctx, payload)
        if step == "evidence":
            return self._evidence(ctx, payload)
        ctx.finish()
        return [Reply("Biểu mẫu đã hết hạn. Gõ /ghinhan để bắt đầu lại.")]

    def _ask_date(self) -> Reply:
        return Reply(
            "Bước 2/5 — Bạn hoàn thành khóa học ngày nào? Nhập ngày/tháng/năm (ví dụ 05/03/2026).",
            buttons=[
                [
                    Button("Hôm nay", f"{self.name}:date:today"),
                    Button("Hôm qua", f"{self.name}:date:yesterday"),
                ]
            ],
        )

    def _course(self, ctx: Context, payload: str) -> list[Reply]:
        tracking = ctx.services.tracking
        if payload.startswith("course:"):
            course_id = int(payload.split(":", 1)[1])
            course = next(
                (c for c in tracking.courses(catalogue_only=False) if c.id == course_id), None
            )
            if course is None:
                raise UserError("Khóa học này không còn trong danh mục. Hãy chọn lại.")
        elif ctx.msg.text.strip():
            course = tracking.course_for_name(ctx.actor, ctx.msg.text)
        else:
            return [Reply("Hãy chọn một khóa học hoặc gõ tên khóa học.")]
        ctx.data.update(course_id=course.id, course_name=course.name)
        ctx.goto("date")
        return [Reply(f"Khóa học: {course.name}."), self._ask_date()]

    def _date(self, ctx: Context, payload: str) -> list[Reply]:
        today = _today(ctx)
        text = {"date:today": "hôm nay", "date:yesterday": "hôm qua"}.get(payload, ctx.msg.text)
        day = parse_day(text, today)
        ctx.data["completed_on"] = day.isoformat()
        ctx.goto("cert")
        return [
            Reply(
                f"Ngày hoàn thành: {vi_date(day)}.\nBước 3/5 — Mã số giấy chứng nhận (nếu có)? "
                "Gõ mã, hoặc chọn Bỏ qua.",
                buttons=[[Button("Bỏ qua", f"{self.name}:skip")]],
            )
        ]

    def _cert(self, ctx: Context, payload: str) -> list[Reply]:
        if payload != "skip":
            code = " ".join(ctx.msg.text.split())
            if not code:
                return [Reply("Hãy gõ mã chứng nhận, hoặc chọn Bỏ qua.")]
            if len(code) > 100:
                raise UserError("Mã chứng nhận quá dài (tối đa 100 ký tự).")
            ctx.data["certificate_code"] = code
        ctx.goto("vneid")
        return [
            Reply(
                "Bước 4/5 — Kết quả học đã được xác nhận trên ứng dụng VNeID chưa?",
                buttons=[
                    [
                        Button("Có", f"{self.name}:vneid:yes"),
                        Button("Chưa", f"{self.name}:vneid:no"),
                    ]
                ],
            )
        ]

    def _vneid(self, ctx: Context, payload: str) -> list[Reply]:
        answer = {"vneid:yes": True, "vneid:no": False}.get(payload)
        if answer is None:
            answer = yes_no(ctx.msg.text)
        if answer is None:
            return [Reply("Hãy trả lời “Có” hoặc “Chưa”.")]
        ctx.data["vneid"] = answer
        ctx.goto("evidence")
        limit = ctx.services.settings.max_upload_mb
        return [
            Reply(
                "Bước 5/5 — Gửi ảnh chụp hoặc tệp PDF giấy chứng nhận (không bắt buộc, tối đa "
                f"{limit} MB), hoặc chọn Bỏ qua để lưu.",
                buttons=[[Button("Bỏ qua và lưu", f"{self.name}:skip")]],
            )
        ]

    def _evidence(self, ctx: Context, payload: str) -> list[Reply]:
        evidence: str | None = None
        att = ctx.msg.attachment
        if att is not None:
            suffix = Path(att.filename).suffix.lower()
            if suffix not in EVIDENCE_SUFFIXES:
                return [
                    Reply(
                        "Chỉ nhận ảnh (JPG, PNG, WEBP, HEIC) hoặc tệp PDF. Hãy gửi lại, hoặc chọn Bỏ qua."
                    )
                ]
            if att.size > ctx.services.settings.max_upload_mb * 1024 * 1024:
                return [
                    Reply(
                        f"Tệp quá lớn (tối đa {ctx.services.settings.max_upload_mb} MB). Hãy gửi ảnh nhỏ hơn."
                    )
                ]
            folder = (
                ctx.services.settings.data_dir / "evidence" / (ctx.actor.staff_code or "unknown")
            )
            folder.mkdir(parents=True, exist_ok=True)
            target = folder / f"{uuid.uuid4().hex}{suffix}"
            shutil.copyfile(att.path, target)
            evidence = str(target.relative_to(ctx.services.settings.data_dir))
        elif payload != "skip":
            return [Reply("Hãy gửi ảnh/tệp PDF giấy chứng nhận, hoặc chọn Bỏ qua và lưu.")]
        return self._save(ctx, evidence)

    def _save(self, ctx: Context, evidence: str | None) -> list[Reply]:
        data = ctx.data
        assert ctx.actor.staff_id is not None
        row, created = ctx.services.tracking.log_completion(
            ctx.actor,
            ctx.actor.staff_id,
            CompletionInput(
                course_id=int(data["course_id"]),
                completed_on=date.fromisoformat(data["completed_on"]),
                certificate_code=data.get("certificate_code"),
                vneid_confirmed=bool(data.get("vneid")),
                evidence_path=evidence,
            ),
        )
        ctx.finish()
        head = (
            "✅ Đã ghi nhận"
            if created
            else "✅ Bạn đã khai báo khóa này trước đó; thông tin đã được cập nhật (không tính trùng)"
        )
        lines = [
            f"{head}:",
            f"• Khóa học: {row.course.name}",
            f"• Ngày hoàn thành: {vi_date(row.completed_on)}",
            f"• Mã chứng nhận: {row.certificate_code or '—'}",
            f"• Xác nhận VNeID: {'có' if row.vneid_confirmed else 'chưa'}",
            f"• Minh chứng: {'đã gửi' if row.evidence_path else 'không có'}",
            "Kết quả đang chờ người quản lý đơn vị duyệt. Gõ /tiendo để xem tiến độ.",
        ]
        if not row.vneid_confirmed:
            lines.append("Lưu ý: kế hoạch yêu cầu kết quả được xác nhận trên VNeID.")
        return [Reply("\n".join(lines))]


def _log(ctx: Context, args: str) -> list[Reply]:
    return COMPLETION_FORM.start(ctx, args)


# -- staff views ---------------------------------------------------------------------
def _progress(ctx: Context, _args: str) -> list[Reply]:
    if not ctx.actor.is_linked:
        return link_prompt(ctx)
    assert ctx.actor.staff_id is not None
    tracking = ctx.services.tracking
    rows = tracking.my_completions(ctx.actor.staff_id)
    target = tracking.target_for(_today(ctx))
    lines = [f"Tiến độ của {ctx.actor.name} ({ctx.actor.staff_code}):"]
    if not rows:
        lines.append("Bạn chưa khai báo khóa học nào. Gõ /ghinhan khi hoàn thành một khóa.")
    for row in rows:
        status = STATUS_VI.get(row.status, row.status)
        extra = f" — lý do: {row.reject_reason}" if row.reject_reason else ""
        vneid = "VNeID: có" if row.vneid_confirmed else "VNeID: chưa"
        lines.append(
            f"• {row.course.name} — {vi_date(row.completed_on)} — {vneid} — {status}{extra}"
        )
    counted = any(r.status != "rejected" for r in rows)
    if target is not None:
        state = "đã đạt" if counted else "chưa đạt"
        lines.append(
            f"Yêu cầu: hoàn thành ít nhất 01 khóa học, xác nhận trên VNeID, hạn "
            f"{vi_date(target.deadline)} — bạn {state}."
        )
    return [Reply("\n".join(lines))]


def _courses(ctx: Context, _args: str) -> list[Reply]:
    courses = ctx.services.tracking.courses()
    if not courses:
        return [Reply("Danh mục khóa học đang trống.")]
    lines = ["Danh mục khóa học (gõ /ghinhan để khai báo khi hoàn thành):"]
    lines += [f"• {c.name} ({c.code})" for c in courses]
    return [Reply("\n".join(lines))]


# -- manager views ---------------------------------------------------------------------
def _parse_stats_args(args: str) -> tuple[str | None, str]:
    words = args.split()
    by = "unit"
    if words and normalize_name(words[-1]) in {"nhom", "job", "chuc danh", "nghe"}:
        by = "job"
        words = words[:-1]
    return (" ".join(words) or None), by


def _stats_cmd(ctx: Context, args: str) -> list[Reply]:
    unit_ref, by = _parse_stats_args(args)
    stats = ctx.services.stats
    today = _today(ctx)
    total, rows = stats.overview(ctx.actor, unit_ref, by=by, as_of=today)
    lines = [
        f"📊 {total.label} — đến ngày {vi_date(today)}",
        f"Đã hoàn thành: {total.counts.done}/{total.counts.active} người ({total.pct_done:g}%)"
        + (f", chỉ tiêu {total.target_pct:g}%" if total.target_pct is not None else ""),
        f"Xác nhận VNeID: {total.pct_vneid:g}% · Đã duyệt: {total.pct_verified:g}%",
        total.pace_vi(),
        "",
        "Theo nhóm chức danh:" if by == "job" else "Theo đơn vị:",
    ]
    lines += [
        f"• {r.label}: {r.counts.done}/{r.counts.active} ({r.pct_done:g}%)" for r in rows[:25]
    ]
    if len(rows) > 25:
        lines.append(f"… và {len(rows) - 25} dòng khác (xem /baocao).")
    lines.append("Danh sách chưa hoàn thành: /chuahoanthanh · Báo cáo Excel: /baocao")
    replies = [Reply("\n".join(lines))]
    if rows:
        chart = build_chart(rows, f"{total.label} — đến {vi_date(today)}")
        replies.append(Reply(photo=OutFile("thong-ke.png", chart, "image/png")))
    return replies


def _missing_cmd(ctx: Context, args: str) -> list[Reply]:
    unit_ref = args.strip() or None
    people, total = ctx.services.stats.missing(
        ctx.actor, unit_ref, as_of=_today(ctx), limit=MISSING_SHOWN
    )
    if not total:
        return [
            Reply("Tất cả nhân viên đang làm việc đã khai báo hoàn thành ít nhất một khóa học. 🎉")
        ]
    lines = [f"Chưa hoàn thành: {total} người."]
    current = None
    for staff, unit in people:
        if unit.name != current:
            current = unit.name
            lines.append(f"{unit.name}:")
        group = JOB_GROUPS.get(staff.job_group, "")
        lines.append(f"  • {staff.full_name} ({staff.code}) — {staff.title or group}")
    if total > len(people):
        lines.append(f"… và {total - len(people)} người khác: xem đủ trong /baocao.")
    return [Reply("\n".join(lines))]


def _report_cmd(ctx: Context, args: str) -> list[Reply]:
    unit_ref = args.strip() or None
    today = _today(ctx)
    data = build_xlsx(ctx.services.stats, ctx.actor, unit_ref, as_of=today)
    name = f"bao-cao-hoan-thanh-{today.isoformat()}.xlsx"
    return [
        Reply(
            "Báo cáo gồm 3 trang: Tổng hợp, Chưa hoàn thành, Đã khai báo.",
            document=OutFile(
                name, data, "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
            ),
        )
    ]


def _pending_cmd(ctx: Context, _args: str) -> list[Reply]:
    rows, total = ctx.services.tracking.pending(ctx.actor, limit=5)
    if not total:
        return [Reply("Không có khai báo nào đang chờ duyệt.")]
    replies = [
        Reply(f"Có {total} khai báo chờ duyệt" + (", 5 khai báo đầu tiên:" if total > 5 else ":"))
    ]
    for row in rows:
        text = (
            f"#{row.id} {row.staff.full_name} ({row.staff.code}) — {row.course.name}\n"
            f"Hoàn thành {vi_date(row.completed_on)} · mã CN: {row.certificate_code or '—'} · "
            f"VNeID: {'có' if row.vneid_confirmed else 'chưa'} · "
            f"minh chứng: {'có' if row.evidence_path else 'không'}"
        )
        replies.append(
            Reply(
                text,
                buttons=[
                    [
                        Button(f"✅ Duyệt #{row.id}", f"vr:ok:{row.id}"),
                        Button(f"❌ Từ chối #{row.id}", f"vr:no:{row.id}"),
                    ]
                ],
            )
        )
    return replies


class RejectFlow(Flow):
    """Asks the reason for a rejection, which the staff member is told."""

    name = "tuchoi"

    def start(self, ctx: Context, args: str) -> list[Reply]:
        ctx.flow, ctx.step, ctx.data = self.name, "reason", {"id": int(args)}
        return [
            Reply(
                f"Lý do từ chối khai báo #{args}? (nhân viên sẽ nhận được lý do này; /huy để dừng)"
            )
        ]

    def handle(self, ctx: Context) -> list[Reply]:
        reason = ctx.msg.text.strip()
        if not reason:
            return [Reply("Hãy gõ lý do từ chối.")]
        row = ctx.services.tracking.reject(ctx.actor, int(ctx.data["id"]), reason)
        ctx.finish()
        return [
            Reply(
                f"Đã từ chối khai báo #{row.id} của {row.staff.full_name}. Nhân viên sẽ được báo lý do."
            )
        ]


def _verdict(ctx: Context, rest: str) -> list[Reply]:
    if not ctx.actor.is_manager:
        raise PermissionDenied()
    action, _, ident = rest.partition(":")
    if not ident.isdigit():
        raise UserError("Lựa chọn không hợp lệ.")
    if action == "ok":
        row = ctx.services.tracking.verify(ctx.actor, int(ident))
        return [
            Reply(f"Đã duyệt khai báo #{row.id} của {row.staff.full_name} ({row.course.name}).")
        ]
    if action == "no":
        tracking = ctx.services.tracking
        with tracking.db.session() as session:
            tracking._completion_for(session, ctx.actor, int(ident))  # permission check first
        return REJECT_FORM.start(ctx, ident)
    raise UserError("Lựa chọn không hợp lệ.")


# -- admin uploads -------------------------------------------------------------------
def _roster_upload(ctx: Context) -> list[Reply] | None:
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
    return [Reply(f"Tệp “{att.filename}” ({kind}):\n{report.summary_vi()}")]


COMPLETION_FORM = CompletionFlow()
REJECT_FORM = RejectFlow()


def _link_hint(ctx: Context) -> list[Reply] | None:
    """The greeting tells people who are not linked yet how to link."""
    return None if ctx.actor.is_linked else link_prompt(ctx)


def register(registry: Registry, services: Services) -> None:
    """Tracking's part of the chat: identity, forms, commands, files, reminders."""
    registry.provide_identity(services.tracking)
    registry.add_notifications(
        TrackingNotifications(services.tracking, services.stats, services.settings)
    )
    registry.on_start(_link_hint)
    registry.add_flow(COMPLETION_FORM)
    registry.add_flow(REJECT_FORM)
    staff = frozenset({STAFF})
    for command in (
        Command(
            "ghinhan",
            "Khai báo khóa học đã hoàn thành",
            _log,
            aliases=("log", "hoanthanh"),
            phrases=("ghi nhận hoàn thành", "khai báo hoàn thành", "ghi nhận khóa học"),
            roles=staff,
        ),
        Command(
            "tiendo",
            "Tiến độ của tôi",
            _progress,
            aliases=("progress",),
            phrases=("tiến độ của tôi", "tiến độ"),
            roles=staff,
        ),
        Command(
            "khoahoc",
            "Danh mục khóa học",
            _courses,
            aliases=("courses",),
            phrases=("danh mục khóa học",),
        ),
        Command(
            "lienket",
            "Liên kết tài khoản: /lienket <mã NV> <mã liên kết>",
            _link,
            aliases=("link",),
        ),
        Command(
            "taomalienket",
            "Cấp mã liên kết cho nhân viên (quản lý)",
            _issue_code,
            aliases=("linkcode",),
            roles=MANAGERS,
        ),
        Command(
            "thongke",
            "Thống kê đơn vị, kèm biểu đồ (quản lý)",
            _stats_cmd,
            aliases=("stats",),
            phrases=("thống kê",),
            roles=MANAGERS,
        ),
        Command(
            "chuahoanthanh",
            "Danh sách chưa hoàn thành (quản lý)",
            _missing_cmd,
            aliases=("missing",),
            phrases=("chưa hoàn thành", "ai chưa hoàn thành"),
            roles=MANAGERS,
        ),
        Command(
            "baocao",
            "Báo cáo Excel (quản lý)",
            _report_cmd,
            aliases=("report",),
            phrases=("báo cáo excel",),
            roles=MANAGERS,
        ),
        Command(
            "duyet",
            "Duyệt khai báo hoàn thành (quản lý)",
            _pending_cmd,
            aliases=("verify",),
            phrases=("duyệt",),
            roles=MANAGERS,
        ),
    ):
        registry.add_command(command)
    registry.on_payload("vr", _verdict)
    registry.on_contact(_on_contact)
    registry.accept_uploads(
        UploadKind("roster", "danh sách nhân viên/đơn vị", TABLE_SUFFIXES, _roster_upload)
    )
    registry.accept_uploads(UploadKind("certificate", "giấy chứng nhận", EVIDENCE_SUFFIXES))
